"""The log's contract with the pipeline: append, read in order, commit, restart, reclaim, limits."""
import threading

import pytest

from llmledger.processor.wal import LogFull, LogInUse, WriteAheadLog

HEADER = 20  # the documented record header: magic 4 + length 4 + seq 8 + crc 4 bytes


def segment_files(directory):
    return sorted(path.name for path in directory.glob("*.wal"))


def disk_bytes(directory):
    return sum(path.stat().st_size for path in directory.glob("*.wal"))


def test_append_read_commit_round_trip(tmp_path):
    with WriteAheadLog(tmp_path / "wal") as wal:
        payloads = [b"a" * 10, b"b" * 20, b"c" * 30]
        assert [wal.append(p) for p in payloads] == [1, 2, 3]
        assert wal.last_seq == 3
        assert wal.read(0, 100, 1 << 20) == [(1, payloads[0]), (2, payloads[1]), (3, payloads[2])]
        assert wal.read(1, 100, 1 << 20) == [(2, payloads[1]), (3, payloads[2])]
        assert wal.read(3, 100, 1 << 20) == []
        assert wal.lag_records == 3

        wal.begin_batch(1, 2)
        wal.commit(2)
        assert wal.committed_seq == 2
        assert wal.lag_records == 1
        assert wal.read(wal.committed_seq, 100, 1 << 20) == [(3, payloads[2])]


def test_read_limits_by_count_and_bytes_but_never_returns_nothing(tmp_path):
    with WriteAheadLog(tmp_path / "wal") as wal:
        for size in (10, 20, 30):
            wal.append(b"x" * size)
        assert [seq for seq, _ in wal.read(0, 2, 1 << 20)] == [1, 2]
        # 10 + 20 = 30 fits in 30 bytes; adding the 30-byte record would not.
        assert [seq for seq, _ in wal.read(0, 100, 30)] == [1, 2]
        # A first record larger than max_bytes still comes back, or the writer would stall on it.
        assert [seq for seq, _ in wal.read(0, 100, 5)] == [1]


def test_restart_keeps_uncommitted_records_and_sequence_continues(tmp_path):
    directory = tmp_path / "wal"
    with WriteAheadLog(directory) as wal:
        for n in range(1, 6):
            wal.append(f"record {n}".encode())
        wal.commit(2)

    with WriteAheadLog(directory) as wal:
        assert wal.committed_seq == 2
        assert wal.last_seq == 5
        assert wal.lag_records == 3
        assert wal.recovery.records == 5
        assert wal.recovery.replayable_records == 3
        assert wal.recovery.corrupt_regions == ()
        assert wal.read(wal.committed_seq, 100, 1 << 20) == [(3, b"record 3"), (4, b"record 4"), (5, b"record 5")]
        assert wal.append(b"record 6") == 6

    with WriteAheadLog(directory) as wal:
        assert [seq for seq, _ in wal.read(2, 100, 1 << 20)] == [3, 4, 5, 6]


def test_commit_deletes_committed_segments_and_frees_space(tmp_path):
    directory = tmp_path / "wal"
    record = HEADER + 100  # one 100-byte payload per record
    with WriteAheadLog(directory, segment_bytes=record, max_bytes=100 * record) as wal:
        for _ in range(5):
            wal.append(b"p" * 100)
        assert len(segment_files(directory)) == 5  # each record fills a segment
        assert wal.bytes_used == 5 * record == disk_bytes(directory)

        wal.commit(3)
        assert segment_files(directory) == ["00000000000000000004.wal", "00000000000000000005.wal"]
        assert wal.bytes_used == 2 * record == disk_bytes(directory)
        assert wal.read(3, 100, 1 << 20) == [(4, b"p" * 100), (5, b"p" * 100)]

        wal.commit(5)  # everything committed: the segment being appended to goes too
        assert segment_files(directory) == []
        assert wal.bytes_used == 0

    with WriteAheadLog(directory, segment_bytes=record, max_bytes=100 * record) as wal:
        assert wal.recovery.segments == 0
        assert wal.read(0, 100, 1 << 20) == []
        assert wal.append(b"after full reclaim") == 6  # continues from the watermark, never reuses
        assert segment_files(directory) == ["00000000000000000006.wal"]


def test_segments_rotate_at_segment_bytes(tmp_path):
    directory = tmp_path / "wal"
    with WriteAheadLog(directory, segment_bytes=3 * (HEADER + 10)) as wal:
        for _ in range(7):
            wal.append(b"0123456789")
        # 3 records per segment: 1-3, 4-6, 7; a record larger than a segment gets one of its own.
        wal.append(b"z" * 500)
        assert segment_files(directory) == [
            "00000000000000000001.wal", "00000000000000000004.wal", "00000000000000000007.wal",
            "00000000000000000008.wal",
        ]
        assert [seq for seq, _ in wal.read(0, 100, 1 << 20)] == list(range(1, 9))


def test_log_full_until_commit_makes_room(tmp_path):
    record = HEADER + 100
    with WriteAheadLog(tmp_path / "wal", segment_bytes=record, max_bytes=4 * record) as wal:
        for _ in range(4):
            wal.append(b"q" * 100)
        with pytest.raises(LogFull, match="full"):
            wal.append(b"q" * 100)
        assert wal.bytes_used == 4 * record
        assert [seq for seq, _ in wal.read(0, 100, 1 << 20)] == [1, 2, 3, 4]  # the refused one left no trace

        wal.commit(2)
        assert wal.append(b"q" * 100) == 5
        assert wal.append(b"q" * 100) == 6
        with pytest.raises(LogFull):
            wal.append(b"q" * 100)


def test_a_record_that_can_never_fit_is_refused_clearly(tmp_path):
    with WriteAheadLog(tmp_path / "wal", segment_bytes=1000, max_bytes=1000) as wal:
        with pytest.raises(ValueError, match="can never fit"):
            wal.append(b"x" * 1000)  # 1000 + 20 bytes of header > 1000


def test_pending_batch_survives_restart_and_commit_clears_it(tmp_path):
    directory = tmp_path / "wal"
    with WriteAheadLog(directory) as wal:
        for n in range(6):
            wal.append(b"r%d" % n)
        assert wal.pending_batch() is None
        wal.begin_batch(1, 4)
        assert wal.pending_batch() == (1, 4)

    with WriteAheadLog(directory) as wal:
        assert wal.pending_batch() == (1, 4)
        assert wal.recovery.pending_batch == (1, 4)
        wal.commit(4)
        assert wal.pending_batch() is None

    with WriteAheadLog(directory) as wal:
        assert wal.pending_batch() is None
        assert wal.committed_seq == 4
        assert [seq for seq, _ in wal.read(4, 100, 1 << 20)] == [5, 6]


def test_batches_and_commits_outside_the_log_are_rejected(tmp_path):
    with WriteAheadLog(tmp_path / "wal") as wal:
        for _ in range(3):
            wal.append(b"x")
        with pytest.raises(ValueError, match="4"):
            wal.begin_batch(2, 4)  # 4 was never appended
        with pytest.raises(ValueError):
            wal.begin_batch(3, 2)
        with pytest.raises(ValueError, match="cannot commit"):
            wal.commit(9)
        wal.commit(2)
        with pytest.raises(ValueError, match="watermark is at 2"):
            wal.commit(1)
        with pytest.raises(ValueError):
            wal.begin_batch(2, 3)  # 2 is already committed
        assert wal.committed_seq == 2


def test_bad_arguments_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="segment_bytes"):
        WriteAheadLog(tmp_path / "a", segment_bytes=2000, max_bytes=1000)
    with pytest.raises(TypeError, match="max_bytes"):
        WriteAheadLog(tmp_path / "b", max_bytes=1.5)
    with WriteAheadLog(tmp_path / "c") as wal:
        with pytest.raises(TypeError, match="bytes, not str"):
            wal.append("text")
        with pytest.raises(ValueError, match="max_records"):
            wal.read(0, 0, 100)
        assert wal.append(bytearray(b"ba")) == 1
        assert wal.append(memoryview(b"mv")) == 2
        assert wal.read(0, 10, 100) == [(1, b"ba"), (2, b"mv")]


def test_one_directory_is_open_once(tmp_path):
    directory = tmp_path / "wal"
    wal = WriteAheadLog(directory)
    with pytest.raises(LogInUse, match="already open"):
        WriteAheadLog(directory)
    wal.close()
    WriteAheadLog(directory).close()


def test_closed_log_refuses_calls(tmp_path):
    wal = WriteAheadLog(tmp_path / "wal")
    wal.close()
    wal.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        wal.append(b"x")
    assert wal.wait_for_records(0, timeout=0.01) is False


def test_wait_for_records_wakes_on_append(tmp_path):
    with WriteAheadLog(tmp_path / "wal") as wal:
        assert wal.wait_for_records(0, timeout=0.01) is False
        woke = []
        waiter = threading.Thread(target=lambda: woke.append(wal.wait_for_records(0, timeout=60)))
        waiter.start()
        wal.append(b"hello")
        waiter.join()
        assert woke == [True]
        assert wal.wait_for_records(1, timeout=0.01) is False


def test_without_fsync_the_log_behaves_the_same(tmp_path):
    directory = tmp_path / "wal"
    with WriteAheadLog(directory, fsync=False) as wal:
        assert [wal.append(b"%d" % n) for n in range(3)] == [1, 2, 3]
        wal.begin_batch(1, 1)
        wal.commit(1)
        assert wal.flushes == 0
    with WriteAheadLog(directory, fsync=False) as wal:
        assert wal.read(wal.committed_seq, 10, 100) == [(2, b"1"), (3, b"2")]
