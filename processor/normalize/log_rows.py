"""Log records as rows of `otel_logs`, the OpenTelemetry Collector ClickHouse exporter's table.

Values are the ones the exporter writes: the record's time (its observed time when it
has none), ids in lowercase hex ("" when absent), the body and attributes as text (see
`values.py`), the trace flags' low byte, and the record's event name (`EventName`), which
is how GenAI events sent as logs (`gen_ai.client.inference.operation.details`, …) are
told apart. Their TraceId and SpanId are those of the LLM call's span.
"""
from __future__ import annotations

from .conventions import SERVICE_NAME_KEY
from .signal_rows import Converted, ids_problem, stamp_binding, time_problem
from .trace_rows import id_hex
from .values import any_value_text, attributes_text

OTEL_LOGS_TABLE = "otel_logs"
OTEL_LOGS_COLUMNS: tuple[str, ...] = (
    "Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber", "ServiceName", "Body",
    "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes",
    "LogAttributes", "EventName",
)  # fmt: skip


def log_rows(request, *, now_ns: int, principal=None) -> Converted:
    """Convert an `ExportLogsServiceRequest` (sent by `principal`, when auth is on)."""
    result = Converted()
    for r, resource_logs in enumerate(request.resource_logs):
        resource_attributes = stamp_binding(attributes_text(resource_logs.resource.attributes), principal,
                                            resource=True)
        service_name = resource_attributes.get(SERVICE_NAME_KEY, "")
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            scope = scope_logs.scope
            scope_attributes = attributes_text(scope.attributes)
            for i, record in enumerate(scope_logs.log_records):
                timestamp = record.time_unix_nano or record.observed_time_unix_nano
                problem = time_problem(timestamp, now_ns) or ids_problem(record.trace_id, record.span_id)
                if problem:
                    result.reject(f"log record {i} of resourceLogs[{r}].scopeLogs[{s}]", problem)
                    continue
                result.add(OTEL_LOGS_TABLE, [
                    timestamp, id_hex(record.trace_id), id_hex(record.span_id), record.flags & 0xFF,
                    record.severity_text, record.severity_number & 0xFF, service_name,
                    any_value_text(record.body) if record.HasField("body") else "",
                    resource_logs.schema_url, resource_attributes, scope_logs.schema_url, scope.name, scope.version,
                    scope_attributes, stamp_binding(attributes_text(record.attributes), principal, resource=False),
                    record.event_name,
                ])  # fmt: skip
    return result
