"""The log's small piece of state besides the records: the committed watermark
and the batch the writer has begun but not yet committed.

Both live in one file, `checkpoint.json`, so that `commit` advances the watermark
and clears the pending batch in a single atomic replace.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomically

FILE_NAME = "checkpoint.json"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    committed_seq: int = 0
    pending_batch: tuple[int, int] | None = None


def load_checkpoint(directory: Path) -> Checkpoint:
    path = directory / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Checkpoint()
    try:
        state = json.loads(text)
        if state.get("format") != _FORMAT:
            raise ValueError(f"unknown format {state.get('format')!r}")
        committed = state["committed_seq"]
        pending = state["pending_batch"]
        if not _is_seq(committed):
            raise ValueError(f"committed_seq {committed!r} is not a sequence number")
        if pending is not None:
            if not (isinstance(pending, list) and len(pending) == 2 and all(map(_is_seq, pending))):
                raise ValueError(f"pending_batch {pending!r} is not a [first, last] pair")
            pending = (pending[0], pending[1])
    except (ValueError, KeyError, AttributeError) as error:
        raise ValueError(f"write-ahead log checkpoint {path} is unreadable: {error}") from error
    return Checkpoint(committed, pending)


def store_checkpoint(directory: Path, checkpoint: Checkpoint, *, durable: bool) -> None:
    pending = list(checkpoint.pending_batch) if checkpoint.pending_batch else None
    text = json.dumps({"format": _FORMAT, "committed_seq": checkpoint.committed_seq, "pending_batch": pending})
    write_atomically(directory / FILE_NAME, text.encode("utf-8"), durable=durable)


def _is_seq(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64
