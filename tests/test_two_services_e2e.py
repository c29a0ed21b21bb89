"""Two services on one machine: each needs its own ports, and a taken one is a clear error.

gRPC servers allow port reuse by default (SO_REUSEPORT): a second service given the first
one's gRPC port would bind it too, and the kernel would split the clients' traffic
between two stores."""
from __future__ import annotations

import subprocess
import sys

from service_harness import start_service


def test_a_second_service_cannot_share_the_first_ones_grpc_port(tmp_path):
    first = start_service(tmp_path / "first")
    try:
        grpc_port = first.grpc_address.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(tmp_path / "second"),
             "--http-port", "0", "--grpc-port", grpc_port],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines == [f"llmledger: cannot listen on 127.0.0.1:{grpc_port} for OTLP/gRPC: Address already in use"]
        assert first.scalar("SELECT 1") == 1  # the first one is unharmed
    finally:
        first.stop()
