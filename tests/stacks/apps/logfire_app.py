"""logfire's OpenAI instrumentation, exporting to the OTLP endpoint only (nothing to logfire's own service)."""
from __future__ import annotations

import logfire
from openai import OpenAI

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report

# With OTEL_EXPORTER_OTLP_ENDPOINT set, logfire adds an OTLP exporter of its own.
logfire.configure(send_to_logfire=False, service_name="logfire-openai", console=False)
client = OpenAI(base_url=base_url(), api_key="test", max_retries=0)
logfire.instrument_openai(client)


def chat(prompt: str, **options):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}], **options)


answer = chat(PROMPT).choices[0].message.content
streamed = "".join(choice.delta.content or "" for chunk in chat(PROMPT, stream=True, stream_options={"include_usage": True})
                   for choice in chunk.choices)
error = expect_failure(lambda: chat(FAILING_PROMPT))
logfire.shutdown()
report(answer=answer, streamed=streamed, error=error)
