"""What `serve` keeps on disk (the log of what apps sent, the store, the keys, the service
file with its admin token) is readable by the service user alone, even when started from a
shell with a permissive umask and on a data directory an older version made 0755."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from llm_traffic import GPT_4O_MINI_CHAT, export_spans
from llmledger.processor.auth import KeyStore
from service_harness import start_service


@pytest.fixture
def permissive_umask():
    previous = os.umask(0o022)  # the usual shell default: new files 0644, directories 0755
    yield
    os.umask(previous)


def _shared_with_others(root: Path) -> list[str]:
    """Every path under root (root included) that the group or others may read or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # a log segment reclaimed or a store part merged meanwhile
            continue
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


def test_the_data_directory_and_everything_in_it_is_private(tmp_path, permissive_umask):
    data_dir = tmp_path / "data"
    KeyStore(data_dir / "api-keys.json").create(name="collector")  # `llmledger keys create` before the first start
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755

    service = start_service(data_dir)
    try:
        export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)])
        assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
        status = Path(f"/proc/{service.process.pid}/status").read_text()
        assert "Umask:\t0077" in status  # also covers files chDB and the drain create later
        names = {p.name for p in data_dir.rglob("*")}
        assert {"wal", "clickhouse", "service.json", "api-keys.json", "log-id", "LOCK"} <= names
        assert any(p.suffix == ".bin" for p in (data_dir / "clickhouse").rglob("*"))  # the store's data parts
        assert _shared_with_others(data_dir) == []
    finally:
        service.stop()
    assert _shared_with_others(data_dir) == []
