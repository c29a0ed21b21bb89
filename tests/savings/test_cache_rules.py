"""The cache's rules on their own: what is one key, what may be kept, the settings."""
from __future__ import annotations

import pytest

from llmledger.instrumentation._genai.cache import CacheSettings, CacheSettingsError, Directive, ResponseCache
from llmledger.instrumentation._genai.cache.keys import (
    is_complete,
    partition_of,
    request_key,
    stream_finished,
    why_not_cacheable,
)

BODY = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]}


def test_fields_that_do_not_shape_the_answer_are_not_in_the_key():
    partition = (("app", "a"), ("tenant", "t"))
    key = request_key(partition, "openai", "/chat/completions", BODY)
    assert request_key(partition, "openai", "/chat/completions",
                       {**BODY, "user": "u-1", "metadata": {"x": "1"}, "stream_options": {"include_usage": True},
                        "service_tier": "flex"}) == key
    assert request_key(partition, "openai", "/chat/completions", {**BODY, "top_p": 0.5}) != key
    assert request_key(partition, "openai", "/responses", BODY) != key
    assert request_key(partition, "azure.ai.openai", "/chat/completions", BODY) != key
    assert request_key((("app", "a"), ("tenant", "u")), "openai", "/chat/completions", BODY) != key


def test_the_app_defaults_to_the_service_name():
    assert partition_of({}, {"service.name": "support-bot"}) == (("app", "support-bot"), ("tenant", ""))
    assert partition_of({"llmledger.app": "x", "llmledger.tenant": "acme", "user.id": "u"},
                        None, ("app", "tenant", "user")) == (("app", "x"), ("tenant", "acme"), ("user", "u"))


def test_what_may_be_cached():
    assert why_not_cacheable("/chat/completions", BODY, False) is None
    assert "default" in why_not_cacheable("/chat/completions", {"model": "m"}, False)
    assert why_not_cacheable("/chat/completions", {"model": "m"}, True) is None
    assert "n > 1" in why_not_cacheable("/chat/completions", {**BODY, "n": 3}, True)
    assert why_not_cacheable("/embeddings", {"model": "m", "input": "x"}, False) is None


def test_refusals_errors_and_unfinished_answers_are_not_whole_answers():
    assert is_complete({"choices": [{"message": {"content": "ok", "refusal": None}, "finish_reason": "stop"}]})
    assert not is_complete({"choices": [{"message": {"content": None, "refusal": "No."}}]})
    assert not is_complete({"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]})
    assert not is_complete({"type": "message", "stop_reason": "refusal"})
    assert not is_complete({"status": "incomplete", "output": []})
    assert not is_complete({"output": [{"content": [{"type": "refusal", "refusal": "No."}]}]})
    assert stream_finished({"type": "message_stop"}, False)
    assert not stream_finished({"choices": [{"finish_reason": "stop"}]}, True)  # the usage chunk is still to come
    assert stream_finished({"choices": [], "usage": {"prompt_tokens": 1}}, True)


def test_settings_from_the_environment():
    assert CacheSettings.from_env({}).enabled is False
    both = CacheSettings.from_env({"LLMLEDGER_CACHE": "redis,semantic", "LLMLEDGER_CACHE_TTL": "60"})
    assert (both.enabled, both.semantic, both.ttl, both.redis_url) == (True, True, 60.0, "redis://127.0.0.1:6379/0")
    for bad in ({"LLMLEDGER_CACHE": "memcached"}, {"LLMLEDGER_CACHE": "exact", "LLMLEDGER_CACHE_TTL": "soon"},
                {"LLMLEDGER_CACHE": "exact", "LLMLEDGER_CACHE_PARTITION": "user"},
                {"LLMLEDGER_CACHE": "exact", "LLMLEDGER_CACHE_SEMANTIC_THRESHOLD": "1.5"}):
        with pytest.raises(CacheSettingsError):
            CacheSettings.from_env(bad)
    with pytest.raises(ValueError, match="cache mode must be one of"):
        Directive(mode="sometimes")


def test_a_call_that_opts_out_is_not_looked_up():
    cache = ResponseCache(CacheSettings(enabled=True))
    arguments = {"provider": "openai", "endpoint": "/chat/completions", "body": BODY, "attributes": {},
                 "resource": None}
    assert cache.prepare(**arguments) is not None
    assert cache.prepare(**arguments, directive=Directive(mode="off")) is None
    off = ResponseCache(CacheSettings())
    assert off.prepare(**arguments) is None
    assert off.prepare(**arguments, directive=Directive(mode="exact")) is not None
