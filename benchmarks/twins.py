"""What recognising twin spans costs per LLM call, and the index's memory when full.

    python benchmarks/twins.py [--calls 200000] [--batch 500]

Feeds `--calls` distinct calls (each seen by one instrumentation, the common case) in
export requests of `--batch` through a TwinIndex, then as many again, each with a twin
from a second instrumentation. Prints CPU time per call for both, and the memory the
index holds when full (tracemalloc). CPU time of the process: a shared machine disturbs
it far less than wall-clock time.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
import tracemalloc

from llmledger.processor.record import LlmCall
from llmledger.processor.twins import TwinIndex


def calls(count: int, start_ns: int) -> list[LlmCall]:
    return [LlmCall(timestamp_ns=start_ns + i * 1_000_000, duration_ns=800_000_000, trace_id=f"{i:032x}",
                    span_id=f"{i:016x}", service_name="support-bot", instrumentation="openinference.openai",
                    provider="openai", request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18",
                    response_id=f"chatcmpl-{i}", input_tokens=1000 + i % 977, output_tokens=100 + i % 89,
                    cache_read_tokens=200, usage_reported=True, usage_source="provider")
            for i in range(count)]


def feed(index: TwinIndex, items: list[LlmCall], batch: int) -> float:
    started = time.process_time()
    for at in range(0, len(items), batch):
        index.sort_out(items[at:at + batch])
    return (time.process_time() - started) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    now = time.time_ns()

    single = feed(TwinIndex(max_entries=args.calls), calls(args.calls, now), args.batch)
    print(f"{args.calls} calls, one span each:  {single:6.1f} µs CPU per call")

    items = calls(args.calls, now)
    tracemalloc.start()
    index = TwinIndex(max_entries=args.calls)
    feed(index, items, args.batch)
    del items  # what stays is what the index holds
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"index of {len(index)} calls: {memory / 2**20:.0f} MiB ({memory / args.calls:.0f} B per call)")

    index = TwinIndex(max_entries=2 * args.calls)
    originals = calls(args.calls, now)
    twins = [dataclasses.replace(c, span_id=c.span_id[::-1], trace_id=c.trace_id[::-1], response_id="",
                                 instrumentation="openinference.langchain") for c in originals]
    both = [item for pair in zip(originals, twins) for item in pair]
    paired = feed(index, both, args.batch)
    print(f"{args.calls} calls, two spans each: {paired:6.1f} µs CPU per span")


if __name__ == "__main__":
    main()
