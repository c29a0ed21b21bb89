"""Instructions the instrumentation adds to one SDK call, against one bare OTel span.

    python benchmarks/overhead_instructions.py [--calls 200] [openai:0 openai:1 anthropic:1 ...]

The same calls and yardstick as `overhead.py` (spans only), counted in CPU instructions
under valgrind's callgrind instead of timed: a count that a busy shared machine does not
disturb, for comparing one change of the instrumentation with the next. Needs valgrind
(`apt-get install valgrind`); the script runs itself under it, and takes a few minutes
(the SDKs import slowly there). A case is `sdk:0` (non-streamed) or `sdk:1` (streamed);
none given: all of them.

Each variant's calls run inside one `functools.reduce`, and callgrind writes a profile
before and after every call of that C function, so each batch is counted on its own.
The span processor exports only between batches (its export costs the same for every
span); the garbage collector is off, as in `overhead.py`.
"""
from __future__ import annotations

import argparse
import functools
import gc
import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
def count(calls: int, wanted: set[str], order_file: str) -> None:
    """Run the batches (under callgrind) and write the order they ran in to `order_file`."""
    sys.path.insert(0, str(HERE))
    import overhead as bench_module
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    bench = bench_module.Bench(1, 1)
    # Spans exported only when flushed, between batches, so that the export (the same for
    # every span) does not fall into whichever batch is running when the worker wakes.
    bench.tracer_provider = TracerProvider()
    bench.tracer_provider.add_span_processor(BatchSpanProcessor(
        bench_module.DropSpans(), schedule_delay_millis=3_600_000, max_queue_size=100_000,
        max_export_batch_size=100_000))
    cases, fakes = bench_module._cases()
    order = []
    try:
        for case in cases:
            key = f"{case.provider}:{int(case.streamed)}"
            if wanted and key not in wanted:
                continue
            instance, args, kwargs, result, items = bench_module._recorded(case.target, case.real_call,
                                                                            case.streamed)
            consume = bench_module._consume if case.streamed else (lambda answer: None)

            def sdk_method(*_args, _result=result, _items=items, **_kwargs):
                return bench_module._replay(_result, _items)

            bench.instrument(case.instrumentor, metrics=False)
            spans = bench_module._wrapper_of(case.target)
            case.instrumentor.uninstrument()
            wrapper_of = bench_module._wrapper_of  # looked up while learn_shape has it instrumented
            bench.learn_shape(case.instrumentor,
                              lambda: consume(wrapper_of(case.target)(sdk_method, instance, args, kwargs)))
            plain = lambda: consume(sdk_method(*args, **kwargs))  # noqa: E731
            variants = {"plain": plain, "bare span": bench.by_hand(plain, metrics=False),
                        "spans only": lambda: consume(spans(sdk_method, instance, args, kwargs))}
            for function in variants.values():  # warm-up
                for _ in range(50):
                    function()
            gc.collect()
            gc.freeze()
            gc.disable()
            for name, function in variants.items():
                bench.tracer_provider.force_flush()
                functools.reduce(lambda _, __: function(), range(calls), None)
                order.append(f"{key} {name}")
            gc.enable()
    finally:
        for fake in fakes:
            fake.stop()
        bench.close()
    Path(order_file).write_text("\n".join(order) + "\n")


def report(directory: str, calls: int) -> None:
    order = [line.split(" ", 1) for line in Path(directory, "order").read_text().splitlines()]  # (case, variant)
    batches = []
    for path in glob.glob(os.path.join(directory, "callgrind.out.*")):
        head = Path(path).read_text(errors="replace")[:4000]
        part = re.search(r"^part:\s*(\d+)", head, re.M)
        if part and "--dump-after" in head:
            batches.append((int(part.group(1)), int(re.search(r"^summary:\s*(\d+)", head, re.M).group(1))))
    batches.sort()
    if len(batches) != len(order):
        sys.exit(f"expected {len(order)} profiles, found {len(batches)}")
    per_call: dict[str, dict[str, float]] = {}
    for (case, variant), (_, total) in zip(order, batches):
        per_call.setdefault(case, {})[variant] = total / calls
    print("Instructions per call (callgrind), added to the call alone; ratio: instrumentation / bare span\n")
    print(f"   {'case':<16}{'call alone':>11}{'bare span':>11}{'spans only':>12}{'ratio':>7}")
    for case, counts in per_call.items():
        bare, ours = counts["bare span"] - counts["plain"], counts["spans only"] - counts["plain"]
        print(f"   {case:<16}{counts['plain']:>11,.0f}{bare:>11,.0f}{ours:>12,.0f}{ours / bare:>6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per counted batch")
    parser.add_argument("--inside", metavar="DIR", help=argparse.SUPPRESS)  # the run under valgrind
    parser.add_argument("cases", nargs="*", help="sdk:0 (non-streamed) or sdk:1 (streamed)")
    args = parser.parse_args()
    if args.inside:
        count(args.calls, set(args.cases), os.path.join(args.inside, "order"))
        return
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=no",
                        "--dump-before=functools_reduce", "--dump-after=functools_reduce",
                        f"--callgrind-out-file={directory}/callgrind.out.%p",
                        sys.executable, __file__, "--inside", directory, "--calls", str(args.calls), *args.cases],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report(directory, args.calls)


if __name__ == "__main__":
    main()
