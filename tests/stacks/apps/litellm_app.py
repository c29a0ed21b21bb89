"""LiteLLM's completion() with its `otel` callback, which sets up its own exporter from the
OTEL_EXPORTER_OTLP_* variables."""
from __future__ import annotations

import os

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # offline: its bundled price map
os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
os.environ.setdefault("OTEL_SERVICE_NAME", "litellm-otel")

import litellm  # noqa: E402
from opentelemetry import trace  # noqa: E402

litellm.callbacks = ["otel"]


def complete(prompt: str, **options):
    return litellm.completion(model=f"openai/{MODEL}", messages=[{"role": "user", "content": prompt}],
                              api_base=base_url(), api_key="test", num_retries=0, max_retries=0, **options)


answer = complete(PROMPT).choices[0].message.content
streamed = "".join(choice.delta.content or "" for chunk in
                   complete(PROMPT, stream=True, stream_options={"include_usage": True}) for choice in chunk.choices)
error = expect_failure(lambda: complete(FAILING_PROMPT))
import time  # noqa: E402

time.sleep(1.0)  # its success/failure handlers run on a background worker
provider = trace.get_tracer_provider()
if hasattr(provider, "shutdown"):
    provider.shutdown()
report(answer=answer, streamed=streamed, error=error)
