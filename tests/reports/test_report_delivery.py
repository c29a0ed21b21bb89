"""Scheduled reports reach people: email (a local aiosmtpd server with STARTTLS and login) with
the charts inside the message, Slack and webhooks (a local HTTP receiver); once per period
whichever of several schedulers runs and however often, retried when a channel fails."""
from __future__ import annotations

import email
import email.policy
import threading
from datetime import date, datetime, timezone
from decimal import Decimal

from report_month import APRIL, MARCH

from llmledger.processor import format as fmt
from llmledger.processor.notify import Notifier, SmtpSettings
from llmledger.processor.pricing import Pricer
from llmledger.processor.reports.build import ReportSettings
from llmledger.processor.reports.schedule import parse_schedules
from llmledger.processor.reports.scheduler import ReportScheduler
from local_servers import WebhookReceiver, free_port
from report_checks import assert_a_drawn_chart, images_of

PAGES = "http://pages.example"
OVERVIEW = f"{PAGES}/?from=2025-03-01&to=2025-03-31&tz=UTC"


class Clock:
    def __init__(self, moment: datetime):
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now


def scheduler(client, schedule_id: str, channels: list[dict], clock, *, instance_id: str | None = None,
              period: str = "month") -> ReportScheduler:
    [schedule] = parse_schedules([{"id": schedule_id, "period": period, "send_at": "08:00", "channels": channels}])
    return ReportScheduler([schedule], client_factory=lambda: client, clock=clock, instance_id=instance_id,
                           notifier=Notifier(backoff_seconds=0.01, smtp=SmtpSettings()), pricer=Pricer(),
                           settings=lambda: ReportSettings(pages_url=PAGES))


def march_cost(calls) -> Decimal:
    return sum((c.cost for c in calls if c.cost is not None and MARCH.timestamp() * 10**9 <= c.timestamp_ns
                < APRIL.timestamp() * 10**9), Decimal(0))


def test_the_email_has_the_html_report_with_its_charts_inside(report_client, report_calls, mailbox):
    clock = Clock(datetime(2025, 4, 1, 9, 0, tzinfo=timezone.utc))
    [sent] = scheduler(report_client, "email-monthly", [mailbox.channel("finops@example.com")], clock).run_once()
    assert [(d.channel, d.ok) for d in sent.deliveries] == [("email", True)]

    [received] = mailbox.messages
    assert (received["to"], received["tls"], received["authenticated"]) == (["finops@example.com"], True, True)
    message = email.message_from_bytes(received["content"], policy=email.policy.default)
    assert message["Subject"] == "[llmledger] LLM costs, March 2025"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    total = fmt.money(march_cost(report_calls))
    assert f"{total} spent on" in text and OVERVIEW in text
    assert total in html and "Top movers" in html and "WHAT-IF" in html

    inline = {part["Content-ID"].strip("<>"): part for part in message.walk() if part["Content-ID"]}
    sources = [image["src"] for image in images_of(html)]
    assert len(sources) == 5 and all(src.startswith("cid:") for src in sources)
    for src in sources:  # each chart travels in the message, next to the HTML that shows it
        part = inline[src[len("cid:"):]]
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        assert_a_drawn_chart(part.get_content())
    # multipart/related holds the HTML and its images: clients show them without fetching anything.
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html"] + ["image/png"] * 5


def test_slack_gets_the_headline_and_a_link_to_the_pages(report_client, report_calls, webhook):
    clock = Clock(datetime(2025, 4, 2, 12, 0, tzinfo=timezone.utc))
    channel = {"type": "slack", "webhook": f"{webhook.url}/services/T000/B000/XXXX"}
    [sent] = scheduler(report_client, "slack-monthly", [channel], clock).run_once()
    assert [d.ok for d in sent.deliveries] == [True]
    [message] = webhook.documents("/services/T000/B000/XXXX")
    assert message["text"].startswith("LLM costs, March 2025: ")
    header, summary, fields, link, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "LLM costs, March 2025", "emoji": True}}
    assert fmt.money(march_cost(report_calls)) in summary["text"]["text"]
    assert {"type": "mrkdwn", "text": f"*Spend*\n{fmt.money(march_cost(report_calls))}"} in fields["fields"]
    assert len(fields["fields"]) <= 10
    assert link == {"type": "section", "text": {"type": "mrkdwn", "text": f"<{OVERVIEW}|Open in llmledger>"}}
    assert context["type"] == "context"


def test_a_webhook_gets_the_report_json(report_client, report_calls, webhook):
    clock = Clock(datetime(2025, 4, 3, 8, 0, tzinfo=timezone.utc))
    scheduler(report_client, "hook-monthly", [{"type": "webhook", "url": f"{webhook.url}/hook"}], clock).run_once()
    [document] = webhook.documents("/hook")
    assert (document["kind"], document["title"], document["link"]) == ("report", "LLM costs, March 2025", OVERVIEW)
    assert Decimal(document["report"]["headline"]["cost"]) == march_cost(report_calls)
    assert document["report"]["period"]["first_day"] == "2025-03-01"
    assert webhook.requests[0]["headers"]["X-Llmledger-Alert-Key"] == document["key"]


def test_two_schedulers_and_a_restart_send_one_report(report_client, webhook):
    clock = Clock(datetime(2025, 4, 1, 8, 30, tzinfo=timezone.utc))
    channels = [{"type": "webhook", "url": f"{webhook.url}/twice"}]
    first, second = (scheduler(report_client, "replicas", channels, clock, instance_id=name) for name in ("a", "b"))
    results = {}
    threads = [threading.Thread(target=lambda s=s: results.setdefault(s.instance_id, s.run_once()))
               for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(webhook.documents("/twice")) == 1
    assert sorted(len(found) for found in results.values()) == [0, 1]  # one of them sent it

    clock.now += 6 * 3600  # later that day, and after a restart: still one
    restarted = scheduler(report_client, "replicas", channels, clock, instance_id="c")
    assert restarted.run_once() == [] and first.run_once() == []
    assert len(webhook.documents("/twice")) == 1
    claims = report_client.query("SELECT count() FROM budget_alerts WHERE kind = 'report' AND budget_id = 'replicas'")
    assert claims.result_rows == [(1,)]


def test_a_report_is_due_from_its_send_time_on_the_day_after_its_period(report_client, webhook):
    channels = [{"type": "webhook", "url": f"{webhook.url}/daily"}]
    clock = Clock(datetime(2025, 3, 21, 7, 59, tzinfo=timezone.utc))
    daily = scheduler(report_client, "daily", channels, clock, period="day")
    daily.run_once()  # before 08:00 on the 21st: the report of the 19th is the latest due
    clock.now += 60  # 08:00: the 20th's is due
    daily.run_once()
    days = [d["report"]["period"]["first_day"] for d in webhook.documents("/daily")]
    assert days == ["2025-03-19", "2025-03-20"]
    outlier_day = webhook.documents("/daily")[1]["report"]
    assert [a["kind"] for a in outlier_day["anomalies"]] == ["request_outlier"]


def test_a_failed_send_is_retried_until_it_gets_through(report_client):
    port = free_port()  # nothing listens here yet
    clock = Clock(datetime(2025, 4, 1, 9, 0, tzinfo=timezone.utc))
    sender = scheduler(report_client, "retried", [{"type": "webhook", "url": f"http://127.0.0.1:{port}/r"}], clock)
    [first] = sender.run_once()
    assert (first.retry, [d.ok for d in first.deliveries]) == (False, [False])
    [pending] = sender.undelivered()
    assert (pending.state, pending.attempts, pending.next_attempt_at) == ("pending", 3, clock.now + 60)

    receiver = WebhookReceiver(port)
    try:
        clock.now += 30
        assert sender.run_once() == []  # the next round is not due yet
        clock.now += 31
        [again] = sender.run_once()
        assert (again.retry, [d.ok for d in again.deliveries]) == (True, [True])
        clock.now += 3600
        assert sender.run_once() == []
        assert [d["report"]["period"]["first_day"] for d in receiver.documents("/r")] == ["2025-03-01"]
    finally:
        receiver.close()
    assert sender.undelivered() == []


def test_the_inline_charts_are_the_reports_own(report_client, mailbox):
    """The email's images decode to the same charts `report_charts` draws for the period."""
    from llmledger.processor.analytics import runner_for_client
    from llmledger.processor.reports.build import build_report
    from llmledger.processor.reports.periods import period_of
    from llmledger.processor.reports.render import report_charts

    clock = Clock(datetime(2025, 4, 4, 9, 0, tzinfo=timezone.utc))
    scheduler(report_client, "email-charts", [mailbox.channel()], clock).run_once()
    message = email.message_from_bytes(mailbox.messages[0]["content"], policy=email.policy.default)
    sent = [part.get_content() for part in message.walk() if part.get_content_type() == "image/png"]
    report = build_report(runner_for_client(report_client), period_of("month", date(2025, 3, 1)), pricer=Pricer(),
                          settings=ReportSettings(pages_url=PAGES))
    drawn = [chart.data for chart in report_charts(report)]
    assert sent == drawn  # drawing is deterministic: the same data gives the same bytes
