"""The GenAI client metrics, with the names, units and bucket boundaries of the spec.

- `gen_ai.client.token.usage` ({token}), one point per token type (`input`, `output`)
- `gen_ai.client.operation.duration` (s), also for failed calls (with `error.type`)
- `gen_ai.client.operation.time_to_first_chunk` (s), streamed calls only

`GenAIMetrics.record(...)` is called once per finished call by `GenAICall`.
"""
from __future__ import annotations

from opentelemetry.metrics import Meter

from . import attributes as attr

TOKEN_USAGE_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
TIME_TO_FIRST_CHUNK_BUCKETS = DURATION_BUCKETS

# The span attributes that are also metric attributes (low cardinality).
_METRIC_KEYS = (
    attr.OPERATION_NAME, attr.PROVIDER_NAME, attr.REQUEST_MODEL, attr.SERVER_ADDRESS, attr.SERVER_PORT,
)


class GenAIMetrics:
    def __init__(self, meter: Meter):
        self.token_usage = meter.create_histogram(
            attr.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS),
        )
        self.duration = meter.create_histogram(
            attr.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.time_to_first_chunk = meter.create_histogram(
            attr.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=list(TIME_TO_FIRST_CHUNK_BUCKETS),
        )
        # Metric attribute sets repeat endlessly (same model, same server): build
        # each one once. Bounded so that a stream of distinct models cannot grow it.
        self._attribute_sets: dict[tuple, tuple[dict, dict, dict]] = {}

    def record(
        self,
        span_attributes: dict,
        response_model: str | None,
        error_type: str | None,
        duration: float,
        input_tokens: int | None,
        output_tokens: int | None,
        time_to_first_chunk: float | None,
    ) -> None:
        get = span_attributes.get
        key = (get(attr.OPERATION_NAME), get(attr.PROVIDER_NAME), get(attr.REQUEST_MODEL),
               get(attr.SERVER_ADDRESS), get(attr.SERVER_PORT), response_model, error_type)
        sets = self._attribute_sets.get(key)
        if sets is None:
            sets = self._attribute_sets_for(key)
        common, as_input, as_output = sets
        self.duration.record(duration, common)
        if time_to_first_chunk is not None:
            self.time_to_first_chunk.record(time_to_first_chunk, common)
        if input_tokens is not None:
            self.token_usage.record(input_tokens, as_input)
        if output_tokens is not None:
            self.token_usage.record(output_tokens, as_output)

    def _attribute_sets_for(self, key: tuple) -> tuple[dict, dict, dict]:
        common = {name: value for name, value in zip(_METRIC_KEYS, key) if value is not None}
        response_model, error_type = key[-2], key[-1]
        if response_model:
            common[attr.RESPONSE_MODEL] = response_model
        if error_type:
            common[attr.ERROR_TYPE] = error_type
        sets = (common, {**common, attr.TOKEN_TYPE: "input"}, {**common, attr.TOKEN_TYPE: "output"})
        if len(self._attribute_sets) < 512:
            self._attribute_sets[key] = sets
        return sets
