"""The Grafana dashboard in dashboards/, checked without Grafana.

Every panel's and variable's SQL is expanded the way Grafana and its ClickHouse plugin expand
it (template variables, `$__conditionalAll`, the backend's time macros) for a fixed time range,
and run on the embedded ClickHouse against a handful of known LLM calls and spans.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_REF = {"type": PLUGIN, "uid": "${datasource}"}
ALL = "$__all"  # the value Grafana gives a multi-value variable set to "All"
FILTER_VARIABLES = ("app", "environment", "model", "team")
COST_SOURCES = ("v_cost_hourly", "v_llm_calls", "llm_spans")

# The dashboard's time range in the tests: two whole hours.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
FROM_S = int(T0.timestamp())
TO_S = FROM_S + 2 * 3600 - 1


# --- Grafana's side: template variables and the ClickHouse plugin's macros -----------------------

@dataclass
class Request:
    """What Grafana sends for one panel: variable values, time range and interval."""
    variables: dict
    from_s: int = FROM_S
    to_s: int = TO_S
    interval_s: int = 3600


def everything_all(**overrides) -> dict:
    values = {"datasource": "llmledger-uid", "trace_id": "", **{name: [ALL] for name in FILTER_VARIABLES}}
    values.update(overrides)
    return values


# Grafana's variable syntaxes: $name, [[name:format]], ${name.path:format}.
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")
_CONDITIONAL_ALL = "$__conditionalAll("
# The plugin finds the variable in the macro's second argument like this.
_CONDITIONAL_VARIABLE = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+")


def referenced_variables(text: str) -> set[str]:
    """Dashboard variables a string refers to (Grafana's own `__` names and macros excluded)."""
    found = set()
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(2) or match.group(4)
        if not name.startswith("__"):
            found.add(name)
    return found


def expand(sql: str, request: Request) -> str:
    """The SQL the data source runs: the plugin's frontend steps, then its backend macros."""
    sql = _apply_conditional_all(sql, request.variables)
    sql = _VARIABLE.sub(lambda m: _variable_value(m, request.variables), sql)
    sql = _MACRO.sub(lambda m: _backend_macro(m, request), sql)
    assert "$" not in sql, f"something was left unexpanded:\n{sql}"
    return sql


def _apply_conditional_all(sql: str, variables: dict) -> str:
    """`$__conditionalAll(condition, $var)`: `1=1` when $var is All or empty, else the condition.
    Rightmost first and by bracket counting, as the plugin does."""
    at = sql.rfind(_CONDITIONAL_ALL)
    while at != -1:
        args = _macro_args(sql, at + len(_CONDITIONAL_ALL) - 1)
        assert len(args) == 2, f"$__conditionalAll needs two arguments: {sql[at:at + 80]}"
        condition, reference = args
        phrase = condition
        name = _CONDITIONAL_VARIABLE.search(reference.strip())
        if name:
            value = variables[name.group(0)]
            text = ",".join(value) if isinstance(value, list) else value
            if text in ("", ALL):
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL_ALL}{condition},{reference})", phrase, 1)
        at = sql.rfind(_CONDITIONAL_ALL)
    return sql


def _macro_args(sql: str, open_paren: int) -> list[str]:
    args, depth, start = [], 0, 1
    text = sql[open_paren:]
    for match in re.finditer(r"[(),]", text):
        depth += {"(": 1, ")": -1}.get(match.group(), 0)
        if match.group() == "," and depth == 1:
            args.append(text[start:match.end() - 1])
            start = match.end()
        if depth == 0:
            args.append(text[start:match.end() - 1])
            return args
    return []


def _variable_value(match: re.Match, variables: dict) -> str:
    name = match.group(1) or match.group(2) or match.group(4)
    if name.startswith("__"):
        return match.group(0)  # a macro, expanded by the backend
    assert name in variables, f"${name} is not a dashboard variable"
    value = variables[name]
    values = value if isinstance(value, list) else [value]
    assert values != [ALL], f"${name} is used outside $__conditionalAll: 'All' would not work"
    form = match.group(3) or match.group(6)
    if form is None:  # the plugin's own formatting: lists quoted, single values as they are
        return "'" + "','".join(values) + "'" if isinstance(value, list) else value
    if form == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if form == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    raise AssertionError(f"format {form!r} of ${name} is not handled by this test")


def _backend_macro(match: re.Match, request: Request) -> str:
    name, arg = match.group(1), match.group(2)
    start, end = f"toDateTime({request.from_s})", f"toDateTime({request.to_s})"
    interval = max(request.interval_s, 1)
    if name == "timeFilter":
        return f"{arg} >= {start} AND {arg} <= {end}"
    if name == "fromTime":
        return start
    if name == "toTime":
        return end
    if name == "timeInterval":
        return f"toStartOfInterval(toDateTime({arg}), INTERVAL {interval} second)"
    if name == "interval_s":
        return str(interval)
    raise AssertionError(f"macro $__{name} is not handled by this test")


# --- The dashboard -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((DASHBOARDS / "llm-costs.json").read_text(encoding="utf-8"))


def panels_of(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels inside collapsed rows
    return [p for p in found if p["type"] != "row"]


def panel(dashboard: dict, title: str) -> dict:
    matches = [p for p in panels_of(dashboard) if p["title"] == title]
    assert len(matches) == 1, f"expected one panel titled {title!r}"
    return matches[0]


def variable(dashboard: dict, name: str) -> dict:
    return next(v for v in dashboard["templating"]["list"] if v["name"] == name)


def query_variables(dashboard: dict) -> list[dict]:
    return [v for v in dashboard["templating"]["list"] if v["type"] == "query"]


def strings_in(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings_in(value)]
    return []


def run_panel(client, dashboard: dict, title: str, **variables):
    """The panel's one query as Grafana would send it; returns the clickhouse-connect result."""
    targets = panel(dashboard, title)["targets"]
    assert len(targets) == 1
    return client.query(expand(targets[0]["rawSql"], Request(everything_all(**variables))))


def rows(client, dashboard: dict, title: str, **variables) -> list[tuple]:
    return run_panel(client, dashboard, title, **variables).result_rows


# --- Known data --------------------------------------------------------------------------------

TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"  # the gpt-4o call, under an HTTP server span
TRACE_B = "0af7651916cd43dd8448eb211c80319c"  # the claude call
TRACE_C = "00f067aa0ba902b700f067aa0ba902b7"  # the gpt-4o-mini call
SPAN_ROOT = "00f067aa0ba902b7"
SPAN_LLM = "b7ad6b7169203331"
NS = 10**9


def at(delta: timedelta) -> int:
    return int((T0 + delta).timestamp()) * NS


def priced(**details: str) -> dict:
    costs = {k: Decimal(v) for k, v in details.items()}
    return {"cost": sum(costs.values(), Decimal(0)), "cost_details": costs, "price_source": "catalog"}


CALLS = [
    # gpt-4o-mini at $0.15 in / $0.60 out per 1M: 1000 × 0.15/1M = 0.00015; 500 × 0.60/1M = 0.0003.
    LlmCall(timestamp_ns=at(timedelta(minutes=5)), trace_id=TRACE_C, span_id="1000000000000001",
            app="support-bot", environment="prod", team="cx", feature="chat", user_id="alice",
            provider="openai", operation="chat", request_model="gpt-4o-mini", response_model="gpt-4o-mini",
            input_tokens=1000, output_tokens=500, usage_reported=True, status="Ok",
            **priced(input="0.00015", output="0.0003")),
    # gpt-4o at $2.50 in / $1.25 cached / $10 out: 1000 plain input × 2.50/1M = 0.0025;
    # 1000 cache reads × 1.25/1M = 0.00125; 100 out × 10/1M = 0.001. Total 0.00475.
    LlmCall(timestamp_ns=at(timedelta(minutes=20)), trace_id=TRACE_A, span_id=SPAN_LLM, parent_span_id=SPAN_ROOT,
            app="support-bot", environment="prod", team="cx", feature="summarize", user_id="bob",
            provider="openai", operation="chat", request_model="gpt-4o", response_model="gpt-4o",
            input_tokens=2000, cache_read_tokens=1000, output_tokens=100, usage_reported=True, status="Ok",
            duration_ns=1_500_000_000, **priced(input="0.0025", cache_read="0.00125", output="0.001")),
    # claude-sonnet-4 at $3 in / $0.30 cache read / $15 out: 2000 plain × 3/1M = 0.006;
    # 8000 cache reads × 0.30/1M = 0.0024; 1000 out × 15/1M = 0.015. Total 0.0234.
    LlmCall(timestamp_ns=at(timedelta(minutes=70)), trace_id=TRACE_B, span_id="2000000000000002",
            app="search", environment="staging", team="growth", feature="rerank", user_id="carol",
            provider="anthropic", operation="chat", request_model="claude-sonnet-4", response_model="claude-sonnet-4",
            input_tokens=10000, cache_read_tokens=8000, output_tokens=1000, usage_reported=True, status="Ok",
            **priced(input="0.006", cache_read="0.0024", output="0.015")),
    # A model with no price: tokens kept, cost NULL. Its team name has an apostrophe.
    LlmCall(timestamp_ns=at(timedelta(minutes=75)), trace_id="3" * 32, span_id="3000000000000003",
            app="search", environment="staging", team="o'neil-lab", user_id="carol",
            provider="openai", operation="chat", request_model="my-finetune",
            input_tokens=300, output_tokens=30, usage_reported=True, status="Ok", unpriced=True),
    # The day before the time range: 100000 × 2.50/1M = 0.25, in no panel.
    LlmCall(timestamp_ns=at(timedelta(days=-1)), trace_id="4" * 32, span_id="4000000000000004",
            app="support-bot", environment="dev", team="cx", feature="chat", user_id="alice",
            provider="openai", operation="chat", request_model="gpt-4o", response_model="gpt-4o",
            input_tokens=100000, usage_reported=True, status="Ok", **priced(input="0.25")),
]

TRACE_COLUMNS = ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
                 "ResourceAttributes", "ScopeName", "SpanAttributes", "Duration", "StatusCode")
RESOURCE = {"service.name": "support-bot", "deployment.environment.name": "prod"}
TRACE_ROWS = [
    [at(timedelta(minutes=20)) - NS // 10, TRACE_A, SPAN_ROOT, "", "POST /answer", "Server", "support-bot",
     RESOURCE, "opentelemetry.instrumentation.asgi", {"http.route": "/answer"}, 2 * NS, "Ok"],
    [at(timedelta(minutes=20)), TRACE_A, SPAN_LLM, SPAN_ROOT, "chat gpt-4o", "Client", "support-bot",
     RESOURCE, "llmledger.instrumentation.openai", {"gen_ai.request.model": "gpt-4o", "llmledger.cost": "0.00475"},
     1_500_000_000, "Ok"],
    [at(timedelta(minutes=70)), TRACE_B, "2000000000000002", "", "chat claude-sonnet-4", "Client", "search",
     {"service.name": "search"}, "llmledger.instrumentation.anthropic", {}, NS, "Error"],
]


@pytest.fixture
def store(clickhouse):
    ClickHouseWriter(clickhouse, TRACE_COLUMNS).write(TRACE_ROWS, [llm_span_row(c) for c in CALLS], token="known")
    return clickhouse


def nothing_shown(result_rows: list[tuple]) -> bool:
    return all(value in (0, None) for row in result_rows for value in row)


# --- The dashboard's shape -----------------------------------------------------------------------

def test_dashboard_identity(dashboard):
    assert dashboard["title"] == "LLM costs"
    assert dashboard["uid"] and 36 <= dashboard["schemaVersion"] <= 41
    ids = [p["id"] for p in panels_of(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_query_uses_the_datasource_variable(dashboard):
    source = variable(dashboard, "datasource")
    assert source["type"] == "datasource" and source["query"] == PLUGIN
    for p in panels_of(dashboard):
        assert p["datasource"] == DATASOURCE_REF, p["title"]
        assert p["targets"], p["title"]
        for target in p["targets"]:
            assert target["datasource"] == DATASOURCE_REF, p["title"]
            assert target["editorType"] == "sql" and target["rawSql"].strip(), p["title"]
    for v in query_variables(dashboard):
        assert v["datasource"] == DATASOURCE_REF, v["name"]


def test_every_referenced_variable_exists(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    referenced = set().union(*(referenced_variables(s) for s in strings_in(dashboard)))
    assert referenced - defined == set()
    assert {"datasource", "trace_id", *FILTER_VARIABLES} <= referenced


def test_panel_formats_match_their_visualisations(dashboard):
    # The plugin's formats: 0 time series, 1 table, 3 trace.
    expected = {"timeseries": 0, "stat": 1, "table": 1, "barchart": 1, "traces": 3}
    for p in panels_of(dashboard):
        assert all(t["format"] == expected[p["type"]] for t in p["targets"]), p["title"]


def test_filter_variables_are_multi_value_with_all(dashboard):
    for name in FILTER_VARIABLES:
        v = variable(dashboard, name)
        assert v["type"] == "query" and v["multi"] and v["includeAll"], name
        assert "DISTINCT" in v["query"] and "v_cost_hourly" in v["query"], name
    assert variable(dashboard, "trace_id")["type"] == "textbox"


# --- Every query runs, with All and with a selection -----------------------------------------------

SELECTIONS = [
    everything_all(),
    everything_all(app=["support-bot", "search"], environment=["prod", "staging"],
                   model=["gpt-4o", "claude-sonnet-4"], team=["cx", "growth"], trace_id=TRACE_A),
    everything_all(team=["o'neil-lab"], trace_id="it's not a trace id"),
]


@pytest.mark.parametrize("selection", SELECTIONS, ids=["all", "multi-value", "quote-in-value"])
def test_every_panel_and_variable_query_runs(store, dashboard, selection):
    queries = [(p["title"], t["rawSql"]) for p in panels_of(dashboard) for t in p["targets"]]
    queries += [(v["name"], v["query"]) for v in query_variables(dashboard)]
    for name, sql in queries:
        store.query(expand(sql, Request(selection)))  # raises with ClickHouse's message if the SQL is bad


def test_variables_list_the_values_in_the_time_range(store, dashboard):
    def values(name):
        sql = expand(variable(dashboard, name)["query"], Request(everything_all()))
        return [row[0] for row in store.query(sql).result_rows]

    assert values("app") == ["search", "support-bot"]
    assert values("environment") == ["prod", "staging"]  # "dev" only has a call from the day before
    assert values("model") == ["claude-sonnet-4", "gpt-4o", "gpt-4o-mini", "my-finetune"]
    assert values("team") == ["cx", "growth", "o'neil-lab"]


# --- Hand-worked figures -----------------------------------------------------------------------------

def test_totals_for_all(store, dashboard):
    # 0.00045 (gpt-4o-mini) + 0.00475 (gpt-4o) + 0.0234 (claude) = 0.0286; the unpriced call adds nothing.
    assert rows(store, dashboard, "Total cost") == [(Decimal("0.0286"),)]
    assert rows(store, dashboard, "Requests") == [(4,)]
    # Input 1000 + 2000 + 10000 + 300 = 13300; output 500 + 100 + 1000 + 30 = 1630; total 14930.
    assert rows(store, dashboard, "Tokens") == [(14930, 13300, 1630)]
    assert rows(store, dashboard, "Unpriced calls") == [(1,)]
    # gpt-4o: 1000 cache reads at 2.50/1M instead of 1.25/1M = 0.0025 - 0.00125 = 0.00125;
    # claude: 8000 at 3/1M instead of 0.30/1M = 0.024 - 0.0024 = 0.0216. Sum 0.02285.
    assert rows(store, dashboard, "Cache savings") == [(Decimal("0.02285"), 0)]


def test_totals_for_a_multi_value_selection(store, dashboard):
    selection = dict(app=["support-bot", "search"], environment=["prod", "staging"],
                     model=["gpt-4o", "claude-sonnet-4"], team=["cx", "growth"])
    # Only the gpt-4o and claude calls: 0.00475 + 0.0234 = 0.02815.
    assert rows(store, dashboard, "Total cost", **selection) == [(Decimal("0.02815"),)]
    assert rows(store, dashboard, "Requests", **selection) == [(2,)]
    # (2000 + 100) + (10000 + 1000) = 13100 = 12000 in + 1100 out.
    assert rows(store, dashboard, "Tokens", **selection) == [(13100, 12000, 1100)]
    assert rows(store, dashboard, "Unpriced calls", **selection) == [(0,)]
    assert rows(store, dashboard, "Cache savings", **selection) == [(Decimal("0.02285"), 0)]


def test_a_value_with_an_apostrophe_selects_its_calls(store, dashboard):
    assert rows(store, dashboard, "Requests", team=["o'neil-lab"]) == [(1,)]
    assert rows(store, dashboard, "Unpriced calls", team=["o'neil-lab"]) == [(1,)]
    # Its one call is unpriced: the panel shows no cost rather than $0.
    assert rows(store, dashboard, "Total cost", team=["o'neil-lab"]) == [(None,)]


def test_cost_over_time_by_model(store, dashboard):
    series = {(time, model): cost for time, model, cost in rows(store, dashboard, "Cost over time by model")}
    ten, eleven = datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11)  # UTC, as the store returns them
    assert series == {
        (ten, "gpt-4o-mini"): Decimal("0.00045"),
        (ten, "gpt-4o"): Decimal("0.00475"),
        (eleven, "claude-sonnet-4"): Decimal("0.0234"),
        (eleven, "my-finetune"): None,  # unpriced: no cost, not $0
    }


def test_cost_by_app_team_and_feature(store, dashboard):
    # (name, cost, requests, tokens, unpriced), most expensive first.
    assert rows(store, dashboard, "Cost by app") == [
        ("search", Decimal("0.0234"), 2, 11000 + 330, 1),
        ("support-bot", Decimal("0.0052"), 2, 1500 + 2100, 0),  # 0.00045 + 0.00475
    ]
    assert rows(store, dashboard, "Cost by team") == [
        ("growth", Decimal("0.0234"), 1, 11000, 0),
        ("cx", Decimal("0.0052"), 2, 3600, 0),
        ("o'neil-lab", None, 1, 330, 1),  # its one call is unpriced
    ]
    assert rows(store, dashboard, "Cost by feature") == [
        ("rerank", Decimal("0.0234"), 1, 11000, 0),
        ("summarize", Decimal("0.00475"), 1, 2100, 0),
        ("chat", Decimal("0.00045"), 1, 1500, 0),
        ("(none)", None, 1, 330, 1),
    ]


def test_top_users(store, dashboard):
    # (user, cost, requests, tokens, unpriced, apps)
    assert rows(store, dashboard, "Top users") == [
        ("carol", Decimal("0.0234"), 2, 11330, 1, "search"),
        ("bob", Decimal("0.00475"), 1, 2100, 0, "support-bot"),
        ("alice", Decimal("0.00045"), 1, 1500, 0, "support-bot"),
    ]


def test_most_expensive_calls_lead_with_their_trace_ids(store, dashboard):
    result = run_panel(store, dashboard, "Most expensive calls")
    trace_ids = [row[result.column_names.index("trace_id")] for row in result.result_rows]
    costs = [row[result.column_names.index("Cost")] for row in result.result_rows]
    assert trace_ids == [TRACE_B, TRACE_A, TRACE_C]  # the unpriced call has no cost to rank
    assert costs == [Decimal("0.0234"), Decimal("0.00475"), Decimal("0.00045")]


def test_every_selection_filters_every_cost_panel(store, dashboard):
    cost_panels = [p["title"] for p in panels_of(dashboard)
                   if any(source in p["targets"][0]["rawSql"] for source in COST_SOURCES)]
    assert len(cost_panels) >= 10
    for name in FILTER_VARIABLES:
        for title in cost_panels:
            shown = rows(store, dashboard, title, **{name: ["no-such-value"]})
            assert nothing_shown(shown), f"{title} ignores ${name}: {shown}"


def test_budgets_show_the_latest_threshold_crossed(store, dashboard):
    store.command(
        "INSERT INTO budgets (id, scope, scope_value, window_kind, timezone, limit_amount, thresholds, hard, "
        "channels, source, updated_at) VALUES "
        "('search-monthly', 'app', 'search', 'monthly', 'UTC', 10, [0.5, 0.8, 1], true, '[]', 'file', now64(6)), "
        "('cx-daily', 'team', 'cx', 'daily', 'UTC', 5, [0.8], false, '[]', 'file', now64(6))")
    store.command(
        "INSERT INTO budget_alerts (dedup_key, kind, budget_id, window_start, threshold, spend, limit_amount, "
        "claimed_at) VALUES "
        "('a', 'budget_threshold', 'search-monthly', '2026-02-01 00:00:00', 1, 10.5, 10, '2026-02-27 00:00:00'), "
        "('b', 'budget_threshold', 'search-monthly', '2026-03-01 00:00:00', 0.5, 5.2, 10, '2026-03-01 09:00:00'), "
        "('c', 'budget_threshold', 'search-monthly', '2026-03-01 00:00:00', 0.8, 8.1, 10, '2026-03-02 10:00:00')")
    shown = [row[:7] for row in rows(store, dashboard, "Budgets")]
    assert shown == [
        ("cx-daily", "team = cx", "daily (UTC)", Decimal(5), "soft", None, None),
        # This month's highest threshold, not last month's 100%.
        ("search-monthly", "app = search", "monthly (UTC)", Decimal(10), "hard", Decimal("0.8"), Decimal("8.1")),
    ]


def test_money_columns_are_shown_in_usd(store, dashboard):
    not_money = {"Last threshold crossed"}  # a fraction of the limit, shown as a percentage
    for p in panels_of(dashboard):
        result = run_panel(store, dashboard, p["title"], trace_id=TRACE_A)
        for column, kind in zip(result.column_names, result.column_types):
            if "Decimal" not in kind.name or column in not_money:
                continue
            assert _unit_of(p, column) == "currencyUSD", f"{p['title']}: {column}"


def _unit_of(p: dict, column: str) -> str | None:
    for override in p["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": column}:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return prop["value"]
    return p["fieldConfig"]["defaults"].get("unit")


# --- Traces --------------------------------------------------------------------------------------

def test_trace_panel_returns_the_spans_of_the_trace(store, dashboard):
    result = run_panel(store, dashboard, "Trace ${trace_id}", trace_id=TRACE_A)
    spans = [dict(zip(result.column_names, row)) for row in result.result_rows]
    assert [(s["spanID"], s["parentSpanID"], s["operationName"], s["serviceName"], s["kind"]) for s in spans] == [
        (SPAN_ROOT, "", "POST /answer", "support-bot", "server"),
        (SPAN_LLM, SPAN_ROOT, "chat gpt-4o", "support-bot", "client"),
    ]
    assert {s["traceID"] for s in spans} == {TRACE_A}
    # Grafana's trace view wants milliseconds: 2 s and 1.5 s, starting 100 ms apart.
    assert [s["duration"] for s in spans] == [2000.0, 1500.0]
    assert spans[1]["startTime"] - spans[0]["startTime"] == pytest.approx(100.0)
    assert {"key": "gen_ai.request.model", "value": "gpt-4o"} in spans[1]["tags"]
    assert {"key": "service.name", "value": "support-bot"} in spans[0]["serviceTags"]


def test_trace_panel_with_no_trace_id_shows_nothing(store, dashboard):
    assert rows(store, dashboard, "Trace ${trace_id}", trace_id="") == []


def _trace_links(dashboard: dict) -> list[dict]:
    table = panel(dashboard, "Most expensive calls")
    for override in table["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": "trace_id"}:
            return next(p["value"] for p in override["properties"] if p["id"] == "links")
    raise AssertionError("the trace_id column has no links")


def test_trace_id_links_to_the_trace_panel(dashboard):
    links = [link["url"] for link in _trace_links(dashboard)]
    to_panel = [url for url in links if url.startswith(f"/d/{dashboard['uid']}/")]
    assert len(to_panel) == 1 and "var-trace_id=${__value.raw}" in to_panel[0]


def test_trace_id_links_to_explore_trace_view(store, dashboard):
    url = next(link["url"] for link in _trace_links(dashboard) if link["url"].startswith("/explore?"))
    # Grafana fills in the link's placeholders when the cell is clicked.
    clicked = (url.replace("${__value.raw}", TRACE_A).replace("${datasource}", "llmledger-uid")
               .replace("${__from}", str(FROM_S * 1000)).replace("${__to}", str(TO_S * 1000)))
    assert "${" not in clicked
    panes = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(clicked).query)["panes"][0])
    (pane,) = panes.values()
    (query,) = pane["queries"]
    assert pane["datasource"] == "llmledger-uid"
    assert query["datasource"] == {"type": PLUGIN, "uid": "llmledger-uid"}
    assert query["format"] == 3 and query["editorType"] == "sql"
    result = store.query(expand(query["rawSql"], Request(everything_all())))
    assert [row[result.column_names.index("spanID")] for row in result.result_rows] == [SPAN_ROOT, SPAN_LLM]


# --- Provisioning ----------------------------------------------------------------------------------

def test_provisioning_loads_this_folder_where_the_readme_mounts_it():
    config = yaml.safe_load((DASHBOARDS / "provisioning.yaml").read_text(encoding="utf-8"))
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    readme = (DASHBOARDS / "README.md").read_text(encoding="utf-8")
    assert f"../dashboards:{path}:ro" in readme
    assert "provisioning/dashboards/" in readme
