"""Refused under a flood, an OTLP/HTTP client gets a 503 with Retry-After that it can read,
not a connection reset: a client that sees a reset cannot tell overload from a crash.

The answer waits until the client has sent its body (read and dropped, up to the size cap):
a server that answers and closes while the client is still sending makes the client's kernel
see a reset instead of the answer."""
from __future__ import annotations

import http.client
import threading
import time

import pytest

from service_harness import start_service
from flood import big_request


@pytest.fixture
def small_cap(tmp_path):
    """A service whose in-flight cap is 64 MiB: one 4 MiB request (×16 once decoded) fills it."""
    config = tmp_path / "llmledger.yaml"
    config.write_text(f"http:\n  max_inflight_bytes: {64 << 20}\nwal:\n  fsync: false\n")
    service = start_service(tmp_path / "data", "--config", str(config))
    yield service
    service.stop()


def _flood(service, bodies: list[bytes], requests_each: int, send) -> dict:
    """Every body sent `requests_each` times by a client of its own, all at once; the answers
    counted as (status, Retry-After), or as the name of the error the client saw instead."""
    answers: dict[object, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(bodies))

    def client(body: bytes) -> None:
        start.wait()
        for _ in range(requests_each):
            connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=120)
            try:
                send(connection, body)
                response = connection.getresponse()
                response.read()
                outcome = (response.status, response.getheader("Retry-After"))
            except (ConnectionError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            finally:
                connection.close()
            with lock:
                answers[outcome] = answers.get(outcome, 0) + 1

    threads = [threading.Thread(target=client, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _send_at_once(connection, body: bytes) -> None:
    connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})


def _send_slowly(connection, body: bytes) -> None:
    """As a client on a slow link: about 1 MiB/s."""
    connection.putrequest("POST", "/v1/traces")
    connection.putheader("Content-Type", "application/x-protobuf")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    for offset in range(0, len(body), 128 << 10):
        connection.send(body[offset:offset + (128 << 10)])
        time.sleep(0.125)


def _assert_refused_properly(answers: dict, sent: int) -> None:
    assert sum(answers.values()) == sent, answers
    errors = {outcome: n for outcome, n in answers.items() if isinstance(outcome, str)}
    assert errors == {}, answers  # no resets, no broken pipes: every client read an answer
    assert answers.get((503, "1"), 0) > 0, answers  # the flood was refused, and said so
    assert answers.get((200, None), 0) > 0, answers  # while requests got through
    assert set(answers) <= {(503, "1"), (200, None)}, answers


def test_a_flood_of_big_requests_is_answered_503_not_reset(small_cap):
    bodies = [big_request(4, n).SerializeToString() for n in range(24)]
    _assert_refused_properly(_flood(small_cap, bodies, 3, _send_at_once), 24 * 3)


def test_slow_senders_refused_early_still_read_their_503(small_cap):
    # Each upload takes about 6 s, longer than the server keeps a connection open after its
    # answer unless it reads the rest of the body first.
    bodies = [big_request(6, n).SerializeToString() for n in range(6)]
    _assert_refused_properly(_flood(small_cap, bodies, 1, _send_slowly), 6)
