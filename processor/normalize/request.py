"""One pass over an OTLP export request: trace rows for every valid span, an
`LlmCall` for every LLM call among them."""
from __future__ import annotations

from dataclasses import dataclass, field

from llmledger.processor.record import LlmCall

from .attribution import Attribution, resource_attribution
from .conventions import DUPLICATE_OF_KEY, DUPLICATE_OF_TRACE_KEY, SERVICE_NAME_KEY
from .llm_call import is_llm_call, read_llm_call
from .trace_rows import OTEL_TRACES_COLUMNS, SPAN_ATTRIBUTES_INDEX, STATUS_CODE_NAMES, trace_row
from .usage import InvalidSpan
from .validation import span_problem
from .values import attributes_text
from .vercel_ai import OPERATION_ID_KEY, call_attributes
from .wrappers import WrapperFilter

# Enough reasons for an OTLP partial_success message; the count says the rest.
MAX_ERRORS = 10
SPAN_NAME_INDEX = OTEL_TRACES_COLUMNS.index("SpanName")
SPAN_ID_INDEX = OTEL_TRACES_COLUMNS.index("SpanId")
_STATUS_ERROR = 2


def _exception_type(span) -> str:
    """The type of the last exception a span recorded as an event ("" when none)."""
    for event in reversed(span.events):
        if event.name == "exception":
            for kv in event.attributes:
                if kv.key == "exception.type":
                    return kv.value.string_value
    return ""


@dataclass(slots=True)
class Normalized:
    """What became of one export request."""

    trace_rows: list[list] = field(default_factory=list)  # OTEL_TRACES_COLUMNS order, one per accepted span
    span_keys: list[bytes] = field(default_factory=list)  # each row's raw trace id + span id
    calls: list[LlmCall] = field(default_factory=list)  # one per LLM call among them
    call_rows: list[int] = field(default_factory=list)  # index into trace_rows of each call's span
    rejected: int = 0  # spans rejected as invalid, stored nowhere
    errors: list[str] = field(default_factory=list)  # the first few reasons

    def reject(self, span, problem: str) -> None:
        self._note_rejection(span.name, span.span_id.hex(), problem)

    def reject_rows(self, problems: dict[int, str]) -> None:
        """Reject the spans of these rows (index -> why) after the fact: drop them and their calls."""
        for index, problem in problems.items():
            row = self.trace_rows[index]
            self._note_rejection(row[SPAN_NAME_INDEX], row[SPAN_ID_INDEX], problem)
        self.keep_rows([index not in problems for index in range(len(self.trace_rows))])

    def keep_rows(self, keep: list[bool]) -> None:
        """Keep only the rows marked True (and their calls)."""
        new_index = {}
        kept_rows = []
        for old, (row, wanted) in enumerate(zip(self.trace_rows, keep)):
            if wanted:
                new_index[old] = len(kept_rows)
                kept_rows.append(row)
        kept = [(call, new_index[i]) for call, i in zip(self.calls, self.call_rows) if i in new_index]
        self.trace_rows = kept_rows
        self.span_keys = [key for key, wanted in zip(self.span_keys, keep) if wanted]
        self.calls = [call for call, _ in kept]
        self.call_rows = [i for _, i in kept]

    def _note_rejection(self, name: str, span_id_hex: str, problem: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"span {name!r} ({span_id_hex or 'no id'}): {problem}")


def normalize_request(request, *, now_ns: int, wrappers: WrapperFilter | None = None) -> Normalized:
    """Convert an `ExportTraceServiceRequest`.

    `now_ns` bounds how far in the future a span may start. `wrappers` remembers LLM
    calls across requests so a wrapper span whose child came earlier is not counted
    again; without it wrappers are still recognised within this request.
    """
    result = read_request(request, now_ns=now_ns)
    if result.calls:
        memory = wrappers if wrappers is not None else WrapperFilter(max_entries=2 * len(result.calls))
        calls, call_rows = [], []
        for call, row_index, child in zip(result.calls, result.call_rows, memory.mark_wrappers(result.calls)):
            if child:
                attributes = result.trace_rows[row_index][SPAN_ATTRIBUTES_INDEX]
                attributes[DUPLICATE_OF_KEY] = child
                attributes[DUPLICATE_OF_TRACE_KEY] = call.trace_id
            else:
                calls.append(call)
                call_rows.append(row_index)
        result.calls, result.call_rows = calls, call_rows
    return result


def read_request(request, *, now_ns: int) -> Normalized:
    """Convert an `ExportTraceServiceRequest`, every LLM span a call: telling wrapper spans from
    the calls they wrap is left to the caller (`WrapperFilter`)."""
    result = Normalized()
    rows = result.trace_rows
    keys = result.span_keys
    calls = result.calls
    call_rows = result.call_rows
    for resource_spans in request.resource_spans:
        resource_attributes = attributes_text(resource_spans.resource.attributes)
        service_name = resource_attributes.get(SERVICE_NAME_KEY, "")
        defaults: Attribution | None = None  # built on the resource's first LLM call
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name = scope.name
            scope_version = scope.version
            for span in scope_spans.spans:
                problem = span_problem(span, now_ns)
                if problem:
                    result.reject(span, problem)
                    continue
                # Each field read once: a protobuf field access costs, and bytes are copied.
                raw_trace_id = span.trace_id
                raw_span_id = span.span_id
                parent = span.parent_span_id
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                status = span.status
                status_code = status.code
                trace_id = raw_trace_id.hex()
                span_id = raw_span_id.hex()
                parent_span_id = "" if parent.count(0) == len(parent) else parent.hex()
                span_attributes = attributes_text(span.attributes)
                failed = status_code == _STATUS_ERROR
                read = call_attributes(span_attributes) if OPERATION_ID_KEY in span_attributes else span_attributes
                if is_llm_call(read, failed=failed):
                    if defaults is None:
                        defaults = resource_attribution(resource_attributes)
                    try:
                        call = read_llm_call(
                            read,
                            timestamp_ns=start,
                            duration_ns=end - start,
                            trace_id=trace_id,
                            span_id=span_id,
                            parent_span_id=parent_span_id,
                            status=STATUS_CODE_NAMES.get(status_code, "Unset"),
                            service_name=service_name,
                            defaults=defaults,
                            instrumentation=scope_name,
                            exception_type=_exception_type(span) if failed else "",
                        )
                    except InvalidSpan as invalid:
                        result.reject(span, str(invalid))
                        continue
                    calls.append(call)
                    call_rows.append(len(rows))
                keys.append(raw_trace_id + raw_span_id)
                rows.append(
                    trace_row(
                        span,
                        start=start,
                        end=end,
                        status=status,
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_span_id=parent_span_id,
                        service_name=service_name,
                        resource_attributes=resource_attributes,
                        scope_name=scope_name,
                        scope_version=scope_version,
                        span_attributes=span_attributes,
                    )
                )

    return result
