"""What reopening finds after torn writes, flipped bits and garbage: the good records survive."""
import logging

import pytest

from llmledger.processor.wal import CorruptRegion, WriteAheadLog

HEADER = 20  # the documented record header: magic 4 + length 4 + seq 8 + crc 4 bytes
FIRST_SEGMENT = "00000000000000000001.wal"
PAYLOADS = [b"a" * 50, b"b" * 60, b"c" * 70]
# Records sit back to back: 70 bytes (20 + 50), then 80, then 90.
OFFSETS = [0, 70, 150]
END = 240


@pytest.fixture
def log_dir(tmp_path):
    """A closed log holding the three PAYLOADS as seq 1..3 in one segment."""
    directory = tmp_path / "wal"
    with WriteAheadLog(directory) as wal:
        for payload in PAYLOADS:
            wal.append(payload)
    assert (directory / FIRST_SEGMENT).stat().st_size == END
    return directory


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def all_records(wal):
    return wal.read(0, 1000, 1 << 30)


def test_torn_last_record_is_truncated_and_reported(log_dir, caplog):
    segment = log_dir / FIRST_SEGMENT
    with segment.open("r+b") as file:
        file.truncate(OFFSETS[2] + HEADER + 35)  # the crash hit half way through the third payload

    with caplog.at_level(logging.WARNING), WriteAheadLog(log_dir) as wal:
        assert all_records(wal) == [(1, PAYLOADS[0]), (2, PAYLOADS[1])]
        # 205 bytes were on disk, the last good record ends at 150.
        assert wal.recovery.corrupt_regions == (CorruptRegion(FIRST_SEGMENT, 150, 55, truncated=True),)
        assert wal.recovery.bytes_skipped == 55
        assert wal.recovery.records == 2
        assert segment.stat().st_size == 150
        seq = wal.append(b"after the crash")
        assert all_records(wal)[-1] == (seq, b"after the crash")

    warning = " ".join(record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    assert FIRST_SEGMENT in warning and "offset 150" in warning and "55 bytes" in warning

    with WriteAheadLog(log_dir) as wal:  # the tail is gone for good: nothing to report twice
        assert wal.recovery.corrupt_regions == ()
        assert [seq for seq, _ in all_records(wal)] == [1, 2, 3]


@pytest.mark.parametrize("where, offset", [
    ("payload", OFFSETS[2] + HEADER + 10),
    ("magic", OFFSETS[2] + 1),
    ("length", OFFSETS[2] + 4),
    ("seq", OFFSETS[2] + 8),
    ("crc", OFFSETS[2] + 17),
])
def test_flipped_byte_in_last_record_drops_only_that_record(log_dir, where, offset):
    flip_byte(log_dir / FIRST_SEGMENT, offset)
    with WriteAheadLog(log_dir) as wal:
        assert all_records(wal) == [(1, PAYLOADS[0]), (2, PAYLOADS[1])]
        assert wal.recovery.corrupt_regions == (CorruptRegion(FIRST_SEGMENT, 150, 90, truncated=True),)


@pytest.mark.parametrize("garbage", [
    bytes(range(37)),
    b"\x00" * 4096,  # what some file systems leave after a crash: a zero-filled extension
    b"LLW1" + b"\xff" * 40,  # looks like a header, is not a record
])
def test_garbage_after_last_record_keeps_all_records(log_dir, garbage):
    with (log_dir / FIRST_SEGMENT).open("ab") as file:
        file.write(garbage)
    with WriteAheadLog(log_dir) as wal:
        assert all_records(wal) == list(zip([1, 2, 3], PAYLOADS))
        assert wal.recovery.corrupt_regions == (CorruptRegion(FIRST_SEGMENT, END, len(garbage), truncated=True),)
        assert (log_dir / FIRST_SEGMENT).stat().st_size == END


def test_corrupt_record_in_the_middle_keeps_the_records_after_it(log_dir):
    flip_byte(log_dir / FIRST_SEGMENT, OFFSETS[1] + HEADER + 5)  # inside the second payload
    for _ in range(2):  # the damage stays in place and is reported on every open
        with WriteAheadLog(log_dir) as wal:
            assert all_records(wal) == [(1, PAYLOADS[0]), (3, PAYLOADS[2])]
            assert wal.recovery.corrupt_regions == (CorruptRegion(FIRST_SEGMENT, 70, 80, truncated=False),)
            assert wal.lag_records == 2
        assert (log_dir / FIRST_SEGMENT).stat().st_size == END


def test_damage_in_one_segment_leaves_later_segments_alone(tmp_path):
    directory = tmp_path / "wal"
    with WriteAheadLog(directory, segment_bytes=HEADER + 10) as wal:  # one record per segment
        for n in range(1, 4):
            wal.append(b"record-%03d" % n)
    second = directory / "00000000000000000002.wal"
    with second.open("r+b") as file:
        file.truncate(HEADER + 4)

    with WriteAheadLog(directory, segment_bytes=HEADER + 10) as wal:
        assert all_records(wal) == [(1, b"record-001"), (3, b"record-003")]
        # The damaged segment held nothing intact any more, so it is gone.
        assert wal.recovery.corrupt_regions == (
            CorruptRegion("00000000000000000002.wal", 0, HEADER + 4, truncated=True),
        )
        assert not second.exists()
        assert wal.append(b"record-004") == 4


def test_empty_segment_left_by_a_crash_after_creating_it(log_dir):
    (log_dir / "00000000000000000004.wal").touch()
    with WriteAheadLog(log_dir) as wal:
        assert wal.recovery.segments == 2
        assert wal.recovery.corrupt_regions == ()
        assert wal.append(b"next") == 4
        assert all_records(wal)[-1] == (4, b"next")


def test_a_lost_record_that_was_in_a_pending_batch_never_gets_its_seq_reused(log_dir):
    with WriteAheadLog(log_dir) as wal:
        wal.begin_batch(1, 3)
    with (log_dir / FIRST_SEGMENT).open("r+b") as file:
        file.truncate(OFFSETS[2] + 5)
    with WriteAheadLog(log_dir) as wal:
        assert wal.pending_batch() == (1, 3)
        # Reusing 3 would make the new record look committed once batch 1..3 commits.
        assert wal.append(b"new") == 4


def test_unreadable_checkpoint_is_an_error_naming_the_file(log_dir):
    (log_dir / "checkpoint.json").write_text("{not json")
    with pytest.raises(ValueError, match="checkpoint.json"):
        WriteAheadLog(log_dir)
    (log_dir / "checkpoint.json").unlink()
    with WriteAheadLog(log_dir) as wal:  # the failed open released the directory
        assert wal.committed_seq == 0
