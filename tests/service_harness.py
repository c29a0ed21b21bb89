"""Running `llmledger serve` as a child process, the way a user does, for end-to-end tests."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class RunningService:
    """A `llmledger serve` child process and ways to talk to it."""

    def __init__(self, process: subprocess.Popen, data_dir: Path, banner: str):
        self.process = process
        self.data_dir = data_dir
        self.banner = banner
        self.log_path = data_dir.parent / f"{data_dir.name}-service.log"
        self.http_url = re.search(r"OTLP/HTTP on (\S+?)[,;]", banner).group(1)
        grpc = re.search(r"OTLP/gRPC on (\S+?);", banner)
        self.grpc_address = grpc.group(1) if grpc else None
        info = json.loads((data_dir / "service.json").read_text())
        self._token = info["token"]

    def query(self, sql: str) -> list[dict]:
        """Rows as dicts (Decimals arrive as exact text)."""
        request = urllib.request.Request(
            self.http_url + "/v1/query", data=json.dumps({"sql": sql}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        return [dict(zip(body["columns"], row)) for row in body["rows"]]

    def admin_sql(self, sql: str) -> None:
        """Run a statement that changes the store (only with start_service(..., admin_sql=True))."""
        request = urllib.request.Request(
            self.http_url + "/test/admin-sql", data=json.dumps({"sql": sql}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def scalar(self, sql: str):
        rows = self.query(sql)
        return next(iter(rows[0].values()))

    def wait_for(self, sql: str, expected, timeout: float = 30.0):
        """Poll until `sql` returns `expected` (the drain writes in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.scalar(sql)
            if value == expected or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_service(data_dir: Path, *extra_args: str, env: dict | None = None, timeout: float = 60.0,
                  admin_sql: bool = False) -> RunningService:
    """`admin_sql=True` adds a test-only route for statements that change the store
    (`RunningService.admin_sql`): fault tests use it to make the store refuse inserts."""
    entry = [str(Path(__file__).with_name("serve_with_admin_sql.py"))] if admin_sql else [
        "-m", "llmledger.processor.cli"]
    command = [sys.executable, *entry, "serve", "--data-dir", str(data_dir),
               "--http-port", "0", "--grpc-port", "0", *extra_args]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-service.log"
    # stderr to a file: a pipe nobody reads would block the service once full.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(log_path, "a"), text=True,
                               env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout
    banner = process.stdout.readline()
    if "llmledger serving" not in banner:
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError(f"service did not start: {banner}{log_path.read_text()}")
    while not (data_dir / "service.json").exists():
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("no service file")
        time.sleep(0.02)
    return RunningService(process, data_dir, banner)
