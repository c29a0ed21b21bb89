"""`llmledger budgets list|set|delete|status|evaluate`, on the store directly and through a
running service."""
from __future__ import annotations

import argparse
import json
import os
import time
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from budget_harness import ThreadedUvicorn, llm_call, store_calls
from llmledger.processor.budgets import BudgetService, budget_routes
from llmledger.processor.cli import budgets as budgets_cli
from llmledger.processor.query import run_query
from llmledger.processor.service import SERVICE_FILE

TOKEN = "cli-test-token"


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmledger")
    budgets_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["budgets", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def on_store(clickhouse, chdb_dir, monkeypatch):
    """CLI arguments that open the test's database in the process's embedded store."""
    monkeypatch.setenv("LLMLEDGER_STORAGE_DATABASE", clickhouse.database)
    return ["--data-dir", str(chdb_dir)]


def test_set_list_status_delete_on_the_store(capsys, clickhouse, on_store, tmp_path):
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - app_id: chatbot\n    daily_limit: 500.0\n    monthly_limit: 10000.0\n")
    assert _cli(capsys, "set", "--file", str(path), *on_store)[:2] == (
        0, "set 2 budgets: chatbot.daily, chatbot.monthly\n")
    code, out, _ = _cli(capsys, "set", "--app", "mail", "--window", "rolling", "--duration", "24h", "--limit", "4",
                        "--thresholds", "0.5,1", "--soft", "--webhook", "http://127.0.0.1:9/hook", *on_store)
    assert (code, out) == (0, "set 1 budget: mail.rolling\n")

    code, out, _ = _cli(capsys, "list", "--format", "json", *on_store)
    listed = {row["id"]: row for row in json.loads(out)}
    assert sorted(listed) == ["chatbot.daily", "chatbot.monthly", "mail.rolling"]
    assert (listed["mail.rolling"]["period"], listed["mail.rolling"]["mode"], listed["mail.rolling"]["channel_types"]
            ) == ("1440m", "soft", "webhook")
    assert Decimal(listed["chatbot.monthly"]["limit_amount"]) == Decimal("10000")

    now = time.time()
    store_calls(clickhouse, [llm_call(now - 120, app="mail"), llm_call(now - 60, app="mail")])
    code, out, _ = _cli(capsys, "status", "--format", "json", *on_store)
    mail = next(s for s in json.loads(out)["budgets"] if s["id"] == "mail.rolling")
    # Two gpt-4o calls of $1.50 in the last 24 h: 3.00 of 4, 75 %, 1.00 left.
    assert (mail["spend"], mail["percent"], mail["remaining"], mail["hard"]) == ("3", "75.00", "1", False)
    code, out, _ = _cli(capsys, "status", *on_store)
    assert code == 0 and "mail.rolling" in out and "degrade" not in out

    assert _cli(capsys, "delete", "mail.rolling", "nope", *on_store) == (
        1, "deleted: mail.rolling\n", "llmledger: no budget nope\n")
    code, out, _ = _cli(capsys, "list", "--format", "json", *on_store)
    assert [row["id"] for row in json.loads(out)] == ["chatbot.daily", "chatbot.monthly"]


def test_set_with_a_tenant_counts_only_that_tenants_calls(capsys, clickhouse, on_store):
    for tenant in ("acme", "globex"):
        code, out, _ = _cli(capsys, "set", "--scope", "user", "--value", "u1", "--tenant", tenant, "--window", "daily",
                            "--limit", "10", *on_store)
        assert (code, out) == (0, f"set 1 budget: {tenant}:user=u1.daily\n")
    code, out, _ = _cli(capsys, "list", "--format", "json", *on_store)
    assert {row["id"]: row["tenant"] for row in json.loads(out)} == {"acme:user=u1.daily": "acme",
                                                                     "globex:user=u1.daily": "globex"}
    now = time.time()
    store_calls(clickhouse, [llm_call(now - 60, user="u1", tenant="acme"), llm_call(now - 60, user="u1", tenant="acme"),
                             llm_call(now - 60, user="u1", tenant="globex")])
    code, out, _ = _cli(capsys, "status", "--format", "json", *on_store)
    # acme's u1 made two gpt-4o calls of $1.50, globex's u1 one.
    assert {s["id"]: (s["tenant"], s["spend"]) for s in json.loads(out)["budgets"]} == {
        "acme:user=u1.daily": ("acme", "3"), "globex:user=u1.daily": ("globex", "1.5")}
    code, out, _ = _cli(capsys, "status", *on_store)
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines() if ":user=u1" in line}
    assert code == 0 and rows == {"acme:user=u1.daily": ["user=u1", "acme"], "globex:user=u1.daily": ["user=u1", "globex"]}


def test_mistakes_in_flags_or_files_exit_2_with_the_key(capsys, on_store, tmp_path):
    code, _, err = _cli(capsys, "set", "--app", "mail", "--window", "daily", "--limit", "-3", *on_store)
    assert (code, err) == (2, "llmledger: command line: budgets[0].limit: must be a positive amount in USD, got '-3'\n")
    path = tmp_path / "b.yaml"
    path.write_text("budgets:\n  - app_id: chat\n    dialy_limit: 5\n")
    code, _, err = _cli(capsys, "set", "--file", str(path), *on_store)
    assert code == 2 and err.startswith(f"llmledger: {path}:3: budgets[0].dialy_limit: unknown key")


def test_evaluate_sends_the_due_alerts_once(capsys, clickhouse, on_store, webhook):
    # A rolling week alerts once per week counted from the epoch: the two runs below fall in one.
    _cli(capsys, "set", "--app", "chatbot", "--window", "rolling", "--duration", "7d", "--limit", "2",
         "--thresholds", "0.5,1", "--webhook", webhook.url + "/cron", *on_store)
    store_calls(clickhouse, [llm_call(time.time() - 60)])  # 1.50 of 2: 75 %
    code, out, _ = _cli(capsys, "evaluate", *on_store)
    assert (code, out) == (0, "Budget chatbot.rolling at 75% of $2.00 (webhook ok)\n")
    assert _cli(capsys, "evaluate", *on_store)[:2] == (0, "no alerts due\n")  # a later cron run
    assert [doc["thresholds_crossed"] for doc in webhook.documents("/cron")] == [["0.5"]]


def test_status_shows_the_alerts_not_delivered_yet(capsys, clickhouse, on_store):
    import socket

    with socket.socket() as probe:  # bound, never listening: the webhook is down
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
        _cli(capsys, "set", "--app", "chatbot", "--window", "rolling", "--duration", "7d", "--limit", "1",
             "--thresholds", "1", "--webhook", down, *on_store)
        store_calls(clickhouse, [llm_call(time.time() - 60)])  # 1.50 of 1
        code, out, _ = _cli(capsys, "evaluate", *on_store)
    assert code == 1 and out.startswith("Budget chatbot.rolling at 150% of $1.00 (webhook FAILED: cannot reach")

    code, out, _ = _cli(capsys, "status", "--format", "json", *on_store)
    [pending] = json.loads(out)["deliveries"]
    assert (pending["budget_id"], pending["channel"], pending["target"], pending["state"], pending["attempts"]) == (
        "chatbot.rolling", "webhook", down.rsplit("/", 1)[0], "pending", 3)
    assert pending["alert"].startswith("chatbot.rolling|") and pending["next_attempt_at"] is not None
    code, out, _ = _cli(capsys, "status", *on_store)
    table = out.split("alerts not delivered yet", 1)[1]
    assert code == 0 and "pending" in table and "cannot reach" in table


@pytest.fixture
def running_service(clickhouse, tmp_path):
    """A stand-in for `llmledger serve`: the budget routes and /v1/query on uvicorn, and its service file."""
    service = BudgetService(lambda: clickhouse)

    async def query(request: Request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await request.json()
        columns, rows = run_query(clickhouse, body["sql"], body.get("parameters"))
        return JSONResponse({"columns": columns, "rows": rows})

    routes = budget_routes(service, authorize=lambda r: r.headers.get("authorization") == f"Bearer {TOKEN}")
    server = ThreadedUvicorn(Starlette(routes=routes + [Route("/v1/query", query, methods=["POST"])]))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / SERVICE_FILE).write_text(json.dumps({"pid": os.getpid(), "http": server.url, "token": TOKEN}))
    yield service, ["--data-dir", str(data_dir)]
    server.stop()


def test_commands_go_to_the_running_service(capsys, clickhouse, running_service, webhook):
    service, args = running_service
    code, out, _ = _cli(capsys, "set", "--app", "chatbot", "--window", "rolling", "--duration", "1h",
                        "--limit", "2", "--webhook", webhook.url + "/svc", *args)
    assert (code, out) == (0, "set 1 budget: chatbot.rolling\n")
    assert [b.id for b in service.budgets()] == ["chatbot.rolling"]  # the service has it at once

    calls = [llm_call(time.time() - 30), llm_call(time.time() - 20)]
    store_calls(clickhouse, calls)
    service.observe(calls)  # 2 × 1.50 = 3.00 of 2
    code, out, _ = _cli(capsys, "status", "--format", "json", *args)
    status = json.loads(out)
    assert [(s["id"], s["spend"], s["exceeded"]) for s in status["budgets"]] == [("chatbot.rolling", "3", True)]
    assert status["deliveries"] == []
    assert _cli(capsys, "list", "--format", "json", *args)[0] == 0

    code, out, _ = _cli(capsys, "evaluate", "--format", "json", *args)
    [alert] = json.loads(out)
    assert (alert["budget_id"], alert["thresholds"], alert["deliveries"][0]["ok"]) == ("chatbot.rolling",
                                                                                    ["1", "0.8"], True)
    assert _cli(capsys, "delete", "chatbot.rolling", *args)[:2] == (0, "deleted: chatbot.rolling\n")
    assert service.budgets() == []
