"""Child process for the crash test: appends from several threads, drains like the
ClickHouse writer, and prints every acknowledgement until it is killed.

    A <seq> <sha256 of payload>   append returned seq: the record must survive
    C <seq>                       commit(seq) returned: the watermark must survive
"""
import hashlib
import random
import sys
import threading
from pathlib import Path

from llmledger.processor.wal import WriteAheadLog

print_lock = threading.Lock()


def say(line):
    with print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def appender(wal, seed):
    rng = random.Random(seed)
    while True:
        # Mostly small rows, now and then a large request, so kills land mid-write too.
        size = rng.choice([rng.randint(0, 2_000), rng.randint(0, 2_000), rng.randint(50_000, 200_000)])
        payload = rng.randbytes(size)
        seq = wal.append(payload)
        say(f"A {seq} {hashlib.sha256(payload).hexdigest()}")


def writer(wal):
    # A restart first re-inserts the batch it had begun, exactly as it was.
    pending = wal.pending_batch()
    if pending is not None:
        wal.commit(pending[1])
        say(f"C {pending[1]}")
    while True:
        if wal.lag_records < 20:  # keep a backlog, so there is something to replay
            wal.wait_for_records(wal.last_seq, timeout=1.0)
            continue
        batch = wal.read(wal.committed_seq, 5, 1 << 20)
        wal.begin_batch(batch[0][0], batch[-1][0])
        wal.commit(batch[-1][0])
        say(f"C {batch[-1][0]}")


def main():
    directory, segment_bytes, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    wal = WriteAheadLog(directory, segment_bytes=segment_bytes)
    threads = [threading.Thread(target=appender, args=(wal, seed * 10 + n), daemon=True) for n in range(4)]
    threads.append(threading.Thread(target=writer, args=(wal,), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
