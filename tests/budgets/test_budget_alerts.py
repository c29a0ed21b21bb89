"""Threshold alerts: once per threshold per window per budget, across a day and a month boundary
in Europe/Berlin, delivered to a local webhook receiver and a local SMTP server; also with two
evaluators at once and after a restart."""
from __future__ import annotations

import email
import hashlib
import hmac
import threading
from datetime import datetime
from decimal import Decimal

import pytest

from budget_harness import Clock, at, llm_call, store_calls
from llmledger.processor.analytics.records import Anomaly
from llmledger.processor.budgets import BudgetService, anomaly_alert, parse_budget_document
from llmledger.processor.notify import Notifier
from llmledger.processor.storage.client import connect

BERLIN = "Europe/Berlin"  # UTC+1 in February and March 2026 (summer time starts on 29 March)
HOOK_SECRET_ENV = "BUDGET_TEST_HOOK_SECRET"
HOOK_SECRET = "s3cr3t-for-signing"


def _budgets(webhook, mailbox):
    return parse_budget_document({"budgets": [
        {"id": "chat-daily", "app_id": "chatbot", "window": "daily", "timezone": BERLIN, "limit": 10,
         "thresholds": [0.5, 0.8, 1.0], "notification_channels": [
             {"type": "webhook", "url": f"{webhook.url}/daily", "secret_env": HOOK_SECRET_ENV},
             mailbox.channel("ops@example.com")]},
        {"id": "chat-monthly", "app_id": "chatbot", "window": "monthly", "timezone": BERLIN, "limit": 20,
         "thresholds": [0.5], "notification_channels": [{"type": "webhook", "url": f"{webhook.url}/monthly"}]},
    ]}).budgets


def _service(client, clock, instance_id=None) -> BudgetService:
    return BudgetService(lambda: client, clock=clock, notifier=Notifier(backoff_seconds=0.01),
                         instance_id=instance_id)


def _spend(client, observer: BudgetService, when: float, calls: int) -> None:
    """`calls` gpt-4o calls of $1.50 each, five minutes before `when`, stored and observed."""
    made = [llm_call(when - 300 + i) for i in range(calls)]
    store_calls(client, made)
    observer.observe(made)


def _crossed(webhook, path) -> list[list[str]]:
    return [doc["thresholds_crossed"] for doc in webhook.documents(path)]


def _crossed_per_window(webhook, path) -> list[list[str]]:
    """The thresholds alerted in each window (the key's middle part), in window order."""
    windows: dict[str, list[str]] = {}
    for doc in webhook.documents(path):
        windows.setdefault(doc["key"].split("|")[1], []).extend(doc["thresholds_crossed"])
    return [sorted(thresholds) for _, thresholds in sorted(windows.items())]


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)


def test_each_threshold_alerts_once_per_window_across_a_day_and_a_month(clickhouse, webhook, mailbox):
    clock = Clock(at("2026-02-28 20:00", BERLIN))
    service = _service(clickhouse, clock)
    service.set_budgets(_budgets(webhook, mailbox))

    def evaluate_twice() -> None:
        service.reconcile()
        service.evaluate()
        service.evaluate()  # nothing new: a threshold alerts once per window

    _spend(clickhouse, service, clock.now, 4)  # day: 4 × 1.50 = 6.00 of 10 (60 %); month 6.00 of 20
    evaluate_twice()
    assert _crossed(webhook, "/daily") == [["0.5"]]
    assert _crossed(webhook, "/monthly") == []

    clock.now = at("2026-02-28 22:00", BERLIN)
    _spend(clickhouse, service, clock.now, 2)  # day: 9.00 (90 %)
    evaluate_twice()
    assert _crossed(webhook, "/daily") == [["0.5"], ["0.8"]]

    clock.now = at("2026-02-28 23:30", BERLIN)
    _spend(clickhouse, service, clock.now, 1)  # day: 10.50 (105 %); month: 10.50 of 20 (52.5 %)
    evaluate_twice()
    assert _crossed(webhook, "/daily") == [["0.5"], ["0.8"], ["1"]]
    assert _crossed(webhook, "/monthly") == [["0.5"]]

    # 00:30 on 1 March in Berlin is still 28 February in UTC: a new day and a new month here.
    clock.now = at("2026-03-01 00:30", BERLIN)
    _spend(clickhouse, service, clock.now, 4)  # the new day: 6.00; the new month: 6.00
    evaluate_twice()
    assert _crossed(webhook, "/daily") == [["0.5"], ["0.8"], ["1"], ["0.5"]]
    assert _crossed(webhook, "/monthly") == [["0.5"]]

    clock.now = at("2026-03-01 02:00", BERLIN)
    _spend(clickhouse, service, clock.now, 3)  # day and month: 10.50; two thresholds in one message
    evaluate_twice()
    assert _crossed(webhook, "/daily") == [["0.5"], ["0.8"], ["1"], ["0.5"], ["1", "0.8"]]
    assert _crossed(webhook, "/monthly") == [["0.5"], ["0.5"]]

    daily = webhook.documents("/daily")
    assert [doc["key"] for doc in daily] == [
        "chat-daily|2026-02-27T23:00:00Z|0.5", "chat-daily|2026-02-27T23:00:00Z|0.8",
        "chat-daily|2026-02-27T23:00:00Z|1", "chat-daily|2026-02-28T23:00:00Z|0.5",
        "chat-daily|2026-02-28T23:00:00Z|1"]
    assert [doc["status"]["spend"] for doc in daily] == ["6", "9", "10.5", "6", "10.5"]
    assert [doc["key"] for doc in webhook.documents("/monthly")] == [
        "chat-monthly|2026-01-31T23:00:00Z|0.5", "chat-monthly|2026-02-28T23:00:00Z|0.5"]

    # The same five daily alerts by email, through STARTTLS and login.
    assert len(mailbox.messages) == 5
    assert all(m["tls"] and m["authenticated"] and m["to"] == ["ops@example.com"] for m in mailbox.messages)
    subjects = [email.message_from_bytes(m["content"])["Subject"] for m in mailbox.messages]
    assert subjects[2] == "[llmledger] Budget chat-daily at 105% of $10.00"

    # The alert log holds one claim per message (0.8 and 1 crossed together count as one);
    # every delivery went through.
    assert clickhouse.query("SELECT count(), uniqExact(dedup_key) FROM budget_alerts").result_rows == [(7, 7)]
    assert clickhouse.query(
        "SELECT channel, countIf(ok AND final) FROM notification_deliveries GROUP BY channel ORDER BY channel"
    ).result_rows == [("email", 5), ("webhook", 7)]


def test_webhook_requests_are_signed(clickhouse, webhook, mailbox):
    clock = Clock(at("2026-02-28 20:00", BERLIN))
    service = _service(clickhouse, clock)
    service.set_budgets(_budgets(webhook, mailbox))
    _spend(clickhouse, service, clock.now, 4)
    service.evaluate()
    [request] = [r for r in webhook.requests if r["path"] == "/daily"]
    timestamp = request["headers"]["X-Llmledger-Timestamp"]
    expected = hmac.new(HOOK_SECRET.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256)
    assert request["headers"]["X-Llmledger-Signature"] == "sha256=" + expected.hexdigest()
    assert request["headers"]["X-Llmledger-Alert-Key"] == "chat-daily|2026-02-27T23:00:00Z|0.5"


def test_two_evaluators_at_once_send_each_alert_once(clickhouse, chdb_dir, webhook, mailbox):
    clock = Clock(at("2026-02-28 20:00", BERLIN))
    first = _service(clickhouse, clock, "replica-a")
    second_client = connect(data_dir=chdb_dir, database=clickhouse.database)
    second = _service(second_client, clock, "replica-b")
    first.set_budgets(_budgets(webhook, mailbox))

    def both_evaluate() -> None:
        for service in (first, second):
            service.reconcile()
        start = threading.Barrier(2)
        errors = []

        def run(service):
            try:
                start.wait()
                service.evaluate()
            except Exception as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    for when, calls in (("2026-02-28 20:00", 4), ("2026-02-28 22:00", 2), ("2026-02-28 23:30", 1),
                        ("2026-03-01 00:30", 4), ("2026-03-01 02:00", 3)):
        clock.now = at(when, BERLIN)
        _spend(clickhouse, first, clock.now, calls)
        both_evaluate()
        both_evaluate()

    # Thresholds crossed together go out in one message, or in two when the evaluators split
    # the claims between them: either way each threshold once per window.
    assert _crossed_per_window(webhook, "/daily") == [["0.5", "0.8", "1"], ["0.5", "0.8", "1"]]
    assert _crossed_per_window(webhook, "/monthly") == [["0.5"], ["0.5"]]
    assert len(mailbox.messages) == len(webhook.documents("/daily"))  # the daily budget also emails
    claimants = clickhouse.query("SELECT DISTINCT claimant FROM budget_alerts").result_rows
    assert set(claimants) <= {("replica-a",), ("replica-b",)}


def test_a_restarted_evaluator_does_not_repeat_alerts(clickhouse, webhook, mailbox):
    clock = Clock(at("2026-02-28 22:00", BERLIN))
    before = _service(clickhouse, clock)
    before.set_budgets(_budgets(webhook, mailbox))
    _spend(clickhouse, before, clock.now, 6)  # 9.00 of 10: 0.5 and 0.8 at once
    before.evaluate()
    assert _crossed(webhook, "/daily") == [["0.8", "0.5"]]

    after = _service(clickhouse, clock)  # a new process on the same store
    after.evaluate()
    assert _crossed(webhook, "/daily") == [["0.8", "0.5"]]

    clock.now = at("2026-02-28 23:00", BERLIN)
    _spend(clickhouse, after, clock.now, 1)  # 10.50: only 1.0 is new
    after.reconcile()
    after.evaluate()
    assert _crossed(webhook, "/daily") == [["0.8", "0.5"], ["1"]]
    assert len(mailbox.messages) == 2


def test_a_failing_channel_does_not_hold_up_the_others(clickhouse, webhook, mailbox):
    clock = Clock(at("2026-05-20 12:00"))
    closed_port = f"http://127.0.0.1:{_closed_port()}/hook"
    service = _service(clickhouse, clock)
    service.set_budgets(parse_budget_document({"budgets": [
        {"id": "day", "app_id": "chatbot", "window": "daily", "limit": 1, "thresholds": [1],
         "notification_channels": [{"type": "webhook", "url": closed_port},
                                    {"type": "slack", "webhook": f"{webhook.url}/slack"},
                                    mailbox.channel("ops@example.com")]}]}).budgets)
    _spend(clickhouse, service, clock.now, 1)

    [fired] = service.evaluate()
    outcomes = {d.channel: (d.ok, d.attempts) for d in fired.deliveries}
    assert outcomes == {"webhook": (False, 3), "slack": (True, 1), "email": (True, 1)}
    assert len(webhook.documents("/slack")) == 1 and len(mailbox.messages) == 1
    log = clickhouse.query("SELECT channel, attempt, ok, final FROM notification_deliveries "
                           "ORDER BY channel, attempt").result_rows
    # The webhook's round of three attempts failed, but is not final: a later round retries it.
    assert log == [("email", 1, True, True), ("slack", 1, True, True), ("webhook", 1, False, False),
                   ("webhook", 2, False, False), ("webhook", 3, False, False)]


def test_anomaly_alerts_are_sent_once(clickhouse, webhook):
    clock = Clock(at("2026-05-20 12:00"))
    spike = Anomaly(kind="hourly_spike", app="chatbot", model="gpt-4o", at=datetime(2026, 5, 20, 11, 0),
                    observed=Decimal("42.00"), baseline=Decimal("3.00"), threshold=Decimal("5.25"), score=8.0,
                    requests=28, baseline_samples=168, trace_ids=("ab" * 16,), description="spend 14x the usual")
    channels = parse_budget_document({"budgets": [], "anomaly_alerts": {"notification_channels": [
        {"type": "webhook", "url": f"{webhook.url}/anomalies"}]}}).anomaly_channels

    def service():
        return BudgetService(lambda: clickhouse, clock=clock, anomalies=lambda: [anomaly_alert(spike)],
                             anomaly_channels=channels)

    first = service()
    first.evaluate()
    first.evaluate()  # detection finds the same spike again: no second message
    service().evaluate()  # nor after a restart
    [document] = webhook.documents("/anomalies")
    assert document["key"] == "anomaly|hourly_spike|chatbot|gpt-4o|2026-05-20T11:00:00Z"
    assert document["title"] == "Anomaly: hourly spike on chatbot / gpt-4o"
    assert (document["anomaly"]["observed"], document["anomaly"]["baseline"]) == ("42", "3")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_thresholds_use_exact_amounts(clickhouse, webhook, mailbox):
    clock = Clock(at("2026-05-20 12:00"))
    service = _service(clickhouse, clock)
    service.set_budgets(parse_budget_document({"budgets": [
        {"id": "tiny", "app_id": "chatbot", "window": "daily", "limit": "0.3", "thresholds": [1],
         "notification_channels": [{"type": "webhook", "url": f"{webhook.url}/tiny"}]}]}).budgets)
    # text-embedding-3-small at $0.02 per 1M tokens: 5,000 × 0.02 / 1M = 0.0001 a call.
    embed = {"model": "text-embedding-3-small", "input_tokens": 5_000, "output_tokens": 0,
             "cost": Decimal("0.0001")}
    store_calls(clickhouse, [llm_call(clock.now - 600 + i % 60, **embed) for i in range(2999)])
    service.reconcile()
    service.evaluate()
    assert webhook.documents("/tiny") == []  # 2,999 × 0.0001 = 0.2999 < 0.3
    store_calls(clickhouse, [llm_call(clock.now - 590, **embed)])
    service.reconcile()
    service.evaluate()
    assert [doc["status"]["spend"] for doc in webhook.documents("/tiny")] == ["0.3"]  # 3,000 × 0.0001
