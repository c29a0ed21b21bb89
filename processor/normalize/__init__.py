"""Normalize: OTLP spans in any LLM convention -> `otel_traces` rows and `LlmCall` records.

    result = normalize_request(request, now_ns=time.time_ns(), wrappers=shared_filter)
    result.trace_rows   # rows in OTEL_TRACES_COLUMNS order
    result.calls        # LlmCall per LLM call; result.call_rows[i] is its row's index
"""
from .request import Normalized, normalize_request, read_request
from .trace_rows import OTEL_TRACES_COLUMNS, SPAN_ATTRIBUTES_INDEX
from .wrappers import WrapperFilter

__all__ = ["Normalized", "normalize_request", "read_request", "OTEL_TRACES_COLUMNS", "SPAN_ATTRIBUTES_INDEX", "WrapperFilter"]
