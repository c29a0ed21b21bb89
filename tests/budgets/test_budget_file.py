"""The budget file: the issue's format as it is, the full form, and mistakes named by line and key."""
from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger.processor.budgets import BudgetFileError, Window, load_budget_file, parse_budget_document
from llmledger.processor.notify import EmailChannel, SlackChannel, WebhookChannel

ISSUE_EXAMPLE = """\
budgets:
  - app_id: "chatbot-production"
    daily_limit: 500.0
    monthly_limit: 10000.0
    alert_thresholds: [0.5, 0.8, 0.95]
    notification_channels:
      - type: slack
        webhook: "https://hooks.slack.com/services/xxx"
      - type: email
        recipients: ["admin@company.com"]
  - app_id: "internal-tools"
    daily_limit: 100.0
    monthly_limit: 2000.0
    alert_thresholds: [0.8, 0.95]
    notification_channels:
      - type: webhook
        url: "https://internal.company.com/alerts"
"""


def _load(tmp_path, text: str):
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    return load_budget_file(path)


def _error(tmp_path, text: str) -> str:
    with pytest.raises(BudgetFileError) as caught:
        _load(tmp_path, text)
    return str(caught.value)


def test_the_issue_example_loads_as_it_is(tmp_path):
    budgets = {b.id: b for b in _load(tmp_path, ISSUE_EXAMPLE).budgets}
    assert sorted(budgets) == ["chatbot-production.daily", "chatbot-production.monthly",
                               "internal-tools.daily", "internal-tools.monthly"]
    daily = budgets["chatbot-production.daily"]
    assert (daily.scope, daily.value, daily.window, daily.limit) == (
        "app", "chatbot-production", Window("daily", "UTC"), Decimal("500"))
    assert daily.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))
    assert daily.hard  # the limit throttles; the thresholds alert
    assert daily.channels == (SlackChannel("https://hooks.slack.com/services/xxx"),
                              EmailChannel(("admin@company.com",)))
    monthly = budgets["internal-tools.monthly"]
    assert (monthly.window.kind, monthly.limit, monthly.thresholds) == (
        "monthly", Decimal("2000"), (Decimal("0.8"), Decimal("0.95")))
    assert monthly.channels == (WebhookChannel("https://internal.company.com/alerts"),)


def test_the_full_form(tmp_path):
    loaded = _load(tmp_path, """\
budgets:
  - id: search-weekly
    scope: team
    value: search
    window: weekly
    timezone: Europe/Berlin
    limit: 300
    thresholds: [1.0, 0.5, 0.9]
    fallback_model: gpt-4o-mini
  - scope: tag:project
    value: apollo
    window: rolling
    duration: 24h
    limit: 0.1
    hard: false
  - scope: all
    window: monthly
    timezone: Asia/Kolkata
    limit: 25000
    notification_channels:
      - {type: webhook, url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET}
smtp:
  host: mail.example.com
  port: 587
  username: alerts
  password_env: SMTP_PASSWORD
anomaly_alerts:
  notification_channels:
    - {type: slack, webhook: "https://hooks.slack.com/services/yyy"}
""")
    search, project, everything = loaded.budgets
    assert (search.id, search.scope, search.value, search.window) == (
        "search-weekly", "team", "search", Window("weekly", "Europe/Berlin"))
    assert search.thresholds == (Decimal("0.5"), Decimal("0.9"), Decimal("1"))  # sorted
    assert search.fallback_model == "gpt-4o-mini" and search.hard
    assert (project.id, project.tag_name, project.window) == (
        "tag:project=apollo.rolling", "project", Window("rolling", "UTC", 86400))
    assert project.limit == Decimal("0.1") and not project.hard  # 0.1 exactly, not a binary float
    assert project.thresholds == (Decimal("0.8"), Decimal("1"))  # the default
    assert (everything.id, everything.value, everything.window.timezone) == ("all.monthly", "", "Asia/Kolkata")
    assert everything.channels == (WebhookChannel("http://127.0.0.1:9/hook", "HOOK_SECRET"),)
    assert (loaded.smtp.host, loaded.smtp.port, loaded.smtp.password_env) == ("mail.example.com", 587,
                                                                              "SMTP_PASSWORD")
    assert loaded.anomaly_channels == (SlackChannel("https://hooks.slack.com/services/yyy"),)


def test_a_budget_round_trips_through_its_dict():
    document = {"budgets": [{"id": "b", "scope": "user", "value": "u-7", "window": "daily",
                             "timezone": "America/New_York", "limit": "12.5", "thresholds": ["0.5", 1],
                             "notification_channels": [{"type": "email", "recipients": ["a@example.com"],
                                                        "smtp": {"port": 2525}}]}]}
    [budget] = parse_budget_document(document).budgets
    assert parse_budget_document({"budgets": [budget.to_dict()]}).budgets == (budget,)


def test_a_tenant_qualifies_any_scope_and_names_the_budget(tmp_path):
    loaded = _load(tmp_path, """\
budgets:
  - {scope: user, value: u1, tenant: acme, window: daily, limit: 5}
  - {scope: user, value: u1, tenant: globex, window: daily, limit: 5}
  - {scope: user, value: u1, window: daily, limit: 50}
  - {app_id: chatbot, tenant: 4711, daily_limit: 10, monthly_limit: 100}
  - {scope: all, tenant: acme, window: weekly, limit: 70}
""")
    budgets = {b.id: b for b in loaded.budgets}
    # The same user id in two tenants makes two budgets; without a tenant, one on every tenant.
    assert sorted(budgets) == ["4711:chatbot.daily", "4711:chatbot.monthly", "acme:all.weekly",
                               "acme:user=u1.daily", "globex:user=u1.daily", "user=u1.daily"]
    acme = budgets["acme:user=u1.daily"]
    assert (acme.scope, acme.value, acme.tenant, acme.tenant_of) == ("user", "u1", "acme", "acme")
    assert acme.call_filters() == {"user": "u1", "tenant": "acme"}
    assert budgets["user=u1.daily"].tenant == "" and budgets["user=u1.daily"].tenant_of == ""
    assert budgets["4711:chatbot.monthly"].tenant == "4711"  # an unquoted numeric tenant id
    assert budgets["acme:all.weekly"].call_filters() == {"tenant": "acme"}
    assert parse_budget_document({"budgets": [acme.to_dict()]}).budgets == (acme,)


@pytest.mark.parametrize("text, expected", [
    ("budgets:\n  - app_id: chat\n    dialy_limit: 5\n",
     "budgets.yaml:3: budgets[0].dialy_limit: unknown key (did you mean daily_limit?"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    timezone: Europe/Berln\n",
     "budgets.yaml:4: budgets[0].timezone: unknown time zone 'Europe/Berln'"),
    ("budgets:\n  - app_id: chat\n    daily_limit: -5\n",
     "budgets.yaml:3: budgets[0].daily_limit: must be a positive amount in USD"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    alert_thresholds: [0.5, 80]\n",
     "budgets.yaml:4: budgets[0].alert_thresholds[1]: 80 is not a fraction of the limit"),
    ("budgets:\n  - daily_limit: 5\n", "budgets.yaml:2: budgets[0]: no scope: give app_id"),
    ("budgets:\n  - app_id: chat\n", "budgets.yaml:2: budgets[0]: no limit"),
    ("budgets:\n  - scope: team\n    value: a\n    window: rolling\n    limit: 5\n",
     "budgets.yaml:2: budgets[0]: a rolling window needs a duration"),
    ("budgets:\n  - scope: teams\n    value: a\n    window: daily\n    limit: 5\n",
     "budgets.yaml:2: budgets[0].scope: 'teams' is not a scope"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    hard: false\n    fallback_model: gpt-4o-mini\n",
     "budgets.yaml:5: budgets[0].fallback_model: only a hard budget degrades"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    notification_channels:\n      - type: webhook\n"
     "        urll: http://127.0.0.1/x\n",
     "budgets.yaml:6: budgets[0].notification_channels[0].urll: unknown key"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    notification_channels:\n      - type: webhook\n"
     "        url: http://127.0.0.1/x\n        secret: hunter2\n",
     "budgets.yaml:7: budgets[0].notification_channels[0].secret: unknown key (expected one of: type, url, "
     "secret_env); put it in an environment variable and give its name as secret_env"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    notification_channels:\n      - type: email\n"
     "        recipients: [ops@example.com]\n        smtp:\n          port: 99999\n",
     "budgets.yaml:8: budgets[0].notification_channels[0].smtp.port: must be a port number"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n  - app_id: chat\n    daily_limit: 6\n",
     "budgets.yaml:4: budgets[1]: budget id 'chat.daily' is used twice"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    daily_limit: 6\n",
     "budgets.yaml:4: daily_limit: the key is given twice"),
    ("budgets:\n  - app_id: chat\n    daily_limit: [5\n", "budgets.yaml:4: not valid YAML"),
    ("budget:\n  - app_id: chat\n", "budgets.yaml:1: budget: unknown key (did you mean budgets?"),
    ("budgets:\n  - scope: user\n    value: u1\n    tenant: ''\n    window: daily\n    limit: 5\n",
     "budgets.yaml:4: budgets[0].tenant: must be a non-empty string of at most 256 printable characters"),
    ("budgets:\n  - scope: user\n    value: u1\n    tenant: [acme, globex]\n    window: daily\n    limit: 5\n",
     "budgets.yaml:4: budgets[0].tenant: must be a non-empty string"),
    ("budgets:\n  - app_id: chat\n    daily_limit: 5\n    tenant: ' acme'\n",
     "budgets.yaml:4: budgets[0].tenant: must be a non-empty string of at most 256 printable characters, "
     "without leading or trailing spaces"),
    ("budgets:\n  - scope: tenant\n    value: acme\n    window: daily\n    limit: 5\n    tenant: acme\n",
     "budgets.yaml:6: budgets[0].tenant: a budget on scope tenant counts one tenant's calls already"),
    ("budgets:\n  - scope: user\n    value: u1\n    tennant: acme\n    window: daily\n    limit: 5\n",
     "budgets.yaml:4: budgets[0].tennant: unknown key (did you mean tenant?"),
    ("budgets:\n  - scope: user\n    value: u1\n    tenant: acme corp\n    window: daily\n    limit: 5\n",
     "budgets.yaml:2: budgets[0]: cannot make a budget id from 'acme corp:user=u1'; give the budget an id"),
])
def test_mistakes_are_named_by_line_and_key(tmp_path, text, expected):
    assert _error(tmp_path, text).startswith(f"{tmp_path}/{expected}")


def test_json_input_is_checked_the_same_way_without_lines():
    with pytest.raises(BudgetFileError, match=r"^request: budgets\[0\]\.limit: must be a positive amount"):
        parse_budget_document({"budgets": [{"app_id": "chat", "window": "daily", "limit": "lots"}]})
    with pytest.raises(BudgetFileError, match="window: must be one of: daily, weekly, monthly, rolling"):
        parse_budget_document({"budgets": [{"app_id": "chat", "window": "hourly", "limit": 1}]})
