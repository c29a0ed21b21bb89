"""The OpenAI SDK traced by OpenLIT (openlit.init), which sets up its own OTLP exporter."""
from __future__ import annotations

import os

import openlit
from openai import OpenAI
from opentelemetry import trace

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report

# Offline its price-list fetch fails; it then writes gen_ai.usage.cost=0.
openlit.init(otlp_endpoint=os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"], disable_metrics=True, disable_events=True,
             application_name="openlit-openai", service_name="openlit-openai")

client = OpenAI(base_url=base_url(), api_key="test", max_retries=0)


def chat(prompt: str, **options):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}], **options)


answer = chat(PROMPT).choices[0].message.content
streamed = "".join(choice.delta.content or "" for chunk in chat(PROMPT, stream=True, stream_options={"include_usage": True})
                   for choice in chunk.choices)
# A stream that reports no usage: OpenLIT estimates its tokens from the text.
unreported = "".join(choice.delta.content or "" for chunk in chat(PROMPT, stream=True) for choice in chunk.choices)
error = expect_failure(lambda: chat(FAILING_PROMPT))
trace.get_tracer_provider().shutdown()
report(answer=answer, streamed=streamed, unreported=unreported, error=error)
