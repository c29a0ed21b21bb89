"""LangChain's ChatOpenAI traced by OpenLLMetry's or OpenInference's instrumentation, with
that family's openai instrumentor on too (as their docs suggest):

    python langchain_app.py openllmetry|openinference
"""
from __future__ import annotations

import sys

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report, tracer_provider

flavour = sys.argv[1]
provider = tracer_provider(f"langchain-{flavour}")
if flavour == "openllmetry":
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    LangchainInstrumentor().instrument(tracer_provider=provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)
else:
    from openinference.instrumentation.langchain import LangChainInstrumentor
    from openinference.instrumentation.openai import OpenAIInstrumentor

    LangChainInstrumentor().instrument(tracer_provider=provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)

from langchain_openai import ChatOpenAI  # noqa: E402  (after instrumenting, as an app would)

llm = ChatOpenAI(model=MODEL, base_url=base_url(), api_key="test", max_retries=0, stream_usage=True)
answer = llm.invoke(PROMPT)
streamed = "".join(chunk.content for chunk in llm.stream(PROMPT))
error = expect_failure(lambda: llm.invoke(FAILING_PROMPT))
provider.shutdown()
report(answer=answer.content, streamed=streamed, error=error)
