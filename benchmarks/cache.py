"""What the response cache and routing cost per call, and how the semantic cache does on
the labelled paraphrase set.

    python benchmarks/cache.py [--calls 2000] [--redis-server redis-server]

1. Cache lookup, in process and in Redis (a redis-server this script starts on a free
   loopback port, data in a temporary folder): a miss (key built, looked up, nothing
   found) and a hit (key built, found, decoded), through `ResponseCache` as the call
   hook uses it, for a chat request of ~1 KB and a stored answer of ~1 KB. Then a whole
   SDK call answered from the cache (the real openai SDK, instrumented: the replayed
   answer parsed into the SDK's objects), against a whole call to a local fake server.
2. Routing: the request's facts read and a routing file of 12 rules evaluated.
3. The semantic cache on tests/data/paraphrase_pairs.tsv: for each threshold, the share
   of paraphrases found (true hits) and of different questions answered (false hits);
   plus the time of one semantic lookup (embedding the question, nearest stored one).

Times are wall-clock medians per call (perf_counter around batches of calls); on a shared
machine run it a few times.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "instrumentation"))  # the fake OpenAI server

from llmledger.instrumentation._genai.cache import (  # noqa: E402
    CachedResponse,
    CacheSettings,
    MemoryBackend,
    RedisBackend,
    ResponseCache,
)
from llmledger.instrumentation._genai.cache.semantic import SemanticIndex, WordLlamaEmbedder  # noqa: E402
from llmledger.instrumentation._genai.routing import facts_of, parse_routing  # noqa: E402

BODY = {"model": "gpt-4o-mini", "temperature": 0, "max_tokens": 300,
        "messages": [{"role": "system", "content": "You are the support assistant of an online shop. " * 8},
                     {"role": "user", "content": "How long does shipping to Canada take, and what does it cost?"}]}
ATTRIBUTES = {"llmledger.app": "support-bot", "llmledger.tenant": "acme", "gen_ai.request.model": "gpt-4o-mini"}
ANSWER = CachedResponse(body=b'{"id":"x","choices":[{"message":{"content":"' + b"a" * 900 + b'"}}]}',
                        content_type="application/json", usage={"input_tokens": 1200, "output_tokens": 300})

ROUTING = "routes:\n" + "".join(
    f"  - {{name: r{n}, when: {{app: app-{n}, feature: f-{n}, max_input_chars: 4000}}, model: gpt-4o-mini}}\n"
    for n in range(11)) + "  - {name: last, when: {complexity: high, team: research}, model: o4-mini}\n"


def per_call(action, calls: int, rounds: int = 7) -> float:
    """Median seconds per call over `rounds` batches of `calls` calls."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for n in range(calls):
            action(n)
        times.append((time.perf_counter() - started) / calls)
    return statistics.median(times)


def lookups(cache: ResponseCache, calls: int) -> tuple[float, float]:
    def miss(n):
        body = {**BODY, "seed": n}  # a key never stored
        lookup = cache.prepare(provider="openai", endpoint="/chat/completions", body=body, attributes=ATTRIBUTES,
                               resource=None)
        cache.find(lookup)

    stored = cache.prepare(provider="openai", endpoint="/chat/completions", body=BODY, attributes=ATTRIBUTES,
                           resource=None)
    cache.store(stored, ANSWER)

    def hit(n):
        lookup = cache.prepare(provider="openai", endpoint="/chat/completions", body=BODY, attributes=ATTRIBUTES,
                               resource=None)
        assert cache.find(lookup)

    return per_call(miss, calls), per_call(hit, calls)


def sdk_calls(calls: int) -> tuple[float, float]:
    import openai
    from fake_openai import FakeOpenAI
    from opentelemetry.sdk.trace import TracerProvider

    from llmledger.instrumentation import cache
    from llmledger.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider())
    try:
        with FakeOpenAI() as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
            ask = {"model": "gpt-4o-mini", "messages": BODY["messages"], "temperature": 0}
            cache.disable()
            provider = per_call(lambda n: client.chat.completions.create(**ask), max(20, calls // 20), rounds=5)
            cache.enable()
            client.chat.completions.create(**ask)
            answered = per_call(lambda n: client.chat.completions.create(**ask), max(20, calls // 20), rounds=5)
            cache.disable()
    finally:
        instrumentor.uninstrument()
    return provider, answered


def routing(calls: int) -> float:
    router = parse_routing(ROUTING)
    return per_call(lambda n: router.route(facts_of(BODY, ATTRIBUTES)), calls)


def semantic_rates(thresholds) -> tuple[int, list[tuple[float, float, float]], float]:
    pairs = []
    for line in (ROOT / "tests" / "data" / "paraphrase_pairs.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, first, second = line.split("\t")
            pairs.append((int(label), first, second))
    embedder = WordLlamaEmbedder()
    rates = []
    for threshold in thresholds:
        index = SemanticIndex(MemoryBackend(), embedder, threshold)
        same = different = same_hits = different_hits = 0
        for n, (label, first, second) in enumerate(pairs):
            index.add(f"b{n}", f"e{n}", first, index.vector(first), ttl=60)
            found = index.nearest(f"b{n}", index.vector(second), second) is not None
            if label:
                same, same_hits = same + 1, same_hits + found
            else:
                different, different_hits = different + 1, different_hits + found
        rates.append((threshold, same_hits / same, different_hits / different))
    index = SemanticIndex(MemoryBackend(), embedder, 0.98)
    for n, (_, first, _) in enumerate(pairs[:200]):
        index.add("one-bucket", f"e{n}", first, index.vector(first), ttl=60)
    question = pairs[0][2]
    lookup = per_call(lambda n: index.nearest("one-bucket", index.vector(question), question), 200)
    return len(pairs), rates, lookup


def start_redis(binary: str) -> tuple[subprocess.Popen, int, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return process, port, folder
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    args = parser.parse_args()
    us = 1e6

    settings = CacheSettings(enabled=True)
    miss, hit = lookups(ResponseCache(settings), args.calls)
    print(f"cache lookup, in process:  miss {miss * us:7.1f} µs   hit {hit * us:7.1f} µs")
    if args.redis_server:
        process, port, folder = start_redis(args.redis_server)
        try:
            backend = RedisBackend(f"redis://127.0.0.1:{port}/0")
            miss, hit = lookups(ResponseCache(settings, backend), max(200, args.calls // 4))
            print(f"cache lookup, Redis:       miss {miss * us:7.1f} µs   hit {hit * us:7.1f} µs  (loopback)")
        finally:
            process.terminate()
            process.wait()
            shutil.rmtree(folder, ignore_errors=True)
    else:
        print("cache lookup, Redis:       skipped (no redis-server; --redis-server PATH)")
    provider, answered = sdk_calls(args.calls)
    print(f"whole SDK call:            to the local fake {provider * us:7.0f} µs   answered from the cache "
          f"{answered * us:7.0f} µs")
    print(f"routing, 12 rules:         {routing(args.calls) * us:7.1f} µs per call")
    count, rates, lookup = semantic_rates((0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99))
    print(f"semantic cache on {count} labelled pairs (half paraphrases, half different questions):")
    print("  threshold  paraphrases found  different questions answered (false hits)")
    for threshold, true_rate, false_rate in rates:
        print(f"  {threshold:9.2f}  {true_rate:17.1%}  {false_rate:17.1%}")
    print(f"semantic lookup (embed + nearest of 200 stored): {lookup * us:7.1f} µs")


if __name__ == "__main__":
    main()
