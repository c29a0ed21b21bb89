"""`llmledger budgets`: list, set, delete, status and evaluate budgets.

    llmledger budgets list
    llmledger budgets set --file budgets.yaml
    llmledger budgets set --app chatbot --window daily --timezone Europe/Berlin --limit 500 \\
        --thresholds 0.5,0.8,1 --slack https://hooks.slack.com/services/...
    llmledger budgets set --scope user --value u1 --tenant acme --window daily --limit 5
    llmledger budgets delete chatbot.daily
    llmledger budgets status --format json
    llmledger budgets evaluate            # for cron: send the alerts that are due

While `llmledger serve` holds the embedded store, the commands go to it (with the admin
token from its service file); otherwise they open the store themselves.
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from .options import add_store_options, config_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("budgets", help="list, set, delete, check and evaluate budgets")
    actions = parser.add_subparsers(dest="budgets_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the budgets as defined")
    listing.add_argument("--format", choices=("table", "json", "csv"), default="table")
    listing.add_argument("--wide", action="store_true", help="show every column of the table, in full")

    setting = actions.add_parser("set", help="add or change budgets: all of a budget file, or one from flags")
    setting.add_argument("--file", help="a budget file (YAML); its budgets are added or changed")
    setting.add_argument("--id", help="the budget's id (default: derived from the scope and window)")
    setting.add_argument("--app", help="shorthand for --scope app --value APP")
    setting.add_argument("--scope", help="app, team, user, model, provider, environment, feature, tenant, "
                                         "tag:<name> or all")
    setting.add_argument("--value", help="which app, team, user, ... the budget is for")
    setting.add_argument("--tenant", help="count only this tenant's calls (default: every tenant's)")
    setting.add_argument("--window", choices=("daily", "weekly", "monthly", "rolling"))
    setting.add_argument("--timezone", help="IANA time zone of a calendar window (default UTC)")
    setting.add_argument("--duration", help="length of a rolling window, e.g. 24h")
    setting.add_argument("--limit", help="the limit in USD, e.g. 500")
    setting.add_argument("--thresholds", help="fractions of the limit that alert, e.g. 0.5,0.8,1")
    setting.add_argument("--soft", action="store_true", help="only alert; do not throttle at the limit")
    setting.add_argument("--fallback-model", help="degrade to this model at the limit instead of refusing")
    setting.add_argument("--description")
    setting.add_argument("--webhook", action="append", default=[], help="a webhook URL to notify (repeatable)")
    setting.add_argument("--slack", action="append", default=[], help="a Slack incoming webhook URL (repeatable)")
    setting.add_argument("--email", action="append", default=[], help="an address to email (repeatable)")

    deleting = actions.add_parser("delete", help="delete budgets by id")
    deleting.add_argument("ids", nargs="+", metavar="ID")

    status = actions.add_parser("status", help="spend, limit and projection of every budget")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument("--wide", action="store_true", help="show every column of the table, in full")

    evaluate = actions.add_parser("evaluate", help="send the threshold alerts that are due (for cron)")
    evaluate.add_argument("--file", help="take the SMTP server and anomaly channels from this budget file "
                                         "(its budgets are not changed)")
    evaluate.add_argument("--format", choices=("table", "json"), default="table")

    for action in (listing, setting, deleting, status, evaluate):
        add_store_options(action)
        action.set_defaults(func=run)


def run(args) -> int:
    from ..budgets import BudgetFileError
    from ..notify import ChannelConfigError
    from .query import QueryError

    config = config_from_args(args)
    handlers = {"list": _list, "set": _set, "delete": _delete, "status": _status, "evaluate": _evaluate}
    try:
        return handlers[args.budgets_action](args, config)
    except (BudgetFileError, ChannelConfigError) as exc:  # a mistake in a file, flags or LLMLEDGER_SMTP_*
        print(f"llmledger: {exc}", file=sys.stderr)
        return 2
    except (QueryError, ServiceError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1


# --- the actions ---------------------------------------------------------------------------------


_LIST_SQL = "SELECT * FROM budgets_current ORDER BY id"  # the view of migration 005


def _list(args, config) -> int:
    from ..query import format_rows
    from .query import open_runner

    columns, rows = open_runner(config)(_LIST_SQL)
    if args.format != "table":
        print(format_rows(columns, rows, args.format))
    elif not rows:
        print("no budgets: add one with `llmledger budgets set`")
    else:
        _show_budget_list([dict(zip(columns, row)) for row in rows], args.wide)
    return 0


def _set(args, config) -> int:
    from ..budgets import load_budget_file, parse_budget_document

    if args.file:
        if _flags_given(args):
            raise ServiceError("give either --file or the flags of one budget, not both")
        budgets = load_budget_file(args.file).budgets
    else:
        budgets = parse_budget_document({"budgets": [_entry_from_flags(args)]}, "command line").budgets
    ids = _backend(config).set_budgets(budgets)
    print(f"set {len(ids)} budget{'s' if len(ids) != 1 else ''}: {', '.join(ids)}")
    return 0


def _delete(args, config) -> int:
    deleted = _backend(config).delete_budgets(args.ids)
    missing = [i for i in args.ids if i not in deleted]
    if deleted:
        print(f"deleted: {', '.join(deleted)}")
    if missing:
        print(f"llmledger: no budget {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def _status(args, config) -> int:
    status = _backend(config).status()
    if args.format == "json":
        print(json.dumps(status, indent=2))
        return 0
    if not status["budgets"]:
        print("no budgets: add one with `llmledger budgets set`")
        return 0
    _show_budget_status(status["budgets"], args.wide)
    if status["deliveries"]:
        from .output import Column, table, terminal_width

        names = ["alert", "channel", "target", "state", "attempts", "last_error", "next_attempt_at", "gives_up_at"]
        columns = [Column("alert"), Column("channel"), Column("target", optional=True), Column("state"),
                   Column("attempts", numeric=True), Column("last error"), Column("next attempt", optional=True),
                   Column("gives up", optional=True)]
        print("\nalerts not delivered yet (pending: tried again at the next attempt; failed: given up)")
        print(table(columns, [[_cell(d[c]) for c in names] for d in status["deliveries"]], wide=args.wide,
                    width=terminal_width()))
    return 0


def _evaluate(args, config) -> int:
    alerts = _backend(config, budget_file=args.file).evaluate()
    if args.format == "json":
        print(json.dumps(alerts, indent=2))
        return 0
    if not alerts:
        print("no alerts due")
    for alert in alerts:
        outcomes = ", ".join(f"{d['channel']} {'ok' if d['ok'] else 'FAILED: ' + d['error']}"
                             for d in alert["deliveries"]) or "no channels"
        print(f"{'retried: ' if alert['retry'] else ''}{alert['title']} ({outcomes})")
    return 0 if all(d["ok"] for a in alerts for d in a["deliveries"]) else 1


def _show_budget_list(budgets: list[dict], wide: bool) -> None:
    from .. import format as fmt
    from .output import Column, show, table, terminal_width

    columns = [Column("id"), Column("scope"), Column("window"), Column("limit", numeric=True),
               Column("thresholds"), Column("mode"), Column("fallback", optional=True),
               Column("channels", optional=True), Column("source", optional=True),
               Column("description", optional=True)]
    rows = [[b["id"], "all calls" if b["scope"] == "all" else f"{b['scope']}={b['scope_value']}",
             b["window_kind"] if b["window_kind"] != "rolling" else f"rolling {b['period']}",
             fmt.money(Decimal(b["limit_amount"])), fmt.thresholds(Decimal(t) for t in b["thresholds"]), b["mode"],
             b["fallback_model"], b["channel_types"], b["source"], b["description"]] for b in budgets]
    show(table(columns, rows, wide=wide, width=terminal_width()) + "\n" + fmt.count(len(rows), "budget"))


def _show_budget_status(statuses: list[dict], wide: bool) -> None:
    from .. import format as fmt
    from .output import Column, show, table, terminal_width

    def money(text):
        return fmt.money(None if text is None else Decimal(text))

    def when(text):
        return fmt.moment(datetime.fromisoformat(text.replace("Z", "+00:00"))) if text else ""

    tenants = any(s["tenant"] for s in statuses)  # a column only when some budget counts one tenant's calls
    columns = [Column("id"), Column("scope"), *([Column("tenant")] if tenants else []), Column("window"),
               Column("spend", numeric=True),
               Column("limit", numeric=True), Column("used", numeric=True), Column("left", numeric=True, optional=True),
               Column("projected", numeric=True), Column("breach at", optional=True),
               Column("thresholds", optional=True), Column("mode")]
    rows = [[s["id"], "all calls" if s["scope"] == "all" else f"{s['scope']}={s['value']}",
             *([s["tenant"] or "all"] if tenants else []), s["window_description"],
             money(s["spend"]), money(s["limit"]), fmt.percent(Decimal(s["percent"]) / 100), money(s["remaining"]),
             money(s["projected_spend"]) if s["projected_spend"] is not None else "", when(s["projected_breach_at"]),
             fmt.thresholds(Decimal(t) for t in s["thresholds"]), _mode(s)] for s in statuses]
    show(table(columns, rows, wide=wide, width=terminal_width()) + "\n" + fmt.count(len(rows), "budget"))


def _cell(value) -> str:
    return "" if value is None else str(value)


def _mode(status: dict) -> str:
    if not status["hard"]:
        return "soft"
    return f"degrade to {status['fallback_model']}" if status["fallback_model"] else "hard"


def _flags_given(args) -> bool:
    names = ("id", "app", "scope", "value", "tenant", "window", "timezone", "duration", "limit", "thresholds",
             "fallback_model", "description")
    return any(getattr(args, n) for n in names) or args.soft or args.webhook or args.slack or args.email


def _entry_from_flags(args) -> dict:
    entry: dict = {}
    if args.app:
        entry["app_id"] = args.app
    for flag in ("id", "scope", "value", "tenant", "window", "timezone", "duration", "limit", "fallback_model",
                 "description"):
        if getattr(args, flag) is not None:
            entry[flag] = getattr(args, flag)
    if args.thresholds:
        entry["thresholds"] = [part.strip() for part in args.thresholds.split(",")]
    if args.soft:
        entry["hard"] = False
    channels = [{"type": "webhook", "url": url} for url in args.webhook]
    channels += [{"type": "slack", "webhook": url} for url in args.slack]
    if args.email:
        channels.append({"type": "email", "recipients": args.email})
    if channels:
        entry["notification_channels"] = channels
    return entry


# --- where the commands go: the running service, or the store itself --------------------------------


class ServiceError(Exception):
    pass


def _backend(config, budget_file: str | None = None):
    from .query import running_service

    if not config.storage.clickhouse_url:
        service = running_service(Path(config.storage.data_dir))
        if service:
            if budget_file:
                raise ServiceError("--file works only without a running service; the service uses the "
                                   "budget file it was started with")
            return _ServiceBackend(service)
    return _StoreBackend(config, budget_file)


class _ServiceBackend:
    """The running `llmledger serve`, through its admin routes."""

    def __init__(self, service: dict):
        self._url = service["http"]
        self._token = service["token"]

    def set_budgets(self, budgets) -> list[str]:
        return self._call("POST", "/v1/budgets", {"budgets": [b.to_dict() for b in budgets]})["ids"]

    def delete_budgets(self, ids: list[str]) -> list[str]:
        deleted = []
        for budget_id in ids:
            try:
                deleted += self._call("DELETE", "/v1/budgets/" + urllib.parse.quote(budget_id, safe=""))["deleted"]
            except _NotFound:
                pass
        return deleted

    def status(self) -> dict:
        return self._call("GET", "/v1/budgets")

    def evaluate(self) -> list[dict]:
        return self._call("POST", "/v1/budgets/evaluate", {})["alerts"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self._url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            if exc.code == 404:
                raise _NotFound(message) from None
            raise ServiceError(message) from None
        except OSError as exc:
            raise ServiceError(f"cannot reach the running service at {self._url}: {exc}") from None


class _NotFound(ServiceError):
    pass


class _StoreBackend:
    """The store, opened here; spend is read from it alone."""

    def __init__(self, config, budget_file: str | None):
        self._config = config
        self._budget_file = budget_file
        self._service = None

    def _local_service(self):
        if self._service is None:
            from ..budgets import BudgetService, load_budget_file
            from ..notify import Notifier

            from .query import open_store

            client = open_store(self._config)
            notifier = Notifier()
            anomaly_channels = ()
            if self._budget_file:
                loaded = load_budget_file(self._budget_file)
                if loaded.smtp is not None:
                    notifier.smtp = loaded.smtp.over(notifier.smtp)
                anomaly_channels = loaded.anomaly_channels
            self._service = BudgetService(lambda: client, notifier=notifier, settle_seconds=0,
                                          anomaly_channels=anomaly_channels)
            self._service.reconcile()
        return self._service

    def set_budgets(self, budgets) -> list[str]:
        return self._local_service().set_budgets(budgets, source="cli")

    def delete_budgets(self, ids: list[str]) -> list[str]:
        return self._local_service().delete_budgets(ids)

    def status(self) -> dict:
        service = self._local_service()
        return {"budgets": [s.to_dict() for s in service.status()],
                "deliveries": [d.to_dict() for d in service.undelivered()]}

    def evaluate(self) -> list[dict]:
        return [alert.to_dict() for alert in self._local_service().evaluate()]
