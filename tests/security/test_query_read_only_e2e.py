"""/v1/query (what `llmledger query` uses) only reads: every write, session change and
reach outside the store is refused, against the running service and its real store."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from llm_traffic import GPT_4O_MINI_CHAT, encoded_request


def _query(service, sql: str, parameters: dict | None = None) -> tuple[int, dict]:
    token = json.loads((service.data_dir / "service.json").read_text())["token"]
    request = urllib.request.Request(
        service.http_url + "/v1/query", data=json.dumps({"sql": sql, "parameters": parameters}).encode(),
        method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def stored(service):
    """The service with one LLM call stored."""
    request = urllib.request.Request(service.http_url + "/v1/traces", encoded_request([("chat", GPT_4O_MINI_CHAT)]),
                                     {"Content-Type": "application/x-protobuf"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    return service


@pytest.fixture
def listener():
    """A loopback port that records whether anything connected to it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield sock


def _was_contacted(sock) -> bool:
    try:
        sock.accept()[0].close()
        return True
    except BlockingIOError:
        return False


def test_writes_and_administration_are_refused(stored):
    attacks = [
        "INSERT INTO llm_spans (trace_id, span_id) VALUES ('a', 'b')",
        "INSERT INTO llm_spans (trace_id, span_id) SELECT 'a', 'b'",
        "ALTER TABLE llm_spans DELETE WHERE 1",
        "ALTER TABLE llm_spans UPDATE cost = 0 WHERE 1",
        "DROP TABLE llm_spans",
        "TRUNCATE TABLE llm_spans",
        "CREATE TABLE evil (a Int8) ENGINE = Memory",
        "CREATE TEMPORARY TABLE evil (a Int8)",
        "RENAME TABLE llm_spans TO gone",
        "SYSTEM STOP MERGES",
        "SYSTEM DROP MARK CACHE",
        "OPTIMIZE TABLE llm_spans FINAL",
        "KILL QUERY WHERE 1",
        "GRANT ALL ON *.* TO default",
        "SELECT 1; DROP TABLE llm_spans",
    ]
    for sql in attacks:
        status, body = _query(stored, sql)
        assert status in (400, 403), (sql, status, body)
        assert "error" in body
    assert stored.scalar("SELECT count() FROM llm_spans") == 1
    assert stored.scalar("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                         "AND name IN ('llm_spans', 'evil', 'gone')") == 1


def test_files_network_and_programs_are_out_of_reach(stored, tmp_path, listener):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show me")
    written = tmp_path / "written.csv"
    port = listener.getsockname()[1]
    attacks = [
        f"SELECT * FROM file('{secret}', 'LineAsString')",
        f"SELECT file('{secret}')",
        f"SELECT FILE('{secret}')",
        f"SELECT * FROM llm_spans WHERE app IN (SELECT * FROM file('{secret}', 'LineAsString'))",
        f"SELECT * FROM url('http://127.0.0.1:{port}/x', 'LineAsString', 'line String')",
        f"SELECT * FROM s3('http://127.0.0.1:{port}/bucket/key.csv', 'CSV', 'a String')",
        f"SELECT * FROM remote('127.0.0.1:{port}', system.one)",
        f"SELECT * FROM remoteSecure('127.0.0.1:{port}', system.one)",
        f"SELECT * FROM mysql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
        f"SELECT * FROM postgresql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
        f"SELECT * FROM hdfs('hdfs://127.0.0.1:{port}/f', 'CSV', 'a String')",
        "SELECT * FROM executable('cat /etc/hostname', 'TSV', 'a String')",
        "SELECT * FROM input('a String')",
        f"SELECT * FROM filesystem('{tmp_path}')",
        f"INSERT INTO FUNCTION file('{written}', 'CSV') SELECT 1",
        f"SELECT 1 INTO OUTFILE '{written}'",
        f"SELECT cost FROM llm_spans INTO OUTFILE '{written}' FORMAT CSV",
        f"EXPLAIN SELECT 1 INTO OUTFILE '{written}'",
        f"SHOW TABLES INTO OUTFILE '{written}'",
        f"WITH (SELECT * FROM file('{secret}', 'LineAsString')) AS s SELECT s",
    ]
    for sql in attacks:
        status, body = _query(stored, sql)
        assert status in (400, 403), (sql, status, body)
        assert "do not show me" not in json.dumps(body)
    assert not written.exists()
    assert not _was_contacted(listener)


def test_no_session_state_carries_over(stored):
    threads = stored.scalar("SELECT getSetting('max_threads')")
    database = stored.scalar("SELECT currentDatabase()")
    for sql in ("SET max_threads = 1", "SET readonly = 0", "USE system", "SELECT 1 SETTINGS readonly = 0"):
        status, body = _query(stored, sql)
        assert status in (400, 403), (sql, status, body)
    assert stored.scalar("SELECT getSetting('max_threads')") == threads
    assert stored.scalar("SELECT currentDatabase()") == database
    status, body = _query(stored, "INSERT INTO llm_spans (trace_id, span_id) VALUES ('a', 'b')")
    assert status in (400, 403)  # still read-only after the attempts to change the session


def test_reading_still_works(stored):
    readings = {
        "SELECT app, count() AS n FROM llm_spans GROUP BY app": [["support-bot", 1]],
        "WITH c AS (SELECT cost FROM llm_spans) SELECT count() FROM c": [[1]],
        "SELECT number FROM numbers(2) UNION ALL SELECT 7": None,
        "SELECT {app:String} AS app": [["checkout"]],
        "SHOW TABLES LIKE 'llm_spans'": [["llm_spans"]],
        "DESCRIBE TABLE llm_spans": None,
        "EXISTS TABLE llm_spans": [[1]],
        "EXPLAIN SELECT count() FROM llm_spans": None,
        "SELECT format('{}-{}', 'a', 'b')": [["a-b"]],
        "SELECT count() FROM system.tables WHERE name = 'file'": [[0]],  # a name is not a call
    }
    for sql, expected in readings.items():
        status, body = _query(stored, sql, {"app": "checkout"})
        assert status == 200, (sql, body)
        if expected is not None:
            assert body["rows"] == expected, sql
