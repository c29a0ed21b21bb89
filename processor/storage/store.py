"""The service's handle on ClickHouse: opens it, applies migrations once, and hands out
one client per thread that asks (clickhouse-connect clients are not shared between threads)."""
from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from clickhouse_connect.driver.client import Client

from .client import connect, embedded_path, redact_url
from .migrate import migrate
from .retention import apply_retention


def named_query(name: str) -> str:
    """The text of `queries/<name>.sql`."""
    return resources.files(__package__).joinpath("queries", f"{name}.sql").read_text(encoding="utf-8")


class Store:
    def __init__(self, *, data_dir: Path, url: str | None, database: str, retention=None,
                 cluster: str | None = None):
        self.data_dir = Path(data_dir)
        self._url = url
        self._database = database
        self.cluster = cluster  # a ClickHouse cluster's name: the schema is laid out for it
        self._retention = retention  # the config's `retention` section; None leaves TTLs alone
        self._lock = threading.Lock()
        self._migrated = False

    def describe(self) -> str:
        if self._url:
            return f"ClickHouse at {redact_url(self._url)}" + (f", cluster {self.cluster}" if self.cluster else "")
        return f"embedded ClickHouse at {embedded_path(self.data_dir)}"

    def client(self) -> Client:
        client = connect(data_dir=self.data_dir, url=self._url, database=self._database, cluster=self.cluster)
        with self._lock:
            if not self._migrated:
                migrate(client, self.cluster)
                if self._retention is not None:
                    apply_retention(client, self._retention, self.cluster)
                self._migrated = True
        return client

