"""A small filesystem that a test can fill up: a tmpfs mounted over a directory.

The tests run as root (here and in CI) so that they can mount one. Where mounting is not
possible the test fails and says why: a full-disk guarantee that is silently not tested
is worse than a red test.
"""
from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest


class SmallDisk:
    """A tmpfs of `size_mb` at `path`; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, path: Path, size_mb: int):
        self.path = path
        self._filler = path / "filler.bin"
        path.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.fail(f"cannot mount a {size_mb} MiB tmpfs at {path} to fill up "
                        f"(these tests need root and mount(8)): {mounted.stderr.strip()}", pytrace=False)

    def fill(self) -> None:
        """Write until the filesystem refuses (ENOSPC): after this no file on it can grow."""
        with open(self._filler, "ab", buffering=0) as filler:
            for chunk in (1 << 20, 4096, 1):
                block = b"\0" * chunk
                try:
                    while True:
                        filler.write(block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        # Lazy: a process killed by the test may still be letting go of its files.
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
