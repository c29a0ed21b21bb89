"""kill -9 at a random moment: everything acknowledged before the kill is there after reopening."""
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

from llmledger.processor.wal import WriteAheadLog

CHILD = Path(__file__).with_name("crash_appender.py")
SEGMENT_BYTES = 256 << 10  # small, so that kills also land around segment rotation and reclaim


def run_until_killed(directory, seed, acknowledgements):
    """Start the child, let it acknowledge that many appends, SIGKILL it; returns its output lines."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), str(SEGMENT_BYTES), str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(120, child.kill)  # a hung child fails the test instead of hanging it
    watchdog.start()
    lines = []
    try:
        while sum(line.startswith("A ") for line in lines) < acknowledgements:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        os.kill(child.pid, signal.SIGKILL)
        rest, errors = child.communicate()
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL, f"child did not run until killed: {errors}"
    # Lines already in the pipe were printed after their append returned: they count too.
    return lines + rest.splitlines()


def test_acknowledged_records_survive_sigkill(tmp_path):
    directory = tmp_path / "wal"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    acknowledged = {}  # seq -> payload digest, over all rounds
    highest_commit = 0
    for round_ in range(3):
        lines = run_until_killed(directory, seed + round_, rng.randint(1, 150))
        appends = [line.split() for line in lines if line.startswith("A ")]
        commits = [int(line.split()[1]) for line in lines if line.startswith("C ")]
        for _, seq, digest in appends:
            assert int(seq) not in acknowledged, f"seq {seq} handed out twice (seed {seed})"
            acknowledged[int(seq)] = digest
        highest_commit = max([highest_commit, *commits])

        with WriteAheadLog(directory, segment_bytes=SEGMENT_BYTES) as wal:
            assert wal.committed_seq >= highest_commit, f"a commit was lost (seed {seed})"
            records = dict(wal.read(wal.committed_seq, 1 << 20, 1 << 40))
            for seq, digest in acknowledged.items():
                if seq > wal.committed_seq:
                    assert seq in records, f"acknowledged seq {seq} lost (seed {seed}, round {round_})"
                    assert hashlib.sha256(records[seq]).hexdigest() == digest, f"seq {seq} changed (seed {seed})"
            assert wal.recovery.replayable_records == len(records)
            pending = wal.pending_batch()
            if pending is not None:  # the batch to re-insert is still entirely there
                assert wal.committed_seq < pending[0] <= pending[1] <= wal.last_seq
                assert all(seq in records for seq in range(pending[0], pending[1] + 1))
