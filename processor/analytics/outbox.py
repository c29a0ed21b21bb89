"""What the outbox knows of a message, for commands that only read (a dry run)."""
from __future__ import annotations

from datetime import datetime

from .runner import Runner, as_moment, fetch
from .sql_files import load_sql


def message_claim(run: Runner, key: str) -> tuple[str, datetime] | None:
    """(claimant, when) of the message with this dedup key; None when nobody claimed it yet."""
    rows = fetch(run, load_sql("message_claim"), {"key": key})
    return (rows[0]["claimant"], as_moment(rows[0]["claimed_at"])) if rows else None
