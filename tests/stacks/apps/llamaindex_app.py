"""LlamaIndex's OpenAI LLM traced by OpenInference's LlamaIndex instrumentation, with
OpenInference's openai instrumentor on too."""
from __future__ import annotations

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report, tracer_provider

provider = tracer_provider("llamaindex-openinference")
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor  # noqa: E402
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

LlamaIndexInstrumentor().instrument(tracer_provider=provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)

from llama_index.core.llms import ChatMessage  # noqa: E402
from llama_index.llms.openai import OpenAI  # noqa: E402

# include_usage: a streamed chat reports usage only when asked (LlamaIndex drops the
# option from calls that are not streamed).
llm = OpenAI(model=MODEL, api_base=base_url(), api_key="test", max_retries=0,
             additional_kwargs={"stream_options": {"include_usage": True}})
answer = llm.chat([ChatMessage(role="user", content=PROMPT)])
streamed = "".join(chunk.delta or "" for chunk in llm.stream_chat([ChatMessage(role="user", content=PROMPT)]))
error = expect_failure(lambda: llm.chat([ChatMessage(role="user", content=FAILING_PROMPT)]))
provider.shutdown()
report(answer=answer.message.content, streamed=streamed, error=error)
