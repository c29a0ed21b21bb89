"""Export requests that exercise every path of reading, pricing and encoding a span, built
deterministically (fixed ids, times and seed), so that what `prepare_request` makes of them
can be kept and compared byte for byte (tests/normalize/test_prepared_rows.py).

Beside the captured stacks' requests (tests/normalize/spans), they hold what those lack:
every AnyValue kind (doubles at Go's notation switches, NaN, bytes, nested arrays and
key-value lists, empty values), duplicate keys, long and non-ASCII text, events and links,
several resources and scopes, spans that claim llmledger's own attributes, tags, cache hits
and routed calls, billed and reported costs, and spans that are rejected (broken ids,
clocks, token counts, costs).
"""
from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

# 2026-03-02T12:00:00Z: the time the requests are read at; spans lie up to an hour before.
NOW_NS = 1_772_452_800 * 1_000_000_000
SECOND_NS = 1_000_000_000

_MODELS = [
    ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "api.openai.com"),
    ("openai", "gpt-4.1", "gpt-4.1-2025-04-14", "api.openai.com"),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-20250514", "api.anthropic.com"),
    ("gcp.gemini", "gemini-2.5-pro", "gemini-2.5-pro", ""),
    ("openai", "text-embedding-3-small", "", "api.openai.com"),
    ("openai", "a-model-nobody-prices", "", "llm.internal"),
    ("azure.ai.openai", "gpt-4o", "gpt-4o-2024-08-06", "team.openai.azure.com"),
]
_DOUBLES = [0.2, 1.0, -0.0, 0.0, 1e21, 1e-7, 123456789012345680.0, 1.5e-5, 2.5e300, float("nan"), float("inf"),
            float("-inf"), 3.14159]


def value(python) -> AnyValue:
    """An AnyValue for a Python value: lists become arrays, dicts key-value lists."""
    if isinstance(python, AnyValue):
        return python
    if isinstance(python, bool):
        return AnyValue(bool_value=python)
    if isinstance(python, int):
        return AnyValue(int_value=python)
    if isinstance(python, float):
        return AnyValue(double_value=python)
    if isinstance(python, bytes):
        return AnyValue(bytes_value=python)
    if isinstance(python, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(value(item) for item in python)
        return any_value
    if isinstance(python, dict):
        any_value = AnyValue()
        any_value.kvlist_value.values.extend(KeyValue(key=k, value=value(v)) for k, v in python.items())
        return any_value
    return AnyValue(string_value=python)


def key_values(pairs) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(v)) for key, v in pairs]


def _odd_values(rng: random.Random) -> list[tuple[str, object]]:
    """Attributes of every kind, some of them at a time."""
    odd = [
        ("app.double", rng.choice(_DOUBLES)),
        ("app.flag", rng.random() < 0.5),
        ("app.count", rng.choice([0, 7, -3, 2**62])),
        ("app.empty", ""),
        ("app.unset", AnyValue()),
        ("app.bytes", bytes(range(rng.randrange(1, 20)))),
        ("app.list", ["stop", 3, 2.5, True, ["nested", {"b": 1, "a": "<&>"}]]),
        ("app.map", {"z": 1, "a": {"inner": [1.0, float("nan")]}, "html": "a<b & c\u2028"}),
        ("app.long", "lorem ipsum " * rng.randrange(10, 40)),
        ("app.unicode", "naïve café ☕ 日本語"),
        ("app.dup", "first"),
        ("app.dup", "second"),  # the last duplicate wins
    ]
    return rng.sample(odd, rng.randrange(0, len(odd) + 1))


def _llm_attributes(rng: random.Random, serial: int) -> list[tuple[str, object]]:
    provider, model, response_model, address = _MODELS[serial % len(_MODELS)]
    embedding = model.startswith("text-embedding")
    attributes = [
        ("gen_ai.operation.name", "embeddings" if embedding else rng.choice(["chat", "chat", "text_completion"])),
        ("gen_ai.provider.name", provider),
        ("gen_ai.request.model", model),
        ("gen_ai.request.temperature", rng.choice([0.0, 0.2, 0.7])),
        ("gen_ai.request.max_tokens", 512),
        ("gen_ai.request.stream", rng.random() < 0.3),
    ]
    if address:
        attributes.append(("server.address", address))
    if response_model:
        attributes.append(("gen_ai.response.model", response_model))
    if rng.random() < 0.9:
        attributes.append(("gen_ai.response.id", f"resp-{serial:06d}"))
        attributes.append(("gen_ai.response.finish_reasons", ["stop"]))
    input_tokens = rng.choice([0, 12, 1200, 250_000, 99_999])
    if rng.random() < 0.95:
        attributes.append(("gen_ai.usage.input_tokens", input_tokens))
        if not embedding:
            attributes.append(("gen_ai.usage.output_tokens", rng.choice([0, 5, 300, 4000])))
    if rng.random() < 0.4:
        attributes.append(("gen_ai.usage.cache_read.input_tokens", min(input_tokens, 1024)))
    if rng.random() < 0.2:
        attributes.append((rng.choice(["gen_ai.usage.cache_write.input_tokens",
                                       "gen_ai.usage.cache_creation.input_tokens"]), rng.choice([0, 64, 5000])))
    if rng.random() < 0.2:
        attributes.append(("gen_ai.usage.reasoning.output_tokens", rng.choice([0, 100, 9000])))
    if rng.random() < 0.2:
        attributes.append(("openai.response.service_tier", rng.choice(["default", "flex", "priority", "batch"])))
    if rng.random() < 0.3:
        attributes.append(("gen_ai.response.time_to_first_chunk", rng.choice([0.25, 1.5, -1.0, float("nan")])))
    for key, choices in (("user.id", [f"user-{serial % 7}", ""]), ("session.id", ["s-1", "s-2"]),
                         ("llmledger.team", ["care", "growth", ""]), ("llmledger.feature", ["answer", "summary"]),
                         ("llmledger.app", ["billing-app"]), ("llmledger.tenant", ["acme", "globex"]),
                         ("deployment.environment.name", ["staging"]), ("llmledger.tag.region", ["eu", "us"]),
                         ("llmledger.tag.plan", ["pro"])):
        if rng.random() < 0.35:
            attributes.append((key, rng.choice(choices)))
    roll = rng.random()
    if roll < 0.05:
        attributes += [("llmledger.cache.hit", "true"), ("llmledger.cache.kind", rng.choice(["exact", "semantic"])),
                       ("llmledger.cache.source_trace_id", "ab" * 16), ("llmledger.cache.source_span_id", "cd" * 8)]
    elif roll < 0.1:
        attributes += [("llmledger.routing.requested_model", "gpt-4.1"), ("llmledger.routing.kind", "fallback"),
                       ("llmledger.routing.reason", "provider error 529")]
    elif roll < 0.14:
        attributes.append(("gen_ai.usage.cost", rng.choice(["0.0042", "0", "0.000195", "not a number"])))
    elif roll < 0.17:
        attributes.append(("llmledger.billed_cost", rng.choice(["0.0031", "2000000", "-1"])))
    elif roll < 0.2:
        # What a span claims under llmledger's own names is replaced.
        attributes += [("llmledger.cost", "0.5"), ("llmledger.price_source", "mine"), ("llmledger.unpriced", "no"),
                       ("llmledger.duplicate_of", "ffffffffffffffff")]
    elif roll < 0.22:
        attributes.append(("gen_ai.usage.output_tokens", rng.choice(["many", "-5", "1.5", "300000000"])))
    return attributes + _odd_values(rng)


def _span(rng: random.Random, serial: int, trace: int, parent: int | None) -> Span:
    start = NOW_NS - 3600 * SECOND_NS + serial * 7_000_003
    span = Span(trace_id=trace.to_bytes(16, "big"), span_id=(serial + 1).to_bytes(8, "big"),
                parent_span_id=b"" if parent is None else parent.to_bytes(8, "big"),
                start_time_unix_nano=start, end_time_unix_nano=start + rng.randrange(1, 5 * SECOND_NS),
                kind=rng.choice([Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_INTERNAL, Span.SPAN_KIND_SERVER, 0, 4, 5]))
    if rng.random() < 0.1:
        span.trace_state = "vendor=value"
    llm = rng.random() < 0.6
    if llm:
        attributes = _llm_attributes(rng, serial)
        model = next(v for k, v in attributes if k == "gen_ai.request.model")
        span.name = f"chat {model}"
    else:
        span.name = rng.choice(["GET /answer", "SELECT answers", "invoke_agent helper", "tool lookup"])
        attributes = [("http.request.method", "GET"), ("http.response.status_code", 200)] + _odd_values(rng)
        if span.name == "invoke_agent helper":  # an agent span with summed usage: not a call
            attributes += [("gen_ai.operation.name", "invoke_agent"), ("gen_ai.request.model", "gpt-4o-mini"),
                           ("gen_ai.usage.input_tokens", 5000)]
    span.attributes.extend(key_values(attributes))
    status = rng.choice([0, 0, 1, 2])
    if status:
        span.status.CopyFrom(Status(code=status, message="boom" if status == 2 else ""))
    if status == 2 and rng.random() < 0.5:
        if rng.random() < 0.5:
            span.attributes.extend(key_values([("error.type", rng.choice(
                ["<class 'openai.RateLimitError'>", "BudgetExceededError", "timeout"]))]))
        event = span.events.add(time_unix_nano=start + 1000, name="exception")
        event.attributes.extend(key_values([("exception.type", "openai.APIConnectionError"),
                                            ("exception.message", "connection reset")]))
    for n in range(rng.choice([0, 0, 1, 2])):
        event = span.events.add(time_unix_nano=start + 10 + n, name=rng.choice(["gen_ai.choice", "retry"]))
        event.attributes.extend(key_values(_odd_values(rng)[:3]))
    for n in range(rng.choice([0, 0, 0, 1, 2])):
        link = span.links.add(trace_id=rng.randbytes(16) if n else bytes(16), span_id=rng.randbytes(8),
                              trace_state="k=v" if n else "")
        link.attributes.extend(key_values(_odd_values(rng)[:2]))
    return span


def _broken(span: Span, how: int) -> Span:
    """The span with one thing wrong that gets it rejected."""
    if how == 0:
        span.trace_id = bytes(16)
    elif how == 1:
        span.span_id = b"\x01\x02"
    elif how == 2:
        span.parent_span_id = b"\x01"
    elif how == 3:
        span.start_time_unix_nano = NOW_NS + 2 * 86_400 * SECOND_NS
        span.end_time_unix_nano = span.start_time_unix_nano + 1
    elif how == 4:
        span.end_time_unix_nano = span.start_time_unix_nano - 1
    else:
        span.events.add(time_unix_nano=2**63 + 5, name="too late")
    return span


def varied_requests(count: int = 6, spans: int = 60, seed: int = 14) -> list[ExportTraceServiceRequest]:
    """`count` requests of about `spans` spans each, under one to three resources and scopes."""
    rng = random.Random(seed)
    requests = []
    serial = 0
    for number in range(count):
        request = ExportTraceServiceRequest()
        for r in range(rng.randrange(1, 4)):
            resource_spans = request.resource_spans.add()
            resource = [("service.name", rng.choice(["support-bot", "batch-jobs", ""])),
                        ("deployment.environment", "production"), ("host.name", "web-7")]
            resource += rng.sample([("llmledger.team", "platform"), ("llmledger.tag.cost_center", "42"),
                                    ("user.id", "service-account"), ("llmledger.app", "resource-app"),
                                    ("process.pid", 4242), ("telemetry.sdk.version", "1.39.0")], rng.randrange(0, 4))
            resource_spans.resource.attributes.extend(key_values(resource))
            for s in range(rng.randrange(1, 3)):
                scope_spans = resource_spans.scope_spans.add()
                scope_spans.scope.name = rng.choice(["llmledger.instrumentation.openai",
                                                     "opentelemetry.instrumentation.openai_v2", ""])
                scope_spans.scope.version = rng.choice(["0.1.0", ""])
                trace = serial + 1
                parent = None
                for n in range(spans // 3):
                    serial += 1
                    if n % 5 == 0:
                        trace, parent = serial + 1_000_000, None
                    span = _span(rng, serial, trace, parent)
                    if rng.random() < 0.05:
                        span = _broken(span, rng.randrange(6))
                    parent = int.from_bytes(span.span_id, "big") if len(span.span_id) == 8 else parent
                    scope_spans.spans.add().CopyFrom(span)
        requests.append(request)
    return requests
