"""Checks per second and latency of GET /v1/budgets/check, on a real uvicorn server on loopback.

    python benchmarks/budget_check.py --budgets 1000 --requests 20000 --clients 4

A server process loads N budgets (app-, user- and tag-scoped; daily, monthly and rolling)
into a temporary embedded store, observes some spend so that part of the checks are
refused, and serves the budget routes on 127.0.0.1. This process then asks from several
threads over keep-alive connections and prints the throughput and latency percentiles.
The server also reports the latency of BudgetService.check() itself, without HTTP.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _budget_entries(count: int) -> list[dict]:
    entries = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            entries.append({"id": f"app-{i}", "app_id": f"app-{i}", "window": "daily", "timezone": "Europe/Berlin",
                            "limit": 100})
        elif kind == 1:
            entries.append({"id": f"user-{i}", "scope": "user", "value": f"user-{i}", "window": "monthly",
                            "limit": 50})
        elif kind == 2:
            entries.append({"id": f"tag-{i}", "scope": "tag:project", "value": f"p-{i}", "window": "rolling",
                            "duration": "24h", "limit": 20})
        else:
            entries.append({"id": f"app-{i}", "app_id": f"app-{i}", "window": "daily", "limit": 10,
                            "fallback_model": "gpt-4o-mini"})
    return entries


def _serve(budget_count: int, ready: multiprocessing.Queue, in_process_checks: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from llmledger.processor.budgets import BudgetService, budget_routes, parse_budget_document
    from llmledger.processor.record import LlmCall
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    with tempfile.TemporaryDirectory() as data_dir:
        client = connect(data_dir=Path(data_dir), database="bench")
        migrate(client)
        service = BudgetService(lambda: client)
        service.set_budgets(parse_budget_document({"budgets": _budget_entries(budget_count)}).budgets)
        now = time.time()
        # Spend on every other app and user, enough to exhaust some budgets.
        service.observe([LlmCall(timestamp_ns=int((now - 60) * 1e9), trace_id=f"{i:032x}", span_id=f"{i:016x}",
                                 app=f"app-{i}", user_id=f"user-{i + 1}", tags={"project": f"p-{i + 2}"},
                                 request_model="gpt-4o", cost=Decimal("30") if i % 8 else Decimal("0.5"))
                         for i in range(0, budget_count, 2)])

        samples = []
        for n in range(in_process_checks):
            k = n % budget_count
            started = time.perf_counter()
            service.check(app=f"app-{k}", user=f"user-{k}", model="gpt-4o", tags={"project": f"p-{k}"})
            samples.append(time.perf_counter() - started)
        print(f"BudgetService.check() in process, {budget_count} budgets: "
              f"p50 {_percentile(samples, 0.5) * 1e6:.1f} µs, p99 {_percentile(samples, 0.99) * 1e6:.1f} µs",
              flush=True)

        server = uvicorn.Server(uvicorn.Config(Starlette(routes=budget_routes(service)), host="127.0.0.1", port=0,
                                               log_level="warning", lifespan="off", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        ready.put(server.servers[0].sockets[0].getsockname()[1])
        thread.join()


def _load(port: int, budget_count: int, requests: int, clients: int) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_client = requests // clients

    def run(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, seen = [], {}
        for n in range(per_client):
            k = (offset + n * 7) % budget_count
            started = time.perf_counter()
            connection.request("GET", f"/v1/budgets/check?app=app-{k}&user=user-{k}&model=gpt-4o&tag.project=p-{k}")
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            seen[response.status] = seen.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=run, args=(i * 1009,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=int, default=1000, help="budgets loaded (default 1000)")
    parser.add_argument("--requests", type=int, default=20000, help="checks to send (default 20000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads with keep-alive (default 4)")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=_serve, args=(args.budgets, ready, 20000), daemon=True)
    server.start()
    try:
        port = ready.get(timeout=300)
        _load(port, args.budgets, min(args.requests, 500), args.clients)  # warm up
        latencies, statuses, elapsed = _load(port, args.budgets, args.requests, args.clients)
    finally:
        server.terminate()
        server.join()
    answered = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
    print(f"GET /v1/budgets/check, {args.budgets} budgets, {len(latencies)} checks from {args.clients} clients "
          f"({answered}):")
    print(f"  {len(latencies) / elapsed:,.0f} checks/s")
    print(f"  latency p50 {_percentile(latencies, 0.5) * 1e3:.2f} ms, p99 {_percentile(latencies, 0.99) * 1e3:.2f} ms, "
          f"mean {statistics.fmean(latencies) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
