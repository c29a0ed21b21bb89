"""What `prepare_request` makes of a request stays byte for byte what it was: the rows the log
and the store take, the calls and twin facts the pipeline decides on, the rejections.

The expected figures (`prepared_rows.json`) were written by the code before the worker's hot
path was made faster, from the captured stacks' requests and the varied requests of
`varied_spans.py` (read as sent, under a key bound to an app and tenant, and under a key
trusted to report costs). Each row, call and twin is compared by a digest, so a failure names
the request and the row. When a change to the rows is intended, write the file again:

    python tests/normalize/test_prepared_rows.py --write
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from captured import STACKS, captured_requests  # noqa: E402
from varied_spans import NOW_NS, varied_requests  # noqa: E402

from llmledger.processor.pipeline import Principal  # noqa: E402
from llmledger.processor.prepare import prepare_request  # noqa: E402
from llmledger.processor.pricing import Pricer  # noqa: E402
from llmledger.processor.pricing.savings import SavingsPricer  # noqa: E402

EXPECTED = Path(__file__).with_name("prepared_rows.json")
PRINCIPALS = {"as sent": None, "bound key": Principal("k1", app="bound-app", tenant="t1"),
              "trusted key": Principal("k2", trust_reported_cost=True)}


def _requests():
    """(name, request, now_ns, principal) for every request compared."""
    for number, request in enumerate(varied_requests(count=4)):
        for how, principal in PRINCIPALS.items():
            yield f"varied {number}, {how}", request, NOW_NS, principal
    for stack in STACKS:
        for number, request in enumerate(captured_requests(stack)):
            ends = [span.end_time_unix_nano for rs in request.resource_spans for ss in rs.scope_spans
                    for span in ss.spans]
            yield f"{stack} {number}", request, max(ends) + 10**9, None


def _digest(data) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else repr(data).encode()).hexdigest()[:20]


def _rows(data: bytes, ends) -> list[str]:
    starts = [0, *ends[:-1]]
    return [_digest(data[start:end]) for start, end in zip(starts, ends)]


def describe(request, now_ns: int, principal) -> dict:
    """What prepare_request made of the request, as digests and small values."""
    pricer = Pricer(warn_unpriced=False)
    copy = type(request).FromString(request.SerializeToString())  # prepare may read it lazily
    prepared = prepare_request(copy, pricer=pricer, savings=SavingsPricer(pricer), principal=principal,
                               now_ns=now_ns)
    return {
        "span_keys": _digest(prepared.span_keys),
        "trace_rows": _rows(prepared.trace_data, list(prepared.trace_ends)),
        "llm_rows": _rows(prepared.llm_data, list(prepared.llm_ends)),
        "call_rows": list(prepared.call_rows),
        "calls": [_digest(call) for call in prepared.calls],
        "twins": [_digest(twin) for twin in prepared.twins],
        "edits": list(prepared.edits),
        "disagreements": {str(k): v for k, v in prepared.disagreements.items()},
        "problems": {str(k): v for k, v in prepared.problems.items()},
        "rejected": prepared.rejected,
        "errors": prepared.errors,
    }


def _expected() -> dict:
    return json.loads(EXPECTED.read_text())


@pytest.mark.parametrize("name, request_, now_ns, principal", list(_requests()), ids=lambda v: v if isinstance(v, str) else "")
def test_prepared_rows_are_unchanged(name, request_, now_ns, principal):
    expected = _expected()[name]
    got = describe(request_, now_ns, principal)
    for field in ("span_keys", "call_rows", "edits", "disagreements", "problems", "rejected", "errors"):
        assert got[field] == expected[field], f"{name}: {field}"
    for field in ("trace_rows", "llm_rows", "calls", "twins"):
        assert len(got[field]) == len(expected[field]), f"{name}: number of {field}"
        for index, (mine, theirs) in enumerate(zip(got[field], expected[field])):
            assert mine == theirs, f"{name}: {field} {index} differs"


def test_the_comparison_covers_every_path():
    """The requests compared hold what the rows must stay right for."""
    expected = _expected()
    varied = [value for name, value in expected.items() if name.startswith("varied")]
    assert sum(len(v["trace_rows"]) for v in varied) > 400
    assert sum(len(v["calls"]) for v in varied) > 200
    assert sum(v["rejected"] for v in varied) > 5  # broken spans and token counts
    assert any(v["problems"] for v in varied)  # a billed cost past the bound
    assert any(v["disagreements"] for v in varied)  # a tool's cost unlike ours
    assert len(expected) >= len(varied) + len(STACKS)  # and every captured stack


if __name__ == "__main__" and "--write" in sys.argv:
    EXPECTED.write_text(json.dumps({name: describe(request, now_ns, principal)
                                    for name, request, now_ns, principal in _requests()}, indent=0) + "\n")
    print(f"wrote {EXPECTED}")
