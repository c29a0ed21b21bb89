"""pydantic-ai's Agent on an OpenAI chat model, with its own OpenTelemetry instrumentation
(GenAI spans: an agent span with the run's summed usage above one span per model request)."""
from __future__ import annotations

import asyncio

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report, tracer_provider

provider = tracer_provider("pydantic-ai")
from openai import AsyncOpenAI  # noqa: E402
from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

client = AsyncOpenAI(base_url=base_url(), api_key="test", max_retries=0)
Agent.instrument_all()  # pydantic-ai's own GenAI spans, on the global tracer provider
agent = Agent(OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client)))


async def streamed_run() -> str:
    async with agent.run_stream(PROMPT) as result:
        return await result.get_output()


answer = agent.run_sync(PROMPT).output
streamed = asyncio.run(streamed_run())
error = expect_failure(lambda: agent.run_sync(FAILING_PROMPT))
provider.shutdown()
report(answer=answer, streamed=streamed, error=error)
