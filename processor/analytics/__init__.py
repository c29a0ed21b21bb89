"""Attribution and anomaly detection over the stored costs.

Every function takes a runner, `run(sql, parameters) -> (columns, rows)`: use
`runner_for_client(client)` on a clickhouse-connect client, or the CLI's
`llmledger.processor.cli.query.open_runner(config)`. Both give the same results: money
as Decimal, times as aware UTC datetimes (calendar buckets as dates). Time ranges are
[start, end); a date means its midnight UTC, a datetime without a zone is UTC.

The SQL lives in the views of migration 004 and in `sql/*.sql`; values reach it only as
query parameters, and dimension names only from a fixed list (see `dimensions.NAMES`).
"""
from .anomalies import KINDS as ANOMALY_KINDS
from .anomalies import find_anomalies
from .anomaly_settings import AnomalySettings, NewArrivalSettings, RequestOutlierSettings, SpikeSettings
from .breakdown import cost_by, top_spenders
from .dimensions import NAMES as DIMENSIONS
from .records import Anomaly, CostRow, CostSummary, Spend, TraceCall, TraceCost, TrendPoint
from .runner import Runner, runner_for_client
from .summary import summary
from .traces import trace_cost
from .trend import GRANULARITIES, cost_trend

__all__ = [
    "ANOMALY_KINDS", "DIMENSIONS", "GRANULARITIES",
    "Anomaly", "AnomalySettings", "CostRow", "CostSummary", "NewArrivalSettings", "RequestOutlierSettings",
    "Runner", "Spend", "SpikeSettings", "TraceCall", "TraceCost", "TrendPoint",
    "cost_by", "cost_trend", "find_anomalies", "runner_for_client", "summary", "top_spenders", "trace_cost",
]
