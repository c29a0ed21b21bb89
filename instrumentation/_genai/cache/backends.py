"""Where answers are kept: in the process (a bounded LRU) or in Redis, shared by replicas.

Both store opaque bytes under a key with a time to live, and, for the semantic cache,
short lists of (entry key, question, embedding) per bucket. A backend never raises into the app:
Redis that refuses or times out degrades to "no cache" with one warning, and is tried
again after `retry_seconds`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

logger = logging.getLogger("llmledger.instrumentation")


class MemoryBackend:
    """A bounded LRU in this process: at most `max_entries` answers and `max_bytes` bytes."""

    kind = "memory"

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 << 20, vectors_per_bucket: int = 256):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.vectors_per_bucket = vectors_per_bucket
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._vectors: OrderedDict[str, OrderedDict[str, tuple[float, str, bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return found[1]

    def set(self, key: str, data: bytes, ttl: float) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (time.monotonic() + ttl, data)
            self._bytes += len(data)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def add_vector(self, bucket: str, key: str, question: str, vector: bytes, ttl: float) -> None:
        with self._lock:
            vectors = self._vectors.setdefault(bucket, OrderedDict())
            vectors[key] = (time.monotonic() + ttl, question, vector)
            vectors.move_to_end(key)
            while len(vectors) > self.vectors_per_bucket:
                vectors.popitem(last=False)
            self._vectors.move_to_end(bucket)
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)

    def vectors(self, bucket: str) -> list[tuple[str, str, bytes]]:
        now = time.monotonic()
        with self._lock:
            vectors = self._vectors.get(bucket)
            if not vectors:
                return []
            return [(key, question, vector) for key, (expires, question, vector) in vectors.items() if expires > now]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._vectors.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        _, data = self._entries.pop(key)
        self._bytes -= len(data)


class RedisBackend:
    """Answers in Redis under `prefix`, for many processes and replicas.

    Timeouts are short (a cache must never be slower than the call it saves); any Redis
    error turns the backend off for `retry_seconds`, with one warning per outage."""

    kind = "redis"

    def __init__(self, url: str, *, prefix: str = "llmledger:cache:", timeout: float = 0.25,
                 retry_seconds: float = 30.0, vectors_per_bucket: int = 256):
        import redis  # the optional extra: checked by `backend_from_settings`

        self.url = url
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self.vectors_per_bucket = vectors_per_bucket
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors = (redis.RedisError, OSError)
        self._down_until = 0.0
        self._warned = False

    def get(self, key: str) -> bytes | None:
        return self._run(lambda r: r.get(self.prefix + key))

    def set(self, key: str, data: bytes, ttl: float) -> None:
        self._run(lambda r: r.set(self.prefix + key, data, px=max(1, int(ttl * 1000))))

    def add_vector(self, bucket: str, key: str, question: str, vector: bytes, ttl: float) -> None:
        name = self.prefix + "vectors:" + bucket
        text = question.encode("utf-8")
        # One list item: "<key>:<length of the question>:<question><vector bytes>".
        item = f"{key}:{len(text)}:".encode() + text + vector

        def add(r):
            with r.pipeline(transaction=False) as pipe:
                pipe.rpush(name, item)
                pipe.ltrim(name, -self.vectors_per_bucket, -1)
                pipe.pexpire(name, max(1, int(ttl * 1000)))
                pipe.execute()

        self._run(add)

    def vectors(self, bucket: str) -> list[tuple[str, str, bytes]]:
        items = self._run(lambda r: r.lrange(self.prefix + "vectors:" + bucket, 0, -1)) or []
        found = []
        for item in items:
            key, _, rest = item.partition(b":")
            length, _, rest = rest.partition(b":")
            if not length.isdigit():
                continue  # written by another version
            size = int(length)
            found.append((key.decode(), rest[:size].decode("utf-8", "replace"), rest[size:]))
        return found

    def clear(self) -> None:
        def clear(r):
            for name in r.scan_iter(match=self.prefix + "*", count=1000):
                r.delete(name)

        self._run(clear)

    def _run(self, action):
        if self._down_until and time.monotonic() < self._down_until:
            return None
        try:
            result = action(self._client)
        except self._errors as exc:
            self._down_until = time.monotonic() + self.retry_seconds
            if not self._warned:
                self._warned = True
                logger.warning("llmledger cache: Redis at %s is not answering (%s); calls go to the provider "
                               "uncached until it is back", self.url, exc)
            return None
        if self._warned:
            self._warned = False
            logger.warning("llmledger cache: Redis at %s answers again; caching resumed", self.url)
        self._down_until = 0.0
        return result
