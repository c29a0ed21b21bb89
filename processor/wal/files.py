"""Small file-system helpers the log needs to be crash safe."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


# The log holds what apps sent (prompts, when content capture is on): the service user's alone.
PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


class LogInUse(RuntimeError):
    """Another process (or another open log in this one) holds the directory."""


def fsync_directory(directory: Path) -> None:
    """Make created, renamed or removed names in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, durable: bool) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    if durable:
        fsync_directory(path.parent)


def lock_directory(directory: Path) -> int:
    """Take an exclusive lock on the directory for this open log; returns the lock's fd.

    Two writers appending to one log would interleave records, so a second open
    fails at once instead. The kernel drops the lock when the process dies."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogInUse(f"write-ahead log directory {directory} is already open (by this or another process)") from None
    return fd


def unlock_directory(lock_fd: int) -> None:
    fcntl.flock(lock_fd, fcntl.LOCK_UN)
    os.close(lock_fd)
