"""`llmledger keys`: API keys for the receivers (`auth.enabled: true`)."""
from __future__ import annotations

import json
import time
from .options import add_store_options, config_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="create, list and revoke API keys")
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument("--app", default="", help="bind the key to an app: its spans are attributed to it")
    create.add_argument("--tenant", default="", help="bind the key to a tenant: its spans are attributed to it")
    create.add_argument("--trust-reported-cost", action="store_true",
                        help="take the cost its spans bill (llmledger.billed_cost, a provider's usage.cost) "
                             "instead of pricing them; for a gateway that bills exactly, not for apps")
    create.set_defaults(func=_create)
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(func=_list)
    for sub in (create, revoke, listing):
        add_store_options(sub)


def _store(args):
    from ..auth import KeyStore, keys_path

    return KeyStore(keys_path(config_from_args(args)))


def _create(args) -> int:
    entry, key = _store(args).create(name=args.name, app=args.app, tenant=args.tenant,
                                     trust_reported_cost=args.trust_reported_cost)
    print(key)
    print(f"key id {entry.id} created; the key is shown only now. Send it as 'Authorization: Bearer <key>', "
          "e.g. OTEL_EXPORTER_OTLP_HEADERS='authorization=Bearer <key>'.")
    return 0


def _revoke(args) -> int:
    if _store(args).revoke(args.key_id):
        print(f"key {args.key_id} revoked")
        return 0
    print(f"llmledger: no active key with id {args.key_id}")
    return 1


def _list(args) -> int:
    from ..query import format_rows

    keys = _store(args).load()
    columns = ["id", "name", "app", "tenant", "trust_reported_cost", "created", "revoked"]
    rows = [[k.id, k.name, k.app, k.tenant, k.trust_reported_cost, _when(k.created_at), _when(k.revoked_at)]
            for k in keys]
    if args.format == "json":
        print(json.dumps([dict(zip(columns, r)) for r in rows], indent=2))
    else:
        print(format_rows(columns, rows, "table"))
    return 0


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp)) if timestamp else ""
