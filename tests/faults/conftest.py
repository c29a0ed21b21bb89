"""Fixtures for the fault tests: small filesystems to fill up."""
from __future__ import annotations

import pytest
from small_disk import SmallDisk


@pytest.fixture
def small_disk():
    """small_disk(path, size_mb) mounts a tmpfs there for the test's duration."""
    mounted: list[SmallDisk] = []

    def mount(path, size_mb: int = 64) -> SmallDisk:
        disk = SmallDisk(path, size_mb)
        mounted.append(disk)
        return disk

    yield mount
    for disk in reversed(mounted):
        disk.unmount()
