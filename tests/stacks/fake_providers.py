"""The fake providers every stack app is pointed at: OpenAI (fake_openai.py) for all of them,
Anthropic (fake_anthropic.py) for the apps that call it too (the Vercel AI SDK's).

Anthropic answers each message with 2,600 input tokens of which 2,000 read from the cache
and 500 written to it (Anthropic's own `input_tokens` is the other 100), and 50 output.
"""
from __future__ import annotations

from fake_anthropic import FakeAnthropic, MessageReply, Usage
from fake_openai import FakeOpenAI

ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
ANTHROPIC_USAGE = Usage(input_tokens=100, output_tokens=50, cache_read_input_tokens=2000,
                        cache_creation_input_tokens=500)


class FakeProviders:
    def __init__(self) -> None:
        self.openai = FakeOpenAI(unique_ids=True)
        self.anthropic = FakeAnthropic()
        # Two answers with ids of their own (a call and a streamed call), then the default.
        self.anthropic.queue(*(MessageReply(usage=ANTHROPIC_USAGE, model=ANTHROPIC_MODEL, message_id=f"msg_fake_{n}")
                               for n in (1, 2)))
        self.anthropic.default_reply = MessageReply(usage=ANTHROPIC_USAGE, model=ANTHROPIC_MODEL)

    def __enter__(self) -> FakeProviders:
        self.openai.__enter__()
        self.anthropic.start()
        return self

    def __exit__(self, *exc) -> None:
        self.anthropic.stop()
        self.openai.__exit__(*exc)

    @property
    def requests(self) -> int:
        """How many calls reached a provider."""
        return len(self.openai.requests) + len(self.anthropic.requests)

    def environment(self) -> dict[str, str]:
        return {"OPENAI_BASE_URL": self.openai.base_url, "OPENAI_API_KEY": "test",
                "ANTHROPIC_BASE_URL": self.anthropic.base_url + "/v1", "ANTHROPIC_API_KEY": "test"}
