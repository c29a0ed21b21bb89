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
                                       "Spans dropped because they were already accepted (client retries)",
                                       registry=r)
        self.spans_stored = Counter("llmledger_spans_stored", "Spans written to otel_traces", registry=r)
        self.llm_calls_stored = Counter("llmledger_llm_calls_stored", "LLM calls written to llm_spans", registry=r)
        self.llm_calls_unpriced = Counter("llmledger_llm_calls_unpriced", "LLM calls with no price found",
                                          ["provider", "model"], registry=r)
        self.requests_refused = Counter("llmledger_requests_refused", "Requests answered 503 (backpressure)",
                                        ["reason"], registry=r)
        self.log_bytes = Gauge("llmledger_wal_bytes", "Bytes on disk in the write-ahead log", registry=r)
        self.log_lag = Gauge("llmledger_wal_lag_records", "Log records acknowledged but not yet stored", registry=r)
        self.insert_seconds = Histogram("llmledger_insert_seconds", "Time of one batch insert into ClickHouse",
                                        registry=r)
        self.insert_retries = Counter("llmledger_insert_retries", "Failed inserts that will be retried", registry=r)
        self.dead_letters = Counter("llmledger_dead_letters", "Log records the store rejected for good", registry=r)
