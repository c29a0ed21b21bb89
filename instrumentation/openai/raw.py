"""Calls made through `.with_raw_response` and `.with_streaming_response`.

These return the SDK's response object instead of the parsed result:

- `with_raw_response` gives a `LegacyAPIResponse` whose body is already read
  (non-streamed calls are finished on the spot by `patches`, nothing to proxy);
  for `stream=True`, `.parse()` returns the event stream.
- `with_streaming_response` gives an `APIResponse` / `AsyncAPIResponse` whose body
  is not read yet; the app reads it with `.parse()`, `.read()`, `.json()`,
  `.text()`, and the SDK's context manager closes it.

The proxies here end the call when the body has been read (reading usage from
the parsed result, which the SDK caches so the app's own `.parse()` costs
nothing more), or hand the parsed stream to a stream proxy; `close()` and
garbage collection end a call whose body was never read (without usage).
Bodies read only with `iter_bytes()` / `iter_lines()` are not parsed by us:
those calls end without usage.
"""
from __future__ import annotations

from typing import Any, Callable

import wrapt

from .._genai import AsyncStreamProxy, GenAICall, SyncStreamProxy, report_internal_error


def _stream_proxy(parsed: Any, call: GenAICall, on_chunk: Callable) -> Any:
    proxy_class = AsyncStreamProxy if hasattr(parsed, "__anext__") else SyncStreamProxy
    return proxy_class(parsed, call, on_chunk)


class _RawResponseBase(wrapt.ObjectProxy):
    def __init__(self, raw: Any, call: GenAICall, read_result: Callable, stream_reader: Callable | None):
        super().__init__(raw)
        self._self_call = call
        self._self_read_result = read_result
        self._self_stream_reader = stream_reader  # None for a non-streamed call
        self._self_stream_proxy = None

    def _self_observe(self, parsed: Any) -> Any:
        """Look at what `.parse()` returned; returns what the app should get."""
        try:
            if self._self_stream_reader is not None:
                proxy = self._self_stream_proxy
                if proxy is not None and proxy.__wrapped__ is parsed:
                    return proxy  # the SDK caches parse(): hand out the same stream
                if self._self_call.ended:
                    return parsed
                proxy = _stream_proxy(parsed, self._self_call, self._self_stream_reader)
                self._self_stream_proxy = proxy
                return proxy
            if not self._self_call.ended:
                self._self_read_result(self._self_call, parsed)
                self._self_call.end()
        except Exception:
            report_internal_error("reading a raw OpenAI response")
            self._self_call.end()
        return parsed

    def __del__(self):
        try:
            self._self_call.end()
        except Exception:
            pass


class RawResponseProxy(_RawResponseBase):
    """A sync raw response (`LegacyAPIResponse` from either client, or `APIResponse`)."""

    def parse(self, *args, **kwargs):
        return self._self_observe(self.__wrapped__.parse(*args, **kwargs))

    def read(self):
        content = self.__wrapped__.read()
        self._self_body_read()
        return content

    def text(self):
        content = self.__wrapped__.text()
        self._self_body_read()
        return content

    def json(self):
        content = self.__wrapped__.json()
        self._self_body_read()
        return content

    def close(self):
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.end()

    def _self_body_read(self) -> None:
        if self._self_stream_reader is None and not self._self_call.ended:
            try:
                self._self_observe(self.__wrapped__.parse())
            except Exception:
                report_internal_error("parsing a raw OpenAI response")
                self._self_call.end()


class AsyncRawResponseProxy(_RawResponseBase):
    """An `AsyncAPIResponse` (`with_streaming_response` on the async client)."""

    async def parse(self, *args, **kwargs):
        return self._self_observe(await self.__wrapped__.parse(*args, **kwargs))

    async def read(self):
        content = await self.__wrapped__.read()
        await self._self_body_read()
        return content

    async def text(self):
        content = await self.__wrapped__.text()
        await self._self_body_read()
        return content

    async def json(self):
        content = await self.__wrapped__.json()
        await self._self_body_read()
        return content

    async def close(self):
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_call.end()

    async def _self_body_read(self) -> None:
        if self._self_stream_reader is None and not self._self_call.ended:
            try:
                self._self_observe(await self.__wrapped__.parse())
            except Exception:
                report_internal_error("parsing a raw OpenAI response")
                self._self_call.end()
