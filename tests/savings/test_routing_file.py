"""The routing file: what its rules match, and errors that name the file and line."""
from __future__ import annotations

import pytest

from llmledger.instrumentation._genai.routing import RoutingFileError, facts_of, parse_routing

FILE = """\
version: 1
routes:
  - name: faq-on-mini
    when: {app: support-bot, feature: faq, model: "gpt-4o*", max_input_chars: 200, complexity: low}
    model: gpt-4o-mini
  - name: gold-customers
    when: {tag.plan: gold}
    model: gpt-4.1
  - name: hard-questions
    when: {complexity: high, team: research}
    model: o4-mini
budget:
  - name: research
    when: {team: research}
    model: gpt-4.1-mini
  - name: everyone-else
fallbacks:
  - name: busy
    when: {model: gpt-4o}
    on: [429, 5xx, connection]
    to:
      - model: gpt-4o-mini
      - {model: gpt-4o, base_url: "http://backup.invalid/v1", api_key_env: BACKUP_KEY}
"""


def _facts(text="How do I reset my password?", **labels):
    attributes = {"gen_ai.request.model": labels.pop("model", "gpt-4o")}
    attributes.update({f"llmledger.{k}" if k in ("app", "team", "feature", "tenant") else f"llmledger.tag.{k}": v
                       for k, v in labels.items()})
    return facts_of({"model": attributes["gen_ai.request.model"],
                     "messages": [{"role": "user", "content": text}]}, attributes)


def test_routes_match_by_attribution_size_and_complexity():
    router = parse_routing(FILE)
    assert router.route(_facts(app="support-bot", feature="faq")).model == "gpt-4o-mini"
    assert router.route(_facts(app="support-bot", feature="faq")).reason == "route faq-on-mini"
    assert router.route(_facts("x" * 201, app="support-bot", feature="faq")) is None  # too long for the rule
    assert router.route(_facts(app="support-bot", feature="faq", model="claude-sonnet-4")) is None
    assert router.route(_facts(plan="gold")).model == "gpt-4.1"
    assert router.route(_facts("Prove that the algorithm terminates", team="research")).model == "o4-mini"
    assert router.route(_facts("Hi", team="research")) is None
    assert router.route(_facts(app="support-bot", feature="faq", model="gpt-4o-mini")) is None  # already there


def test_complexity_signals():
    plain = facts_of({"messages": [{"role": "user", "content": "Hi"}]}, {})
    assert plain.complexity == "low" and plain.turns == 1 and plain.input_chars == 2
    assert facts_of({"messages": [{"role": "user", "content": "```py\nx=1\n```"}]}, {}).contains_code
    assert facts_of({"tools": [{"type": "function"}], "messages": []}, {}).complexity == "high"
    long = facts_of({"system": "s" * 9000, "messages": [{"role": "user", "content": "Hi"}]}, {})
    assert long.complexity == "high" and long.input_chars == 9002
    image = facts_of({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, {})
    assert image.has_images


def test_budget_rules_and_fallbacks():
    router = parse_routing(FILE)
    assert router.on_budget(_facts(team="research"), "gpt-4o-mini").model == "gpt-4.1-mini"
    # A rule without a model degrades to the budget's own fallback_model.
    decision = router.on_budget(_facts(team="sales"), "gpt-4o-mini")
    assert (decision.model, decision.kind, decision.reason) == ("gpt-4o-mini", "budget", "budget rule everyone-else")

    class Status(Exception):
        def __init__(self, status_code):
            self.status_code = status_code

    class APIConnectionError(Exception):
        pass

    rule, targets = router.fallback_for(_facts(), Status(503))
    assert rule.name == "busy" and [t.model for t in targets] == ["gpt-4o-mini", "gpt-4o"]
    assert targets[1].base_url == "http://backup.invalid/v1" and targets[1].api_key_env == "BACKUP_KEY"
    assert router.fallback_for(_facts(), Status(429)) is not None
    assert router.fallback_for(_facts(), APIConnectionError()) is not None
    assert router.fallback_for(_facts(), Status(400)) is None
    assert router.fallback_for(_facts(model="gpt-4.1"), Status(429)) is None


@pytest.mark.parametrize("text, message", [
    ("routes:\n  - name: a\n    when: {app: x}\n", "routing.yaml:2: routes[0]: a route needs the model"),
    ("routes:\n  - name: a\n    model: m\n    when:\n      colour: red\n",
     "routing.yaml:5: routes[0].when: unknown key 'colour'"),
    ("routes:\n  - model: m\n", "routing.yaml:2: routes[0]: every rule needs a name"),
    ("routes:\n  - {name: a, model: m, when: {max_input_chars: -3}}\n",
     "routing.yaml:2: routes[0].when.max_input_chars: expected a whole number >= 0"),
    ("routes:\n  - {name: a, model: m, when: {min_turns: 5, max_turns: 2}}\n", "min_turns is above max_turns"),
    ("routes:\n  - {name: a, model: m, when: {complexity: medium}}\n", "expected low or high"),
    ("fallbacks:\n  - name: f\n    on: [404]\n    to: [{model: m}]\n",
     "routing.yaml:3: fallbacks[0].on: '404': use 429, 5xx"),
    ("fallbacks:\n  - name: f\n    on: [429]\n    to: [{model: m, base_url: ftp://x}]\n",
     "fallbacks[0].to[0].base_url: must start with http:// or https://"),
    ("version: 2\n", "routing.yaml:1: version: only version 1 is known"),
    ("routes: [\n", "routing.yaml:2: not valid YAML"),
    ("colour: red\n", "routing.yaml:1: the file: unknown key 'colour'"),
])
def test_errors_name_the_file_and_line(text, message):
    with pytest.raises(RoutingFileError) as error:
        parse_routing(text, "routing.yaml")
    assert message in str(error.value)


def test_a_missing_file_and_a_bad_file_from_the_environment(tmp_path, monkeypatch, caplog):
    from llmledger.instrumentation._genai import routing

    with pytest.raises(RoutingFileError, match="cannot read the routing file"):
        routing.load_routing_file(tmp_path / "nope.yaml")
    bad = tmp_path / "routing.yaml"
    bad.write_text("routes:\n  - name: a\n")
    monkeypatch.setenv("LLMLEDGER_ROUTING_FILE", str(bad))
    routing.reset()
    assert routing.active_router() is None
    assert f"{bad}:2: routes[0]: a route needs the model" in caplog.text
