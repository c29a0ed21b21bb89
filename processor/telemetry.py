"""The processor's own metrics, served on /metrics in the Prometheus text format.

Each service instance has its own registry, so tests can run several in one process.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ProcessorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.spans_received = Counter("llmledger_spans_received", "Spans received by the OTLP receivers", registry=r)
        self.spans_rejected = Counter("llmledger_spans_rejected", "Spans rejected as invalid (partial success)",
                                      registry=r)
        self.spans_duplicate = Counter("llmledger_spans_duplicate",
                                       "Spans dropped because they were already accepted or being accepted "
                                       "(client retries)",
                                       registry=r)
        self.spans_stored = Counter("llmledger_spans_stored", "Spans written to otel_traces", registry=r)
        self.llm_calls_stored = Counter("llmledger_llm_calls_stored", "LLM calls written to llm_spans", registry=r)
        self.items_received = Counter("llmledger_otlp_items_received",
                                      "Metric data points and log records received", ["signal"], registry=r)
        self.items_rejected = Counter("llmledger_otlp_items_rejected",
                                      "Metric data points and log records rejected as invalid (partial success)",
                                      ["signal"], registry=r)
        self.rows_stored = Counter("llmledger_rows_stored", "Rows written to ClickHouse, by table", ["table"],
                                   registry=r)
        self.llm_calls_unpriced = Counter("llmledger_llm_calls_unpriced", "LLM calls with no price found",
                                          ["provider", "model"], registry=r)
        self.requests_refused = Counter("llmledger_requests_refused", "Requests answered 503 (backpressure)",
                                        ["reason"], registry=r)
        self.log_bytes = Gauge("llmledger_wal_bytes", "Bytes on disk in the write-ahead log", registry=r)
        self.log_lag = Gauge("llmledger_wal_lag_records", "Log records acknowledged but not yet stored", registry=r)
        self.insert_seconds = Histogram("llmledger_insert_seconds", "Time of one batch insert into ClickHouse",
                                        registry=r)
        self.insert_retries = Counter("llmledger_insert_retries",
                                      "Failed attempts to store (or to record progress) that will be retried",
                                      registry=r)
        self.dead_letters = Counter("llmledger_dead_letters", "Log records the store rejected for good", registry=r)
        self.drain_stalled = Gauge("llmledger_drain_stalled",
                                   "1 while the log drain cannot make progress (store down, disk full), else 0",
                                   registry=r)
        self.drain_crashes = Counter("llmledger_drain_crashes",
                                     "Unexpected failures of the log drain (each one logged; it starts over)",
                                     registry=r)
        self.costs = CostMetrics(r)
        self._unpriced_series: set[tuple[str, str]] = set()
        self.budget_spend = Gauge("llm_budget_spend_usd", "Spend in the budget's current window", ["budget"],
                                  registry=r)
        self.budget_limit = Gauge("llm_budget_limit_usd", "The budget's limit", ["budget"], registry=r)
        self.budget_percent = Gauge("llm_budget_used_percent", "Spend as a percentage of the limit", ["budget"],
                                    registry=r)


    def count_unpriced(self, provider: str, model: str) -> None:
        """Models come from the spans: past a bound, new names are counted as "other"."""
        key = (provider, model)
        if key not in self._unpriced_series:
            if len(self._unpriced_series) >= CostMetrics.MAX_SERIES:
                key = (provider, "other")
            self._unpriced_series.add(key)
        self.llm_calls_unpriced.labels(*key).inc()


class CostMetrics:
    """What the LLM calls cost, for Prometheus: by app, environment, provider and model.

    No user label: users are unbounded. Models come from the spans, so a flood of made-up
    names is folded into "other" past a bound on label sets."""

    MAX_SERIES = 2000

    def __init__(self, registry: CollectorRegistry):
        labels = ["app", "environment", "provider", "model"]
        self.cost = Counter("llm_cost_usd", "Cost of LLM calls in USD (exact figures are in ClickHouse)", labels,
                            registry=registry)
        self.tokens = Counter("llm_tokens", "Tokens of LLM calls by type", labels + ["type"], registry=registry)
        self.requests = Counter("llm_requests", "LLM calls", labels, registry=registry)
        # label set -> its children, so that a call costs dictionary lookups, not label parsing
        self._series: dict[tuple[str, str, str, str], tuple] = {}

    _TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")

    def _children(self, key: tuple[str, str, str, str]) -> tuple:
        children = self._series.get(key)
        if children is None:
            if len(self._series) >= self.MAX_SERIES:
                key = (*key[:3], "other")
                children = self._series.get(key)
            if children is None:
                children = (self.requests.labels(*key), self.cost.labels(*key),
                            tuple(self.tokens.labels(*key, kind) for kind in self._TOKEN_TYPES))
                self._series[key] = children
        return children

    def observe(self, calls) -> None:
        for call in calls:
            requests, cost, tokens = self._children((call.app, call.environment, call.provider, call.model))
            requests.inc()
            if call.cost is not None:
                cost.inc(float(call.cost))
            for counter, count in zip(tokens, (call.input_tokens, call.output_tokens, call.cache_read_tokens,
                                               call.cache_write_tokens, call.reasoning_tokens)):
                if count:
                    counter.inc(count)
