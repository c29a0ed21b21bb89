"""The stacks' environments, built once per test session (in parallel) and reused by later
runs; their install times are printed at the end of the session."""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from environments import STACKS, InstallFailed, build  # noqa: E402

_timings: dict[str, float] = {}
_total: list[float] = []


@pytest.fixture(scope="session")
def stack_pythons() -> dict[str, Path | InstallFailed]:
    """Each stack's python, or the reason its install failed (its test then fails with it)."""
    started = time.monotonic()

    def one(name: str):
        try:
            python, seconds = build(STACKS[name])
        except (InstallFailed, OSError, TimeoutError) as exc:
            return name, InstallFailed(str(exc))
        _timings[name] = seconds
        return name, python

    with ThreadPoolExecutor(max_workers=4) as pool:
        built = dict(pool.map(one, STACKS))
    _total.append(time.monotonic() - started)
    return built


def pytest_terminal_summary(terminalreporter):
    if not _total:
        return
    fresh = {name: seconds for name, seconds in _timings.items() if seconds}
    line = f"stack environments ready in {_total[0]:.1f}s"
    if fresh:
        line += " (installed: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in sorted(fresh.items())) + ")"
    else:
        line += " (all reused)"
    terminalreporter.write_line(line)
