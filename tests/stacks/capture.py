"""Capture the spans each stack app emits, as the fixtures of tests/normalize/spans/.

    python tests/stacks/capture.py [STACK ...]

Runs every app (environments.py builds its environment) against the fake providers,
exporting to a local receiver that keeps the raw OTLP requests, and writes them as
protobuf JSON. Paths of this machine in the spans (stack traces, code locations) are
replaced by /srv/app.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "instrumentation")]

from environments import STACKS, build  # noqa: E402
from fake_providers import FakeProviders  # noqa: E402

FIXTURES = HERE.parent / "normalize" / "spans"


class Receiver:
    """An OTLP/HTTP endpoint that keeps every trace export request it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self._body()
                if self.path.endswith("/v1/traces"):
                    receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() != "chunked":  # Node's exporter chunks
                    return self.rfile.read(int(self.headers.get("content-length") or 0))
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _scrub(value, paths: list[str]):
    if isinstance(value, dict):
        return {key: _scrub(item, paths) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, paths) for item in value]
    if isinstance(value, str):
        for path in paths:
            value = value.replace(path, "/srv/app")
    return value


def capture(name: str) -> None:
    stack = STACKS[name]
    runtime, _ = build(stack)
    receiver = Receiver()
    with FakeProviders() as fakes:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
               "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
               **fakes.environment()}
        subprocess.run(stack.command(runtime), env=env, check=True, timeout=300)
    receiver.server.shutdown()
    install = runtime.parent if stack.is_node else runtime.parent.parent
    paths = sorted({str(install), str(HERE.parent.parent), sys.base_prefix, str(Path.home())},
                   key=len, reverse=True)
    documents = [_scrub(json_format.MessageToDict(request), paths) for request in receiver.requests]
    (FIXTURES / f"{name}.json").write_text(json.dumps(documents, indent=1))
    print(f"{name}: {len(documents)} requests")


if __name__ == "__main__":
    for name in sys.argv[1:] or STACKS:
        capture(name)
