"""Who caused a call: span attributes first, the resource's as the fallback."""
from __future__ import annotations

from normalize_spans import one_call

CALL = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


def test_span_and_resource_attribution_combine():
    call = one_call(
        {**CALL, "user.id": "u-17", "session.id": "s-9", "llmledger.feature": "answer", "llmledger.tenant": "acme",
         "llmledger.tag.tier": "silver", "llmledger.tag.experiment": "b"},
        resource={"deployment.environment.name": "prod", "llmledger.team": "care",
                  "llmledger.tag.region": "eu", "llmledger.tag.tier": "gold"},
    )
    assert (call.service_name, call.app, call.environment) == ("support-bot", "support-bot", "prod")
    assert (call.user_id, call.session_id) == ("u-17", "s-9")
    assert (call.team, call.feature, call.tenant) == ("care", "answer", "acme")
    assert call.tags == {"region": "eu", "tier": "silver", "experiment": "b"}  # the span's tier wins


def test_span_values_override_the_resource():
    call = one_call(
        {**CALL, "llmledger.app": "checkout", "deployment.environment.name": "staging", "llmledger.team": "payments",
         "user.id": "u-2"},
        resource={"llmledger.app": "storefront", "deployment.environment.name": "prod", "llmledger.team": "web",
                  "user.id": "service-account"},
    )
    assert (call.app, call.environment, call.team, call.user_id) == ("checkout", "staging", "payments", "u-2")


def test_resource_values_fill_what_the_span_lacks():
    call = one_call(CALL, resource={"llmledger.app": "storefront", "user.id": "batch-job", "session.id": "nightly",
                                    "llmledger.feature": "digest", "llmledger.tenant": "acme"})
    assert (call.app, call.user_id, call.session_id, call.feature, call.tenant) == (
        "storefront", "batch-job", "nightly", "digest", "acme")
    assert call.service_name == "support-bot"  # the app does not change the service


def test_deprecated_names():
    call = one_call({**CALL, "enduser.id": "legacy-user"}, resource={"deployment.environment": "qa"})
    assert (call.user_id, call.environment) == ("legacy-user", "qa")


def test_current_names_win_over_deprecated_ones():
    call = one_call({**CALL, "user.id": "new", "enduser.id": "old", "deployment.environment.name": "prod",
                     "deployment.environment": "production"})
    assert (call.user_id, call.environment) == ("new", "prod")


def test_no_attribution_at_all():
    call = one_call(CALL)
    assert (call.app, call.environment, call.user_id, call.session_id, call.team, call.feature, call.tenant,
            call.tags) == ("support-bot", "", "", "", "", "", "", {})


def test_calls_of_one_resource_do_not_share_tags():
    from normalize_spans import SpanRecorder, normalize

    recorder = SpanRecorder({"llmledger.tag.region": "eu"})
    recorder.span("a", {**CALL, "llmledger.tag.step": "draft"})
    recorder.span("b", CALL)
    first, second = normalize(recorder.request()).calls
    first.tags["added"] = "later"
    assert first.tags == {"region": "eu", "step": "draft", "added": "later"}
    assert second.tags == {"region": "eu"}
