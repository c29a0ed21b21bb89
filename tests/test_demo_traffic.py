"""The demo's unusual traffic tells its story at any time of day: the spend spike (40 review
calls, then the calls the budget refused) falls in today's UTC day, where the review team's
daily budget counts it, and before now."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from llmledger.processor.cli import demo


@pytest.mark.parametrize("now", ["2026-12-02 00:00:00.400", "2026-12-02 00:00:30", "2026-12-02 00:25:00",
                                 "2026-12-02 01:59:00", "2026-12-02 14:10:00", "2026-12-02 23:59:59"])
def test_the_spike_and_the_refusals_fall_in_today_before_now(now):
    now_ns = int(datetime.fromisoformat(now).replace(tzinfo=timezone.utc).timestamp() * 1e9)
    day_start = now_ns - now_ns % (24 * 3600 * 10**9)
    calls = demo._unusual(random.Random(7), now_ns)
    spike = [c for c in calls if c.input_tokens == 20_000]
    refused = [c for c in calls if c.refused]
    assert (len(spike), len(refused)) == (40, 6)
    assert all(day_start <= c.start_ns < now_ns for c in spike + refused)
    assert max(c.start_ns for c in spike) < min(c.start_ns for c in refused)  # refused once spent
    if now_ns - day_start >= 2 * 3600 * 10**9:  # later in the day: the hour before last, refusals the hour after
        hour = now_ns // (3600 * 10**9) - 2
        assert {c.start_ns // (3600 * 10**9) for c in spike} == {hour}
        assert {c.start_ns // (3600 * 10**9) for c in refused} == {hour + 1}
