"""An alert whose channel fails is not lost: it is retried in later rounds, with backoff,
across evaluations and restarts (the state is in ClickHouse) and by whichever of several
replicas runs, until it gets through or its window ends. Against a real local webhook
server and a real SMTP server (aiosmtpd) that are down, then up."""
from __future__ import annotations

import email
import threading

from budget_harness import Clock, WebhookReceiver, at, free_port, llm_call, store_calls
from llmledger.processor.budgets import BudgetService, parse_budget_document
from llmledger.processor.notify import Notifier, SmtpSettings
from llmledger.processor.storage.client import connect

KEY = "day|2026-05-20T00:00:00Z|1"  # the alert below: budget "day", its window, threshold 1


def _service(client, clock, *, smtp=None, instance_id=None) -> BudgetService:
    """A processor's budget service; a new one on the same store is a restart. Rounds are
    retried 60 s after the first failure, then 120 s, 240 s … at most 30 min."""
    notifier = Notifier(backoff_seconds=0.01, smtp=smtp or SmtpSettings())
    return BudgetService(lambda: client, clock=clock, notifier=notifier, instance_id=instance_id)


def _daily_budget(service: BudgetService, client, clock, *channels: dict) -> None:
    """A $1 daily budget (UTC) that one $1.50 call has just exceeded."""
    service.set_budgets(parse_budget_document({"budgets": [
        {"id": "day", "app_id": "chatbot", "window": "daily", "limit": 1, "thresholds": [1],
         "notification_channels": list(channels)}]}).budgets)
    store_calls(client, [llm_call(clock.now - 60)])
    service.reconcile()


def _log(client) -> list[tuple]:
    return client.query("SELECT round, attempt, ok, final, left(error, 18) FROM notification_deliveries "
                        "ORDER BY attempted_at").result_rows


def test_a_webhook_that_is_down_gets_the_alert_once_it_is_back(clickhouse):
    clock = Clock(at("2026-05-20 12:00"))
    port = free_port()  # nothing listens here yet
    service = _service(clickhouse, clock)
    _daily_budget(service, clickhouse, clock, {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"})

    [fired] = service.evaluate()
    assert (fired.key, fired.retry, [d.ok for d in fired.deliveries]) == (KEY, False, [False])
    [pending] = service.undelivered()
    assert (pending.alert_key, pending.state, pending.attempts, pending.next_attempt_at) == (
        KEY, "pending", 3, clock.now + 60)
    assert pending.last_error.startswith(f"cannot reach http://127.0.0.1:{port}")

    clock.now += 30
    assert service.evaluate() == []  # the next round is not due yet

    receiver = WebhookReceiver(port)  # the webhook is back
    try:
        clock.now += 31
        [retried] = service.evaluate()
        assert (retried.key, retried.retry, [d.ok for d in retried.deliveries]) == (KEY, True, [True])
        clock.now += 3600
        assert service.evaluate() == []
        [document] = receiver.documents("/hook")
        assert (document["key"], document["thresholds_crossed"], document["status"]["spend"]) == (KEY, ["1"], "1.5")
    finally:
        receiver.close()
    assert service.undelivered() == []
    assert _log(clickhouse) == [(1, 1, False, False, "cannot reach http:"), (1, 2, False, False, "cannot reach http:"),
                                (1, 3, False, False, "cannot reach http:"), (2, 1, True, True, "")]


def test_email_without_an_smtp_server_is_sent_once_there_is_one_even_after_restarts(clickhouse, smtp_server):
    clock = Clock(at("2026-05-20 12:00"))
    first = _service(clickhouse, clock)  # no SMTP server configured at all
    _daily_budget(first, clickhouse, clock, {"type": "email", "recipients": ["ops@example.com"]})
    [fired] = first.evaluate()
    assert fired.deliveries[0].error.startswith("no SMTP server configured")

    # Restarted with LLMLEDGER_SMTP_* set, but the mail server is not up yet.
    smtp = SmtpSettings.parse({k: v for k, v in smtp_server.channel()["smtp"].items()})
    clock.now += 60
    second = _service(clickhouse, clock, smtp=smtp)
    [retried] = second.evaluate()
    assert retried.retry and retried.deliveries[0].error.startswith("cannot send through 127.0.0.1")
    [pending] = second.undelivered()
    assert (pending.state, pending.rounds, pending.attempts, pending.next_attempt_at) == (
        "pending", 2, 4, clock.now + 120)

    smtp_server.start()
    clock.now += 120
    third = _service(clickhouse, clock, smtp=smtp)  # and restarted once more
    [delivered] = third.evaluate()
    assert delivered.retry and delivered.deliveries[0].ok
    assert third.evaluate() == [] and _service(clickhouse, clock, smtp=smtp).evaluate() == []

    [received] = smtp_server.messages
    message = email.message_from_bytes(received["content"])
    assert (message["X-Llmledger-Alert-Key"], message["Subject"]) == (KEY, "[llmledger] Budget day at 150% of $1.00")
    assert received["tls"] and received["authenticated"]
    assert [row[:4] for row in _log(clickhouse)] == [
        (1, 1, False, False), (2, 1, False, False), (2, 2, False, False), (2, 3, False, False), (3, 1, True, True)]
    assert third.undelivered() == []


def test_several_replicas_retry_a_failed_delivery_once(clickhouse, chdb_dir, webhook):
    clock = Clock(at("2026-05-20 12:00"))
    replicas = [_service(clickhouse, clock, instance_id="replica-a"),
                _service(connect(data_dir=chdb_dir, database=clickhouse.database), clock, instance_id="replica-b")]
    _daily_budget(replicas[0], clickhouse, clock, {"type": "webhook", "url": f"{webhook.url}/hook"})
    webhook.answers.extend([(503, {})] * 3)  # the first round fails, then the receiver recovers

    def all_evaluate() -> list:
        for replica in replicas:
            replica.reconcile()
        barrier, fired = threading.Barrier(len(replicas)), []

        def run(replica):
            barrier.wait()
            fired.extend(replica.evaluate())

        threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return fired

    for _ in range(3):
        all_evaluate()
        clock.now += 61
    assert [r["headers"]["X-Llmledger-Alert-Key"] for r in webhook.requests] == [KEY] * 4  # 3 × 503, then 200
    assert len(webhook.documents("/hook")) == 4
    assert clickhouse.query("SELECT round, count() FROM notification_claims GROUP BY round ORDER BY round"
                            ).result_rows == [(1, 1), (2, 1)]
    assert clickhouse.query("SELECT count() FROM notification_deliveries WHERE ok").result_rows == [(1,)]


def test_retrying_stops_when_the_window_ends_and_the_delivery_shows_as_failed(clickhouse):
    clock = Clock(at("2026-05-20 23:00"))
    service = _service(clickhouse, clock)
    port = free_port()  # never listening
    _daily_budget(service, clickhouse, clock, {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"})

    # Rounds at 23:00, then 60 s, 120 s, 240 s, 480 s and 960 s after the one before: 23:01,
    # 23:03, 23:07, 23:15, 23:31. The next would be 30 min later, after midnight: none.
    for when in ("23:00", "23:01", "23:03", "23:07", "23:15", "23:31", "23:45", "23:59"):
        clock.now = at(f"2026-05-20 {when}")
        service.evaluate()
    rounds = clickhouse.query("SELECT round, countIf(final) FROM notification_deliveries GROUP BY round "
                              "ORDER BY round").result_rows
    assert rounds == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 1)]  # only the very last attempt is final

    [failed] = service.undelivered()
    assert (failed.state, failed.rounds, failed.attempts, failed.next_attempt_at) == ("failed", 6, 18, None)
    assert failed.gives_up_at == at("2026-05-21 00:00")
    clock.now = at("2026-05-21 00:05")
    assert service.evaluate() == []
    assert [d.state for d in service.undelivered()] == ["failed"]  # shown for a week after
    clock.now = at("2026-05-28 00:05")
    assert service.undelivered() == []
