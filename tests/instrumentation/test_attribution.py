"""Attribution: who caused an LLM call, carried by the OTel context and W3C baggage."""
from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import baggage, context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from llmledger.instrumentation import attribute, current_attributes


def test_nothing_set_gives_no_attributes():
    assert dict(current_attributes()) == {}


def test_context_manager_sets_span_attributes_and_restores_on_exit():
    with attribute(app="support-bot", user="u-42", team="cx", feature="summarize", tenant="acme", session="s-1"):
        assert dict(current_attributes()) == {
            "llmledger.app": "support-bot",
            "user.id": "u-42",
            "llmledger.team": "cx",
            "llmledger.feature": "summarize",
            "llmledger.tenant": "acme",
            "session.id": "s-1",
        }
    assert dict(current_attributes()) == {}


def test_extra_keywords_become_tags():
    with attribute(user="u-1", plan="enterprise", experiment="b"):
        assert dict(current_attributes()) == {
            "user.id": "u-1",
            "llmledger.tag.plan": "enterprise",
            "llmledger.tag.experiment": "b",
        }


def test_nested_scopes_override_key_by_key_and_restore_the_outer_one():
    with attribute(app="web", user="alice", plan="free"):
        with attribute(user="bob", feature="search"):
            assert dict(current_attributes()) == {
                "llmledger.app": "web",
                "user.id": "bob",
                "llmledger.feature": "search",
                "llmledger.tag.plan": "free",
            }
        assert dict(current_attributes()) == {"llmledger.app": "web", "user.id": "alice", "llmledger.tag.plan": "free"}


def test_scope_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with attribute(user="alice"):
            raise RuntimeError("boom")
    assert dict(current_attributes()) == {}


def test_decorator_on_sync_function_applies_per_call_only():
    @attribute(feature="nightly-report")
    def build_report(x):
        return x, dict(current_attributes())

    assert build_report(7) == (7, {"llmledger.feature": "nightly-report"})
    assert build_report.__name__ == "build_report"
    assert dict(current_attributes()) == {}


def test_decorator_on_async_function_applies_inside_the_coroutine():
    @attribute(feature="chat", user="u-9")
    async def handle():
        await asyncio.sleep(0)
        return dict(current_attributes())

    assert asyncio.run(handle()) == {"llmledger.feature": "chat", "user.id": "u-9"}
    assert dict(current_attributes()) == {}


def test_decorated_function_nests_inside_an_outer_scope():
    @attribute(feature="summarize")
    def summarize():
        return dict(current_attributes())

    with attribute(user="alice", feature="other"):
        assert summarize() == {"user.id": "alice", "llmledger.feature": "summarize"}
        assert current_attributes()["llmledger.feature"] == "other"


def test_decorating_a_generator_function_is_refused():
    with pytest.raises(TypeError, match="generator function"):

        @attribute(user="x")
        def numbers():
            yield 1


def test_threads_are_isolated_from_each_other():
    both_inside = threading.Barrier(2)
    seen: dict[str, dict] = {}

    def worker(name):
        with attribute(user=name):
            both_inside.wait(timeout=30)  # both scopes are active at the same time here
            seen[name] = dict(current_attributes())

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"alice": {"user.id": "alice"}, "bob": {"user.id": "bob"}}


def test_a_new_thread_does_not_inherit_the_callers_scope():
    seen = []
    with attribute(user="alice"):
        thread = threading.Thread(target=lambda: seen.append(dict(current_attributes())))
        thread.start()
        thread.join()
    assert seen == [{}]


def test_asyncio_tasks_are_isolated_and_inherit_from_their_creator():
    async def handle(user):
        with attribute(user=user):
            await asyncio.sleep(0)  # let the other task run inside its own scope
            await asyncio.sleep(0)
            return dict(current_attributes())

    async def main():
        with attribute(app="api"):
            return await asyncio.gather(handle("alice"), handle("bob"))

    assert asyncio.run(main()) == [
        {"llmledger.app": "api", "user.id": "alice"},
        {"llmledger.app": "api", "user.id": "bob"},
    ]


def test_baggage_round_trips_through_the_w3c_propagator():
    propagator = W3CBaggagePropagator()
    carrier: dict[str, str] = {}
    with attribute(app="front", user="José, Smith=1", plan="pro tier"):
        propagator.inject(carrier)
    assert "baggage" in carrier

    # The receiving process starts from an empty context.
    token = context.attach(propagator.extract(carrier, context=context.Context()))
    try:
        assert dict(current_attributes()) == {
            "llmledger.app": "front",
            "user.id": "José, Smith=1",
            "llmledger.tag.plan": "pro tier",
        }
    finally:
        context.detach(token)


def test_upstream_baggage_applies_only_known_and_valid_entries():
    ctx = baggage.set_baggage("user.id", "carol", context.Context())
    ctx = baggage.set_baggage("llmledger.team", "x" * 300, ctx)  # over the length limit
    ctx = baggage.set_baggage("llmledger.tag.bad name", "v", ctx)  # not a valid tag name
    ctx = baggage.set_baggage("unrelated", "kept out", ctx)
    token = context.attach(ctx)
    try:
        assert dict(current_attributes()) == {"user.id": "carol"}
        with attribute(feature="f"):  # local scopes build on what came from upstream
            assert dict(current_attributes()) == {"user.id": "carol", "llmledger.feature": "f"}
    finally:
        context.detach(token)


def test_baggage_changed_inside_a_scope_is_seen():
    with attribute(user="alice"):
        token = context.attach(baggage.set_baggage("user.id", "changed"))
        try:
            assert current_attributes()["user.id"] == "changed"
        finally:
            context.detach(token)
        assert current_attributes()["user.id"] == "alice"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"user": 42}, TypeError, "'user' must be a string, got int"),
        ({"app": ""}, ValueError, "'app' must not be empty"),
        ({"team": "t" * 257}, ValueError, "'team' is 257 characters long; the limit is 256"),
        ({"feature": "line\nbreak"}, ValueError, "'feature' contains non-printable"),
        ({"tenant": " acme"}, ValueError, "'tenant' has leading or trailing whitespace"),
        ({"plan": b"bytes"}, TypeError, "'plan' must be a string, got bytes"),
        ({"bad name": "v"}, ValueError, "tag name 'bad name' may only use"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(kwargs, error, message):
    with pytest.raises(error, match=message):
        attribute(**kwargs)


def test_none_leaves_the_enclosing_value_in_place():
    with attribute(user="alice"), attribute(user=None, feature="f"):
        assert dict(current_attributes()) == {"user.id": "alice", "llmledger.feature": "f"}
