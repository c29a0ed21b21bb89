"""`llmledger report` and `llmledger plot` as users run them: against a store, and while `serve`
holds the embedded one; `report send --dry-run`; and serve sending a scheduled report on
its own, once, also across a restart."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml

from llm_traffic import GPT_4O_MINI_CHAT, GPT_4O_MINI_COST, export_spans
from llmledger.processor.cli import main
from llmledger.processor.config import ConfigError, load_config
from service_harness import start_service


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def store_args(report_client, chdb_dir, monkeypatch):
    """Flags (and the database's variable) that point a command at the known months."""
    monkeypatch.setenv("LLMLEDGER_STORAGE_DATABASE", report_client.database)
    return ["--data-dir", str(chdb_dir)]


def test_the_report_of_a_month_as_json_markdown_and_html(capsys, store_args, tmp_path, report_calls):
    code, out, err = _run(capsys, ["report", "--period", "month", "--of", "2025-03-15", "--format", "json",
                                   *store_args])
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["period"]["label"] == "March 2025"
    march = [c for c in report_calls if datetime(2025, 3, 1, tzinfo=timezone.utc).timestamp() * 1e9
             <= c.timestamp_ns < datetime(2025, 4, 1, tzinfo=timezone.utc).timestamp() * 1e9]
    assert Decimal(document["headline"]["cost"]) == sum((c.cost for c in march if c.cost is not None), Decimal(0))

    out_file = tmp_path / "march.md"
    code, out, err = _run(capsys, ["report", "--period", "month", "--of", "2025-03-15", "--out", str(out_file),
                                   *store_args])
    assert code == 0 and out == "" and err == f"wrote LLM costs, March 2025 to {out_file}\n"
    assert out_file.read_text().startswith("# LLM costs, March 2025")

    code, out, _ = _run(capsys, ["report", "--from", "2025-03-03", "--to", "2025-03-10", "--tz", "Europe/Berlin",
                                 "--scope", "team=platform", *store_args])
    assert code == 0 and out.startswith("<!DOCTYPE html>")
    assert "LLM costs, 2025-03-03 – 2025-03-09: team platform" in out


@pytest.mark.parametrize("argv, message", [
    (["--scope", "colour=blue"], "scope 'colour=blue': use all, or one of app, team, tenant"),
    (["--from", "2025-03-10", "--to", "2025-03-03"], "empty report period: 2025-03-10 is not before 2025-03-03"),
    (["--from", "2025-03-10"], "a custom range needs both --from and --to"),
    (["--period", "week", "--from", "2025-03-01", "--to", "2025-03-08"], "give either --period/--of or --from/--to"),
    (["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
])
def test_bad_options_are_a_clear_error(capsys, store_args, argv, message):
    code, out, err = _run(capsys, ["report", *argv, *store_args])
    assert code == 1 and out == ""
    assert err.startswith(f"llmledger: {message}")


def test_plot_writes_the_charts(capsys, store_args, tmp_path):
    code, out, _ = _run(capsys, ["plot", "share", "--by", "provider", "--period", "month", "--of", "2025-03-01",
                                 "--out", str(tmp_path / "share.svg"), *store_args])
    assert code == 0 and out == f"wrote {tmp_path / 'share.svg'}\n"
    assert (tmp_path / "share.svg").read_bytes().startswith(b"<?xml")
    code, out, _ = _run(capsys, ["plot", "all", "--period", "month", "--of", "2025-03-01",
                                 "--out", str(tmp_path / "charts"), *store_args])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "burn-down.png", "cost-requests.png", "share.png", "tokens.png", "trend.png"]
    assert all((tmp_path / "charts" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in ("trend.png", "share.png"))


def _config(tmp_path, schedules, **reports) -> str:
    path = tmp_path / "llmledger.yaml"
    path.write_text(yaml.safe_dump({"reports": {"schedules": schedules, **reports}}))
    return str(path)


def test_a_mistake_in_a_schedule_names_it(tmp_path):
    path = _config(tmp_path, [{"id": "weekly", "period": "fortnight", "channels": [{"type": "slack"}]}])
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems == [
        f"{path}:2: reports.schedules: schedule 'weekly': period: must be one of day, week, month, got 'fortnight'"]
    path = _config(tmp_path, [{"id": "weekly", "channels": [{"type": "slack"}]}])
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems[0].endswith("schedule 'weekly': channel 1: webhook: is required")


def test_serve_sends_a_scheduled_report_once_and_the_commands_read_through_it(capsys, tmp_path, webhook):
    """serve on its own data directory: the CLI reaches its embedded store through it, and
    its report scheduler sends yesterday's report once, not again after a restart."""
    config = _config(tmp_path, [{"id": "daily-hook", "period": "day", "send_at": "00:00",
                                 "channels": [{"type": "webhook", "url": f"{webhook.url}/reports"}]}],
                     check_interval_s=1)
    data_dir = tmp_path / "data"
    service = start_service(data_dir, "--config", config)
    try:
        export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)] * 2)
        # The drain writes in the background; on a busy machine it may take a while.
        assert service.wait_for("SELECT count() FROM llm_spans", 2, timeout=120) == 2
        # The rollups' parts may become visible a moment after the table's (the report reads them).
        assert service.wait_for("SELECT sum(requests) FROM llm_cost_hourly", 2, timeout=30) == 2
        today = datetime.now(timezone.utc).date().isoformat()
        code, out, err = _run(capsys, ["report", "--period", "day", "--of", today, "--format", "json",
                                       "--data-dir", str(data_dir)])
        assert (code, err) == (0, "")
        # Two calls at 800 x 0.15 + 200 x 0.075 + 100 x 0.60 per 1M tokens: 2 x $0.000195.
        headline = json.loads(out)["headline"]
        assert Decimal(headline["cost"]) == 2 * GPT_4O_MINI_COST, (headline, service.query(
            "SELECT timestamp, cost, sign, status FROM llm_spans"))

        code, out, _ = _run(capsys, ["plot", "trend", "--period", "day", "--of", today,
                                     "--out", str(tmp_path / "today.png"), "--data-dir", str(data_dir)])
        assert code == 0 and (tmp_path / "today.png").stat().st_size > 10_000

        code, out, err = _run(capsys, ["report", "send", "--dry-run", "--config", config, "--data-dir", str(data_dir)])
        assert code == 0, err
        yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
        assert out.startswith(f"daily-hook: {yesterday} (")
        assert f"to webhook {webhook.url}" in out and "subject: [llmledger] LLM costs, " in out

        document = _wait_for_documents(webhook, "/reports", 1)[0]
        assert document["report"]["period"]["first_day"] == yesterday
        assert document["link"].startswith(service.http_url + "/?from=" + yesterday)
        code, out, err = _run(capsys, ["report", "send", "--config", config, "--data-dir", str(data_dir)])
        assert code == 1 and "serve` holds this store and sends the scheduled reports itself" in err
    finally:
        service.stop()

    restarted = start_service(data_dir, "--config", config)
    try:
        time.sleep(4)  # several passes of the scheduler
        assert len(webhook.documents("/reports")) == 1
        code, out, _ = _run(capsys, ["report", "send", "--dry-run", "--format", "json", "--config", config,
                                     "--data-dir", str(data_dir)])
        [entry] = json.loads(out)
        assert entry["state"].startswith("sent: claimed by ")
    finally:
        restarted.stop()


def _wait_for_documents(receiver, path: str, count: int, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(receiver.documents(path)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    documents = receiver.documents(path)
    assert len(documents) == count, f"{len(documents)} reports arrived"
    return documents
