"""Stream proxies that end a call's span exactly once, however the stream ends.

    stream = wrapped(*args, **kwargs)                 # the SDK's Stream / AsyncStream
    return SyncStreamProxy(stream, call, on_chunk)    # or AsyncStreamProxy
    return sync_stream(stream, call, on_chunk)        # the same, but for a plain generator
                                                      # a generator of ours (cheaper than a proxy)

`on_chunk(call, chunk) -> bool` is the provider-specific part: it reads each
chunk into `call` (response id, model, finish reasons, usage) and returns True
to hide that chunk from the app (used for a usage chunk the instrumentation
asked for itself), False or None to pass it on. Time to first chunk is marked
by the proxy. An exception in `on_chunk` is logged and the chunk passed on.

The span ends (`call.end()`, or `call.fail(exc)` on an error, which is then
re-raised unchanged) on: exhaustion, an error while iterating, `close()` /
`aclose()`, leaving a `with` / `async with` block, `close()` of the stream's
`.response` (what the SDKs' stream helpers call), and garbage collection of a
stream the app dropped — which is also what ends it after an early `break` from
`for chunk in client...create(stream=True)`. A stream that is kept around after
a `break` stays open until one of those, because the app may still resume it.

The proxies never make the span current: a stream outlives the task that
created it, and context must be detached in the task that attached it.
Everything else (attributes, `isinstance` checks) passes through to the stream.
"""
from __future__ import annotations

import inspect
from types import FunctionType, GeneratorType, MethodType
from typing import Any, Callable

import wrapt

from .call import GenAICall
from .safety import report_internal_error

ChunkHandler = Callable[[GenAICall, Any], "bool | None"]


def sync_stream(stream: Any, call: GenAICall, on_chunk: ChunkHandler) -> Any:
    """A `SyncStreamProxy` of `stream`; for a plain generator (what some SDK methods
    return), a generator of ours over it instead: the app gets a generator either way, and
    ours costs a fraction of a proxy to make (which, among other things, looks up the
    generator's missing `__module__`). The call then ends as with a proxy: with the stream,
    or when the generator is closed or dropped."""
    if isinstance(stream, GeneratorType):
        return _observed(stream, call, on_chunk)
    return SyncStreamProxy(stream, call, on_chunk)


class SyncStreamProxy(wrapt.ObjectProxy):
    def __init__(self, stream: Any, call: GenAICall, on_chunk: ChunkHandler):
        wrapt.ObjectProxy.__init__(self, stream)  # made for every streamed call: no super() object
        self._self_call = call
        # The stream's own iterator (for the SDKs' Stream classes a generator), whose end
        # raises no StopIteration through Python frames, as its `__next__` would.
        iterator = iter(stream)
        # Held by the proxy only: it outlives the proxy in a `for` loop, and ends the call
        # when dropped (which is when both are gone).
        self._self_chunks = _observed(iterator, call, on_chunk)

    def __iter__(self):
        # The generator itself, so a `for` loop costs one generator step per
        # chunk. After `for chunk in client...create(stream=True): break` the
        # proxy is long gone and the loop drops the generator, which then
        # ends the call.
        return self._self_chunks

    def __next__(self):
        return self._self_chunks.__next__()

    def close(self):
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.end()

    def __enter__(self):
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            exit_ = getattr(self.__wrapped__, "__exit__", None)
            if exit_ is not None:
                return exit_(exc_type, exc, tb)
            self.__wrapped__.close()
        finally:
            self._self_call.end()

    @property
    def response(self):
        return _ResponseThatEndsCall(self.__wrapped__.response, self._self_call)


class AsyncStreamProxy(wrapt.ObjectProxy):
    def __init__(self, stream: Any, call: GenAICall, on_chunk: ChunkHandler):
        super().__init__(stream)
        self._self_call = call
        iterator = stream if hasattr(stream, "__anext__") else stream.__aiter__()
        self._self_chunks = _observe_async(iterator, call, on_chunk)

    def __aiter__(self):
        # The proxy, not its async generator: a dropped async generator is
        # finalised later by the event loop, a dropped proxy right away.
        return self

    def __anext__(self):
        return self._self_chunks.__anext__()

    async def close(self):
        try:
            return await _maybe_await(self.__wrapped__.close())
        finally:
            self._self_call.end()

    async def aclose(self):
        try:
            closer = getattr(self.__wrapped__, "aclose", None) or self.__wrapped__.close
            return await _maybe_await(closer())
        finally:
            self._self_call.end()

    async def __aenter__(self):
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        try:
            exit_ = getattr(self.__wrapped__, "__aexit__", None)
            if exit_ is not None:
                return await exit_(exc_type, exc, tb)
            await _maybe_await(self.__wrapped__.close())
        finally:
            self._self_call.end()

    @property
    def response(self):
        return _ResponseThatEndsCall(self.__wrapped__.response, self._self_call)

    def __del__(self):
        _end_abandoned(self)


class _ResponseThatEndsCall(wrapt.ObjectProxy):
    """The stream's HTTP response; closing it (as stream helpers do) ends the call."""

    def __init__(self, response: Any, call: GenAICall):
        super().__init__(response)
        self._self_call = call

    def close(self):
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.end()

    async def aclose(self):
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_call.end()


def _observed(iterator: Any, call: GenAICall, on_chunk: ChunkHandler):
    """`_observe(...)`, already started: from now on its being closed or dropped (by
    garbage collection, or the end of the app's `for` loop over a dropped stream) ends
    the call, whether or not a chunk was read."""
    chunks = _observe(iterator, call, on_chunk)
    next(chunks)
    return chunks


def _observe(iterator: Any, call: GenAICall, on_chunk: ChunkHandler):
    """Pass the chunks of `iterator` on, reading each into `call`; end the call with the
    stream. Started by `_observed`: the first `yield` yields nothing to the app."""
    on_chunk = _callable(on_chunk)
    first = True
    try:
        yield
        # A `for` loop: the cheapest step per chunk, and a generator's end raises nothing.
        for chunk in iterator:
            if first:
                call.mark_first_chunk()
                first = False
            try:
                if on_chunk(call, chunk):
                    continue  # a chunk the app did not ask for
            except Exception:
                report_internal_error("reading a stream chunk")
            yield chunk
    except GeneratorExit:  # closed, or dropped by the app: it reads no more
        call.end()
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.end()


async def _observe_async(iterator: Any, call: GenAICall, on_chunk: ChunkHandler):
    """`_observe` for async streams."""
    on_chunk = _callable(on_chunk)
    first = True
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            call.end()
            return
        except BaseException as exc:
            call.fail(exc)
            raise
        if first:
            call.mark_first_chunk()
            first = False
        try:
            if on_chunk(call, chunk):
                continue
        except Exception:
            report_internal_error("reading a stream chunk")
        yield chunk


def _callable(on_chunk: ChunkHandler) -> ChunkHandler:
    """A reader object's bound `__call__`: calling it costs a fraction of calling the object
    itself, once per chunk."""
    if isinstance(on_chunk, (FunctionType, MethodType)):
        return on_chunk
    return on_chunk.__call__


def _end_abandoned(proxy: Any) -> None:
    try:
        call = proxy._self_call
    except AttributeError:  # __init__ did not get that far
        return
    try:
        call.end()
    except Exception:  # never let a finalizer complain into the app
        pass


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
