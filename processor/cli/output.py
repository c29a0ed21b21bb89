"""Tables for people on a terminal: formatted cells, 100 columns wide by default, paged
when longer than the screen. `--format json|csv` never come through here: they keep the
exact values.
"""
from __future__ import annotations

import os
import pydoc
import shutil
import sys
from dataclasses import dataclass
from typing import Sequence

DEFAULT_WIDTH = 100
_GAP = "  "
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    """A table column: its heading, whether it is numeric (right-aligned), and whether it
    may be left out to fit the width (`optional`, dropped from the last one back)."""

    heading: str
    numeric: bool = False
    optional: bool = False


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, wide: bool = False,
          width: int = DEFAULT_WIDTH) -> str:
    """The rows under their headings. Unless `wide`, optional columns are dropped and the
    widest text column is shortened with "…" until the table fits `width`."""
    keep = list(range(len(columns)))
    widths = [max([len(c.heading)] + [len(str(r[i])) for r in rows]) for i, c in enumerate(columns)]

    def total(indexes):
        return sum(widths[i] for i in indexes) + len(_GAP) * (len(indexes) - 1)

    limits = list(widths)
    if not wide:
        for i in reversed(range(len(columns))):
            if total(keep) <= width:
                break
            if columns[i].optional:
                keep.remove(i)
        while total([i for i in keep]) > width:
            texts = [i for i in keep if not columns[i].numeric and widths[i] > max(len(columns[i].heading), 8)]
            if not texts:
                break
            widest = max(texts, key=lambda i: widths[i])
            widths[widest] -= min(total(keep) - width, widths[widest] - max(len(columns[widest].heading), 8))
        limits = widths

    def line(cells) -> str:
        parts = []
        for i in keep:
            text = _fit(str(cells[i]), limits[i])
            parts.append(text.rjust(limits[i]) if columns[i].numeric else text.ljust(limits[i]))
        return _GAP.join(parts).rstrip()

    out = [line([c.heading for c in columns]), _GAP.join("-" * limits[i] for i in keep)]
    out += [line(row) for row in rows]
    return "\n".join(out)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + _ELLIPSIS


def terminal_width() -> int:
    """The terminal's width when printing to one (at least 60), else the default 100."""
    if sys.stdout.isatty():
        return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, 60)
    return DEFAULT_WIDTH


def show(text: str) -> None:
    """Print, through a pager when on a terminal and longer than the screen (as git does;
    PAGER picks the pager, PAGER=cat turns paging off)."""
    if sys.stdout.isatty() and text.count("\n") + 1 > shutil.get_terminal_size((DEFAULT_WIDTH, 24)).lines - 1:
        os.environ.setdefault("LESS", "FRX")  # quit if it fits, keep colours, leave the text on screen
        pydoc.pager(text)
    else:
        print(text)
