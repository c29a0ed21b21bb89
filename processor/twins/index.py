"""Recognising the spans of one LLM call that several instrumentations (or one, in two
halves) report, so that the call is counted once.

Seen on real stacks: OpenInference's LangChain and LlamaIndex tracers do not make their
span current, so the openai instrumentor's span of the same call starts a trace of its
own; logfire records a streamed call as a request span without usage and a log span
with it, in two traces; two instrumentations of one failed call each record the error.
(A framework span whose direct child reports the same call is caught earlier, by
normalize's WrapperFilter.)

Two spans are twins when, from the same service:
- they carry the same provider response id (`gen_ai.response.id`, OpenInference's
  answer JSON, LiteLLM's), the models agree, and they come from different
  instrumentations or the same trace;
- or, lacking that, they come from different instrumentations, report the same model
  and the same input and output token counts, and lie within `NEAR_NS` of each other;
- or both failed without usage, from different instrumentations, within `NEAR_NS`;
- or one is the request half of a streamed call (no usage, no response id, no finish
  reason, no error) and the other, from the same instrumentation and for the same
  model, records the answer: as its parent or child, or as a streamed call's record
  starting after it within the wait window.

Matching is one to one, at most one span per instrumentation in a call, so that
concurrent identical calls still count as many calls as there were. Of twins the span
with the most complete usage is kept (provider counts over estimates, a full breakdown,
a response id); on a tie the one stored first stays. A span waits for its twin for
`wait_ns` (10 minutes by default): a twin arriving later is counted as a call of its own.

The index is memory only; `remember_stored` reloads the calls stored in the last window
after a restart, so twins split by a restart still meet.
"""
from __future__ import annotations

import itertools
import operator
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable

from llmledger.processor.record import LlmCall

NEAR_NS = 2_000_000_000  # how far apart two instrumentations' spans of one call may lie
DEFAULT_WAIT_NS = 600_000_000_000  # 10 minutes

_USAGE_RANK = {"provider": 2, "estimated": 1}
_NONE: dict = {}
_BY_NEARNESS = ("tokens", "failed")  # keys whose calls are matched by `_nearest`, filed by instrumentation


def completeness(call: LlmCall) -> tuple:
    """What makes one span of a call a better record of it than another, best highest."""
    breakdown = (call.cache_read_tokens > 0) + (call.cache_write_tokens > 0) + (call.reasoning_tokens > 0)
    return (_USAGE_RANK.get(call.usage_source, 0), breakdown, bool(call.response_id), bool(call.response_model),
            call.answered)


def model_family(call: LlmCall) -> str:
    """The model as asked for: a dated snapshot (gpt-4o-mini-2024-07-18) and its alias
    (gpt-4o-mini) are one model here. Compared by prefix, see `_models_agree`."""
    return (call.request_model or call.response_model).lower()


@dataclass(slots=True, eq=False)
class SpanFacts:
    """What the index keeps of a call: what matching reads, not the whole record (it is
    held for the wait window). Fields named as LlmCall's. The facts never change once made
    (not frozen: a frozen dataclass takes several times longer to make, once per call)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    timestamp_ns: int
    duration_ns: int
    service_name: str
    instrumentation: str
    family: str
    response_id: str
    usage_reported: bool
    input_tokens: int
    output_tokens: int
    status: str
    answered: bool
    streaming: bool
    score: tuple
    # What the budgets' running totals counted for this call (the pipeline's CallFacts), so that
    # a better span replacing it can take that back out. Set once the call is accepted; not
    # one of `fields()` (a call remembered from the store was counted from the store).
    counted: object = None

    @classmethod
    def of(cls, call: LlmCall) -> SpanFacts:
        return cls(call.trace_id, call.span_id, call.parent_span_id, call.timestamp_ns, call.duration_ns,
                   sys.intern(call.service_name), sys.intern(call.instrumentation), sys.intern(model_family(call)),
                   call.response_id, call.usage_reported, call.input_tokens, call.output_tokens, call.status,
                   call.answered, call.streaming, completeness(call))

    @classmethod
    def from_fields(cls, fields: tuple) -> SpanFacts:
        """The facts `fields()` gave (from a worker process, or the log)."""
        intern = sys.intern  # service, instrumentation and model repeat from call to call
        return cls(*fields[:5], intern(fields[5]), intern(fields[6]), intern(fields[7]), *fields[8:])

    def fields(self) -> tuple:
        """The values, in order: `SpanFacts(*facts.fields())` is the same facts (cheap to pickle)."""
        return _FIELDS(self)


_FIELDS = operator.attrgetter(*SpanFacts.__slots__[:-1])  # all but `counted`


def _models_agree(a: str, b: str) -> bool:
    return not a or not b or a.startswith(b) or b.startswith(a)


def _is_request_half(call: SpanFacts) -> bool:
    return not call.answered and call.status != "Error"


def _failed_without_usage(call: SpanFacts) -> bool:
    return call.status == "Error" and not call.usage_reported


@dataclass(slots=True, eq=False)
class Seen:
    """A call the index remembers: the one kept of its twins, with what it has absorbed."""

    call: SpanFacts
    stored: bool  # written before (in an earlier request): replacing it needs a correction
    added_ns: int  # monotonic time it was remembered
    scopes: tuple[str, ...] = ()  # instrumentations already counted in this call
    absorbed_half: bool = False
    keys: tuple[tuple, ...] = ()  # where it is filed in the index
    cancel: SpanFacts | None = None  # a stored call this request's keeper replaces
    entry_id: int = 0

    @property
    def start_ns(self) -> int:
        return self.call.timestamp_ns

    @property
    def end_ns(self) -> int:
        return self.call.timestamp_ns + self.call.duration_ns


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one new call: kept, or a duplicate of the call `kept`.

    When a new call replaces one written before, `replaces` is that call: it must be
    cancelled in the store and marked as a duplicate of this one."""

    duplicate_of: SpanFacts | None = None
    replaces: SpanFacts | None = None


def _halves_of_one_call(half: SpanFacts, answer: SpanFacts, wait_ns: int) -> bool:
    """Whether `answer` records the answer of the streamed call `half` asked for."""
    if half.trace_id == answer.trace_id and (half.parent_span_id == answer.span_id
                                              or answer.parent_span_id == half.span_id):
        return True
    return answer.streaming and 0 <= answer.timestamp_ns - half.timestamp_ns <= wait_ns


class TwinIndex:
    """A bounded memory of recent calls, shared across export requests (thread-safe)."""

    def __init__(self, *, wait_ns: int = DEFAULT_WAIT_NS, max_entries: int = 100_000,
                 clock=time.monotonic_ns):
        self.wait_ns = wait_ns
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[int, Seen] = OrderedDict()  # oldest first
        # Each key's entries by entry id, oldest first: a dict, so that forgetting one is O(1)
        # (some keys, a service's answers, hold most of the index).
        self._by_key: dict[tuple, dict[int, Seen]] = {}
        # Calls matched by nearness (token counts, failures) are filed by their instrumentation
        # too, and these say which instrumentations a key holds: a busy service's calls share
        # token counts, mostly from one instrumentation, which never twins with itself.
        self._scopes_by_key: dict[tuple, dict[str, int]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def sort_out(self, calls: list[LlmCall | SpanFacts], undo: list | None = None) -> list[Verdict]:
        """A verdict for each of `calls` (one export request), in order; remembers them.

        With `undo`, what this changed in the index is appended to it, for `revert` when
        the request is not accepted after all (the log refused it)."""
        with self._lock:
            self._expire()
            touched: list[Seen] = []  # entries kept or changed by this request
            added: set[int] = set()
            duplicate_of: dict[int, Seen] = {}  # id(call) -> the entry of the call it duplicates
            facts = [call if isinstance(call, SpanFacts) else SpanFacts.of(call) for call in calls]
            for call in facts:
                twin = self._find_twin(call)
                if twin is None:
                    seen = self._add(call, stored=False)
                    touched.append(seen)
                    added.add(id(seen))
                    if undo is not None:
                        undo.append((seen, None))
                    continue
                if undo is not None and id(twin) not in added:
                    added.add(id(twin))  # its state before this request, recorded once
                    undo.append((twin, (twin.call, twin.stored, twin.scopes, twin.absorbed_half)))
                if call.instrumentation not in twin.scopes:
                    twin.scopes += (call.instrumentation,)
                twin.absorbed_half |= _is_request_half(call) or _is_request_half(twin.call)
                if call.score <= twin.call.score:
                    duplicate_of[id(call)] = twin
                    continue
                # The new span is the better record: it takes the old one's place.
                if twin.stored:
                    twin.cancel, twin.stored = twin.call, False
                    touched.append(twin)
                else:
                    duplicate_of[id(twin.call)] = twin
                self._refile(twin, call)
            replaces = {}
            for seen in touched:
                seen.stored = True  # once this request is written
                if seen.cancel is not None:
                    replaces[id(seen.call)], seen.cancel = seen.cancel, None
            return [Verdict(duplicate_of=duplicate_of[id(call)].call) if id(call) in duplicate_of
                    else Verdict(replaces=replaces.get(id(call))) for call in facts]

    def revert(self, undo: list) -> None:
        """Undo what `sort_out(..., undo)` changed (most recent first)."""
        with self._lock:
            for seen, before in reversed(undo):
                if before is None:
                    self._entries.pop(seen.entry_id, None)
                    self._unfile(seen)
                    continue
                call, seen.stored, seen.scopes, seen.absorbed_half = before
                if seen.call is not call:
                    self._refile(seen, call)
            undo.clear()

    def remember_stored(self, calls: Iterable[LlmCall | SpanFacts]) -> None:
        """Calls written before a restart, so that their late twins are still recognised."""
        with self._lock:
            for call in calls:
                self._add(call if isinstance(call, SpanFacts) else SpanFacts.of(call), stored=True)

    # -- matching ---------------------------------------------------------------

    def _find_twin(self, call: SpanFacts) -> Seen | None:
        service, family = call.service_name, call.family
        if call.response_id:
            for seen in self._by_key.get(("id", service, call.response_id), _NONE).values():
                if (_models_agree(family, seen.call.family)
                        and (call.instrumentation not in seen.scopes or call.trace_id == seen.call.trace_id)):
                    return seen
        if call.usage_reported and (call.input_tokens or call.output_tokens):
            twin = self._nearest(
                ("tokens", service, call.input_tokens, call.output_tokens), call,
                lambda seen: (_models_agree(family, seen.call.family)
                              and not (call.response_id and seen.call.response_id
                                       and call.response_id != seen.call.response_id)))
            if twin is not None:
                return twin
        if _failed_without_usage(call):
            twin = self._nearest(("failed", service), call, lambda seen: _models_agree(family, seen.call.family))
            if twin is not None:
                return twin
        if _is_request_half(call):
            return self._answer_for(call, service, family)
        if call.answered and call.status != "Error":
            return self._half_for(call, service, family)
        return None

    def _nearest(self, key: tuple, call: SpanFacts, fits) -> Seen | None:
        """The call filed under `key` nearest in time (within NEAR_NS) that `fits`, from
        another instrumentation than `call`'s; of equally near ones the latest filed."""
        best, best_gap = None, NEAR_NS
        scope = call.instrumentation
        start = call.timestamp_ns
        end = start + call.duration_ns
        for other_scope in self._scopes_by_key.get(key, _NONE):
            if other_scope == scope:
                continue
            for seen in self._by_key[(*key, other_scope)].values():
                if scope in seen.scopes:
                    continue
                other = seen.call
                other_start = other.timestamp_ns
                gap = max(start, other_start) - min(end, other_start + other.duration_ns)  # < 0: they overlap
                if (gap < best_gap or (gap == best_gap and (best is None or seen.entry_id > best.entry_id))) \
                        and fits(seen):
                    best, best_gap = seen, gap
        return best

    def _answer_for(self, half: SpanFacts, service: str, family: str) -> Seen | None:
        """The span that records the answer of a streamed call whose request half this is."""
        for seen in self._by_key.get(("answers", service, half.instrumentation), _NONE).values():
            if (not seen.absorbed_half and _models_agree(family, seen.call.family)
                    and _halves_of_one_call(half, seen.call, self.wait_ns)):
                return seen
        return None

    def _half_for(self, answer: SpanFacts, service: str, family: str) -> Seen | None:
        """The request half, remembered earlier, of the streamed call this span answers."""
        best = None
        for seen in self._by_key.get(("halves", service, answer.instrumentation), _NONE).values():
            if seen.absorbed_half or not _is_request_half(seen.call):
                continue
            if not _models_agree(family, seen.call.family):
                continue
            if not _halves_of_one_call(seen.call, answer, self.wait_ns):
                continue
            if seen.call.trace_id == answer.trace_id:
                return seen  # parent or child
            if best is None or seen.start_ns > best.start_ns:
                best = seen  # the latest half started before this answer
        return best

    # -- the memory ---------------------------------------------------------------

    def _keys(self, call: SpanFacts) -> list[tuple]:
        service = call.service_name
        keys = []
        if call.response_id:
            keys.append(("id", service, call.response_id))
        if call.usage_reported and (call.input_tokens or call.output_tokens):
            keys.append(("tokens", service, call.input_tokens, call.output_tokens, call.instrumentation))
        if _failed_without_usage(call):
            keys.append(("failed", service, call.instrumentation))
        if _is_request_half(call):
            keys.append(("halves", service, call.instrumentation))
        elif call.answered and call.status != "Error":
            keys.append(("answers", service, call.instrumentation))
        return keys

    def _add(self, call: SpanFacts, *, stored: bool) -> Seen:
        seen = Seen(call=call, stored=stored, added_ns=self._clock(), scopes=(call.instrumentation,),
                    entry_id=next(self._ids))
        self._file(seen)
        self._entries[seen.entry_id] = seen
        while len(self._entries) > self.max_entries:
            self._unfile(self._entries.popitem(last=False)[1])
        return seen

    def _file(self, seen: Seen) -> None:
        seen.keys = tuple(self._keys(seen.call))
        for key in seen.keys:
            self._by_key.setdefault(key, {})[seen.entry_id] = seen
            if key[0] in _BY_NEARNESS:
                scopes = self._scopes_by_key.setdefault(key[:-1], {})
                scopes[key[-1]] = scopes.get(key[-1], 0) + 1

    def _unfile(self, seen: Seen) -> None:
        for key in seen.keys:
            filed = self._by_key.get(key)
            if filed is not None:
                if filed.pop(seen.entry_id, None) is not None and key[0] in _BY_NEARNESS:
                    scopes = self._scopes_by_key[key[:-1]]
                    scopes[key[-1]] -= 1
                    if not scopes[key[-1]]:
                        del scopes[key[-1]]
                        if not scopes:
                            del self._scopes_by_key[key[:-1]]
                if not filed:
                    del self._by_key[key]
        seen.keys = ()

    def _refile(self, seen: Seen, call: SpanFacts) -> None:
        """`call` becomes the kept span of the twins `seen` stands for."""
        self._unfile(seen)
        seen.call = call
        self._file(seen)

    def _expire(self) -> None:
        oldest = self._clock() - self.wait_ns
        while self._entries:
            key, seen = next(iter(self._entries.items()))
            if seen.added_ns >= oldest:
                break
            del self._entries[key]
            self._unfile(seen)
