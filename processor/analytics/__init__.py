"""The one read API over the stored costs: the CLI, the built-in pages and the reports
read through these functions, none writes SQL of its own.

Every function takes a runner, `run(sql, parameters) -> (columns, rows)`: use
`runner_for_client(client)` on a clickhouse-connect client, or the CLI's
`llmledger.processor.cli.query.open_runner(config)`. Both give the same results: money
as Decimal, times as aware UTC datetimes (calendar buckets as dates). Time ranges are
[start, end); a date means its midnight UTC, a datetime without a zone is UTC.

What there is:
- totals: `summary` (with averages and cache savings), `total_spend`, `period_spend`
  (today / this week / this month against the period before);
- breakdowns: `cost_by`, `top_spenders` (`top_spenders_of` several dimensions at once),
  `top_with_share` (or `with_share` of rows at hand), `cost_matrix` (one dimension by
  another), `unpriced_models`; filters on every dimension (see `dimensions.NAMES`);
- over time: `cost_trend`, `stacked_trend` (top values of a dimension + "(other)", aligned);
- single calls: `most_expensive_calls`, `trace_cost`, `trace_tree` (the span tree with each
  LLM span's call);
- budgets: `budget_details` (burn-down, thresholds crossed, alerts and deliveries, throttle)
  around the budget service's live `BudgetStatus`; `budgets_in_force` and `budget_use` (a
  past range: spend, month to date, the window at its end with projection, refused calls);
- change: `movers` (the values of a dimension whose spend grew or fell most);
- usage (in `usage`): `cache_opportunity` (cacheable prompts that read no cache),
  `unreported_usage`, `refused_calls`;
- anomalies: `find_anomalies`, `spike_chart` (a spike's series with its baseline);
- prices: `price_in_force`, `price_history`, `estimate_cost` (in `prices`);
- cutting the bill: `savings_by` (what caching, routing and prompt caching saved, by
  strategy, app, model, feature, ...), `whatif` (one model's logged tokens re-priced on
  another), `measured_volume` + `compare_tco` (API prices against self-hosting).
- the outbox: `message_claim` (who claimed an alert or a scheduled report);
- prices: `price_in_force`, `price_history`, `estimate_cost` (in `prices`).

Ranges on whole hours read the hourly rollups, and breakdowns by user over whole UTC
days the daily one (see `sources`); tags and partial hours read the calls. The SQL lives
in the views of the migrations and in `sql/*.sql`; values reach it only as query
parameters, and dimension names only from a fixed list.
Format what these return for people with `llmledger.processor.format`.
"""
from .anomalies import KINDS as ANOMALY_KINDS
from .anomalies import find_anomalies, spike_chart
from .anomaly_settings import AnomalySettings, NewArrivalSettings, RequestOutlierSettings, SpikeSettings
from .breakdown import (cost_by, cost_matrix, top_spenders, top_spenders_of, top_with_share, total_spend,
                        unpriced_models, with_share)
from .budgets import budget_details, budget_use, budgets_in_force, burn_down, throttle_state
from .calls import most_expensive_calls, trace_tree
from .dimensions import NAMES as DIMENSIONS
from .movers import Mover, Movers, movers
from .outbox import message_claim
from .periods import PERIODS, period_spend
from .prices import CostEstimate, PricePeriod, estimate_cost, price_history, price_in_force
from .records import (OTHER, AlertRecord, Anomaly, BudgetDetail, BudgetUse, BurnPoint, CostMatrix, CostRow,
                      CostSummary, LlmCallRow, MatrixCell, PeriodSpend, ShareRow, SpikeChart, Spend, StackedTrend,
                      TopSpenders, TraceCall, TraceCost, TraceSpan, TraceTree, TrendPoint, TrendSeries, UnpricedModel)
from .runner import Runner, runner_for_client
from .savings import SAVINGS_DIMENSIONS, SavingsRow, savings_by
from .tco import MeasuredVolume, SelfHosting, TcoComparison, measured_volume
from .tco import compare as compare_tco
from .summary import summary
from .traces import trace_cost
from .trend import GRANULARITIES, cost_trend, stacked_trend
from .usage import CacheOpportunity, UnreportedUsage, cache_opportunity, refused_calls, unreported_usage
from .whatif import WhatIf, whatif

__all__ = [
    "ANOMALY_KINDS", "DIMENSIONS", "GRANULARITIES", "OTHER", "PERIODS", "SAVINGS_DIMENSIONS",
    "AlertRecord", "Anomaly", "AnomalySettings", "BudgetDetail", "BudgetUse", "BurnPoint", "CacheOpportunity",
    "CostEstimate", "CostMatrix", "CostRow", "CostSummary", "LlmCallRow", "MatrixCell", "MeasuredVolume", "Mover",
    "Movers", "NewArrivalSettings", "PeriodSpend", "PricePeriod", "RequestOutlierSettings", "Runner", "SavingsRow",
    "SelfHosting", "ShareRow", "Spend", "SpikeChart", "SpikeSettings", "StackedTrend", "TcoComparison",
    "TopSpenders", "TraceCall", "TraceCost", "TraceSpan", "TraceTree", "TrendPoint", "TrendSeries",
    "UnpricedModel", "UnreportedUsage", "WhatIf",
    "budget_details", "budget_use", "budgets_in_force", "burn_down", "cache_opportunity", "compare_tco", "cost_by",
    "cost_matrix", "cost_trend", "estimate_cost", "find_anomalies", "measured_volume", "message_claim",
    "most_expensive_calls", "movers", "period_spend", "price_history", "price_in_force", "refused_calls",
    "runner_for_client", "savings_by", "spike_chart", "stacked_trend", "summary", "throttle_state", "top_spenders",
    "top_spenders_of",
    "top_with_share", "total_spend", "trace_cost", "trace_tree", "unpriced_models", "unreported_usage", "whatif",
    "with_share",
]
