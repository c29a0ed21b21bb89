"""The processor's write-ahead log: what makes "a 200 means durable" true.

Layout of the log directory:

    00000000000000000001.wal   segment files, named by the first sequence number written to them
    checkpoint.json            the committed watermark and the pending batch (replaced atomically)
    LOCK                       held (flock) by the one process that has the log open

Each record is a 20-byte header (magic, payload length, sequence number, CRC-32)
and the opaque payload; see `record_format`. What recovery does with torn and
corrupted records is described in `recovery`. What the pipelines put in a record (rows
by table, of any signal) is `payload`.
"""
from .files import LogInUse
from .log import LogFailed, LogFull, WriteAheadLog
from .memory import MemoryLog
from .payload import Rows, decode_rows, encode_rows, row_count
from .recovery import CorruptRegion, RecoveryReport

__all__ = ["WriteAheadLog", "MemoryLog", "LogFull", "LogFailed", "LogInUse", "RecoveryReport", "CorruptRegion",
           "Rows", "decode_rows", "encode_rows", "row_count"]
