"""The processor's own metrics, served on /metrics in the Prometheus text format.

Each service instance has its own registry, so tests can run several in one process.
"""
from __future__ import annotations

import math
import time
from decimal import Decimal

import anyio
import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
        self.requests_duplicate = Counter("llmledger_otlp_requests_duplicate",
                                          "Metrics and logs requests answered without storing them again: "
                                          "the same request was accepted moments before (client retries)",
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
        self.twin_spans = Counter("llmledger_twin_spans",
                                  "Spans recognised as another span of an LLM call already counted", registry=r)
        self.twin_replacements = Counter("llmledger_twin_replacements",
                                         "Stored LLM calls replaced by a later span of the same call with fuller usage",
                                         registry=r)
        # source: the tool ("openlit", "litellm", "pydantic-ai", "openinference", or the attribute name)
        self.reported_cost_disagreements = Counter(
            "llmledger_reported_cost_disagreements",
            "LLM calls whose cost another tool estimated differs from llmledger's beyond rounding", ["source"],
            registry=r)
        self.label_values = LabelValues()
        self.costs = CostMetrics(r, self.label_values)
        self.savings = SavingsMetrics(r)
        self._unpriced_series: set[tuple[str, str]] = set()
        self.budget_spend = Gauge("llm_budget_spend_usd", "Spend in the budget's current window", ["budget"],
                                  registry=r)
        self.budget_limit = Gauge("llm_budget_limit_usd", "The budget's limit", ["budget"], registry=r)
        self.budget_percent = Gauge("llm_budget_used_percent", "Spend as a percentage of the limit", ["budget"],
                                    registry=r)


    def count_unpriced(self, provider: str, model: str) -> None:
        key = (self.label_values.fold("provider", provider), self.label_values.fold("model", model))
        if key not in self._unpriced_series:
            if len(self._unpriced_series) >= CostMetrics.MAX_SERIES:
                key = (OTHER, OTHER)
            self._unpriced_series.add(key)
        self.llm_calls_unpriced.labels(*key).inc()


OTHER = "other"


class LabelValues:
    """Label values come from the spans, so a sender decides how many there are: each label
    keeps the first `LIMITS[label]` values it meets and counts the rest as "other", so that
    100,000 made-up app names cost one series, not 100,000."""

    LIMITS = {"app": 200, "environment": 20, "provider": 50, "model": 500}

    def __init__(self, limits: dict[str, int] | None = None):
        self._limits = limits or self.LIMITS
        self._kept: dict[str, set[str]] = {label: set() for label in self._limits}

    def fold(self, label: str, value: str) -> str:
        kept = self._kept[label]
        if value in kept:
            return value
        if len(kept) >= self._limits[label]:
            return OTHER
        kept.add(value)
        return value


class CostMetrics:
    """What the LLM calls cost, for Prometheus: by app, environment, provider and model.

    No user label: users are unbounded. The others are bounded one by one (LabelValues),
    and their combinations by MAX_SERIES, past which a call counts under "other" for all."""

    MAX_SERIES = 2000

    def __init__(self, registry: CollectorRegistry, label_values: LabelValues | None = None):
        self._values = label_values or LabelValues()
        labels = ["app", "environment", "provider", "model"]
        self.cost = Counter("llm_cost_usd", "Cost of LLM calls in USD (exact figures are in ClickHouse)", labels,
                            registry=registry)
        self.tokens = Counter("llm_tokens", "Tokens of LLM calls by type", labels + ["type"], registry=registry)
        self.requests = Counter("llm_requests", "LLM calls", labels, registry=registry)
        # label set -> its children, so that a call costs dictionary lookups, not label parsing
        self._series: dict[tuple[str, str, str, str], tuple] = {}

    _TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")

    def _children(self, call) -> tuple:
        fold = self._values.fold
        key = (fold("app", call.app), fold("environment", call.environment), fold("provider", call.provider),
               fold("model", call.model))
        children = self._series.get(key)
        if children is None:
            if len(self._series) >= self.MAX_SERIES:
                key = (OTHER,) * 4
                children = self._series.get(key)
            if children is None:
                children = (self.requests.labels(*key), self.cost.labels(*key),
                            tuple(self.tokens.labels(*key, kind) for kind in self._TOKEN_TYPES))
                self._series[key] = children
        return children

    def observe(self, calls) -> None:
        # Summed per series first: one counter update per series and request, not per call.
        sums: dict[int, list] = {}
        for call in calls:
            children = self._children(call)
            total = sums.get(id(children))
            if total is None:
                total = sums[id(children)] = [children, 0, Decimal(0), 0, 0, 0, 0, 0]
            total[1] += 1
            if call.cost is not None:
                total[2] += call.cost
            total[3] += call.input_tokens
            total[4] += call.output_tokens
            total[5] += call.cache_read_tokens
            total[6] += call.cache_write_tokens
            total[7] += call.reasoning_tokens
        for (requests, cost, tokens), count, spent, *token_counts in sums.values():
            requests.inc(count)
            if spent:
                cost.inc(float(spent))
            for counter, tokens_of_type in zip(tokens, token_counts):
                if tokens_of_type:
                    counter.inc(tokens_of_type)


class MetricsPage:
    """The /metrics text, rendered on a worker thread and kept for a moment: a scrape never
    holds up the event loop (health checks, budget checks), and scrapes close together
    share one rendering."""

    CONTENT_TYPE = CONTENT_TYPE_LATEST
    MAX_AGE_S = 1.0

    def __init__(self, registry: CollectorRegistry):
        self._registry = registry
        self._text = b""
        self._rendered_at = -math.inf
        self._lock: anyio.Lock | None = None

    async def text(self) -> bytes:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if time.monotonic() - self._rendered_at > self.MAX_AGE_S:
                self._text = await anyio.to_thread.run_sync(generate_latest, self._registry)
                self._rendered_at = time.monotonic()
            return self._text


class SavingsMetrics:
    """What caching, routing and provider prompt caching saved, by strategy.

    Counters only go up: a saving below zero (a fallback to a dearer model, cache-write
    premiums above the reads) is counted in `llm_cost_saved_negative_usd` instead, so that
    saved minus negative is the net figure."""

    def __init__(self, registry: CollectorRegistry):
        self.saved = Counter("llm_cost_saved_usd", "Cost avoided by caching and routing, in USD", ["strategy"],
                             registry=registry)
        self.negative = Counter("llm_cost_saved_negative_usd", "Extra cost of routes dearer than asked, in USD",
                                ["strategy"], registry=registry)

    def observe(self, calls) -> None:
        saved: dict[tuple[str, bool], Decimal] = {}  # (strategy, above zero) -> sum, counted once a request
        for call in calls:
            if call.saving_strategy and call.saved_cost:
                key = (call.saving_strategy, call.saved_cost > 0)
                saved[key] = saved.get(key, 0) + call.saved_cost
            if call.prompt_cache_saved:
                key = ("prompt_cache", call.prompt_cache_saved > 0)
                saved[key] = saved.get(key, 0) + call.prompt_cache_saved
        for (strategy, positive), amount in saved.items():
            if positive:
                self.saved.labels(strategy).inc(float(amount))
            else:
                self.negative.labels(strategy).inc(float(-amount))
