"""The OpenAI SDK traced by the official opentelemetry-instrumentation-openai-v2."""
from __future__ import annotations

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report, tracer_provider

provider = tracer_provider("openai-v2")
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)
from openai import OpenAI  # noqa: E402

client = OpenAI(base_url=base_url(), api_key="test", max_retries=0)


def chat(prompt: str, **options):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}], **options)


answer = chat(PROMPT).choices[0].message.content
streamed = "".join(choice.delta.content or "" for chunk in chat(PROMPT, stream=True, stream_options={"include_usage": True})
                   for choice in chunk.choices)
error = expect_failure(lambda: chat(FAILING_PROMPT))
provider.shutdown()
report(answer=answer, streamed=streamed, error=error)
