"""The OpenAI Agents SDK (Responses API) traced by OpenInference's openai-agents instrumentation."""
from __future__ import annotations

import asyncio

from common import FAILING_PROMPT, MODEL, PROMPT, base_url, expect_failure, report, tracer_provider

provider = tracer_provider("agents-openinference")
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor  # noqa: E402

# exclusive: no processor of the SDK's own that would export to OpenAI's servers.
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider, exclusive_processor=True)

from agents import Agent, Runner, set_default_openai_client  # noqa: E402
from openai import AsyncOpenAI  # noqa: E402

set_default_openai_client(AsyncOpenAI(base_url=base_url(), api_key="test", max_retries=0))
agent = Agent(name="greeter", instructions="Be brief.", model=MODEL)


async def streamed_run() -> str:
    result = Runner.run_streamed(agent, PROMPT)
    async for _ in result.stream_events():
        pass
    return result.final_output


answer = Runner.run_sync(agent, PROMPT).final_output
streamed = asyncio.run(streamed_run())
error = expect_failure(lambda: Runner.run_sync(agent, FAILING_PROMPT))
provider.shutdown()
report(answer=answer, streamed=streamed, error=error)
