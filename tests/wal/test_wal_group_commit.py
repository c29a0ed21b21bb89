"""Many threads appending at once: every record durable, seqs consistent, fsyncs shared."""
import random
import threading
import time

from llmledger.processor.wal import WriteAheadLog

HEADER = 20  # the documented record header: magic 4 + length 4 + seq 8 + crc 4 bytes


class FirstFlushWaits(WriteAheadLog):
    """Holds the first group-commit flush until the test lets it go, so that other
    appenders pile up behind it (the situation group commit exists for)."""

    def __init__(self, *args, **kwargs):
        self.flush_started = threading.Event()
        self.let_flush_finish = threading.Event()
        self.data_syncs = 0
        super().__init__(*args, **kwargs)

    def _sync_data(self, fd):
        self.data_syncs += 1
        if self.data_syncs == 1:
            self.flush_started.set()
            assert self.let_flush_finish.wait(60)
        super()._sync_data(fd)


def wait_until(condition):
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.001)


def test_appenders_waiting_behind_a_flush_share_the_next_one(tmp_path):
    wal = FirstFlushWaits(tmp_path / "wal")
    seqs = {}

    def append(name):
        seqs[name] = wal.append(name.encode())

    first = threading.Thread(target=append, args=("first",))
    first.start()
    assert wal.flush_started.wait(60)
    followers = [threading.Thread(target=append, args=(f"follower-{n}",)) for n in range(7)]
    for thread in followers:
        thread.start()
    # All seven have written their record and now wait for it to become durable.
    wait_until(lambda: wal.bytes_used == HEADER + 5 + 7 * (HEADER + 10))
    assert wal.read(0, 100, 1 << 20) == []  # nothing is readable before it is durable
    wal.let_flush_finish.set()
    for thread in [first, *followers]:
        thread.join()

    assert wal.flushes == 2  # 8 appends, 2 fsyncs: the first, then one for the seven behind it
    assert wal.data_syncs == 2
    assert seqs["first"] == 1
    assert sorted(seqs.values()) == list(range(1, 9))
    assert wal.read(0, 100, 1 << 20) == sorted((seq, name.encode()) for name, seq in seqs.items())
    wal.close()


def test_concurrent_appenders_and_a_draining_writer_lose_nothing(tmp_path):
    threads, per_thread = 8, 50
    directory = tmp_path / "wal"
    wal = WriteAheadLog(directory, segment_bytes=64 << 10, max_bytes=64 << 20)
    appended = [[] for _ in range(threads)]  # per thread: (seq, payload) in the order append returned
    start = threading.Barrier(threads)

    def appender(thread):
        rng = random.Random(thread)
        start.wait()
        for n in range(per_thread):
            payload = f"t{thread}-n{n}-".encode() * rng.randint(0, 2000)
            appended[thread].append((wal.append(payload), payload))

    drained = []

    def writer():
        # What the ClickHouse writer does: read after the watermark, begin, "insert", commit.
        while len(drained) < threads * per_thread:
            if not wal.wait_for_records(wal.committed_seq, timeout=60):
                raise AssertionError("writer waited for records that never came")
            batch = wal.read(wal.committed_seq, 37, 256 << 10)
            wal.begin_batch(batch[0][0], batch[-1][0])
            drained.extend(batch)
            wal.commit(batch[-1][0])

    workers = [threading.Thread(target=appender, args=(t,)) for t in range(threads)]
    drain = threading.Thread(target=writer)
    for thread in [*workers, drain]:
        thread.start()
    for thread in [*workers, drain]:
        thread.join()

    for records in appended:  # each thread's appends got increasing seqs
        seqs = [seq for seq, _ in records]
        assert seqs == sorted(seqs)
    everything = sorted(record for records in appended for record in records)
    assert [seq for seq, _ in everything] == list(range(1, threads * per_thread + 1))
    assert drained == everything  # in seq order, each record once, with its own payload
    assert wal.lag_records == 0
    assert wal.bytes_used == 0  # every segment reclaimed
    assert list(directory.glob("*.wal")) == []
    wal.close()


def test_concurrent_appends_survive_a_restart(tmp_path):
    directory = tmp_path / "wal"
    wal = WriteAheadLog(directory, segment_bytes=16 << 10)
    appended = []
    lock = threading.Lock()

    def appender(thread):
        for n in range(25):
            payload = b"%d/%d " % (thread, n) * (n * 40)
            seq = wal.append(payload)
            with lock:
                appended.append((seq, payload))

    workers = [threading.Thread(target=appender, args=(t,)) for t in range(8)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    wal.close()

    with WriteAheadLog(directory, segment_bytes=16 << 10) as reopened:
        assert reopened.read(0, 1000, 1 << 30) == sorted(appended)
        assert reopened.recovery.corrupt_regions == ()
        assert reopened.append(b"next") == 201
