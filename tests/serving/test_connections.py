"""What only a real server process shows: slow and stalled clients, connection limits, 413 under upload, shutdown
during an explanation. One ONNX server (it starts in about a second) serves the connection tests."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.helpers import running_server

LIMITS = ["--header-timeout-s", "1", "--body-timeout-s", "1", "--max-connections", "4", "--max-body-bytes", "10000"]


@pytest.fixture(scope="module")
def server(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("connections") / "server.log"
    with running_server(int8_model, log, *LIMITS) as (url, _):
        yield url


def connect(url: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)


def closed_within(conn: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection (recv gives b"") within `seconds`."""
    conn.settimeout(seconds)
    try:
        while chunk := conn.recv(65536):
            del chunk
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_stalled_request_head_is_closed(server: str) -> None:
    with connect(server) as conn:
        conn.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-")
        started = time.monotonic()
        assert closed_within(conn, 5) and time.monotonic() - started < 3


def test_a_trickle_of_header_bytes_does_not_keep_the_connection(server: str) -> None:
    with connect(server) as conn:
        started = time.monotonic()
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x":  # one byte every 0.2 s, well past the 1 s deadline
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
        assert closed_within(conn, 3) and time.monotonic() - started < 4


def test_a_stalled_body_gets_408(server: str) -> None:
    with connect(server) as conn:
        conn.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")
        conn.settimeout(5)
        assert conn.recv(65536).startswith(b"HTTP/1.1 408")


def test_connections_over_the_cap_are_closed_at_once(server: str) -> None:
    held = [connect(server) for _ in range(4)]
    try:
        time.sleep(0.2)
        with connect(server) as extra:
            assert closed_within(extra, 0.5)
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200  # the cap frees as connections go


def test_an_oversized_upload_reliably_reads_its_413(server: str) -> None:
    body = json.dumps({"text": "x" * 2_000_000}).encode()
    statuses = []
    for _ in range(10):
        with connect(server) as conn:
            head = (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
            conn.sendall(head + body)  # the whole upload, as a client that does not wait for an early answer
            statuses.append(conn.recv(65536).split(b"\r\n", 1)[0])
    assert statuses == [b"HTTP/1.1 413 Request Entity Too Large"] * 10


def test_head_is_answered_by_get_routes(server: str) -> None:
    for path in ("/healthz", "/readyz", "/v1/models", "/metrics", "/"):
        response = httpx.head(f"{server}{path}", timeout=5)
        assert response.status_code == 200 and response.content == b"", path
    assert httpx.head(f"{server}/v1/predict", timeout=5).status_code == 405


def test_models_shows_no_local_paths(server: str, int8_model: Path, data_dir: Path) -> None:
    text = httpx.get(f"{server}/v1/models", timeout=5).text
    assert str(data_dir) not in text and str(int8_model.parent) not in text and "validation.csv" not in text


def test_sigterm_during_an_explanation_exits_within_the_grace_period(full_model: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(full_model, log, "--timeout-s", "30") as (url, process):
        httpx.post(f"{url}/v1/explain", json={"text": "warm", "steps": 8}, timeout=60)
        text = ("a long and winding story about nothing much " * 8).strip()
        with connect(url) as conn:
            body = json.dumps({"text": text, "steps": 200}).encode()
            conn.sendall(b"POST /v1/explain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            time.sleep(1.0)  # the explanation is running
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(40)
        assert time.monotonic() - started < 5  # the explanation is cancelled, not waited for
    assert "Application shutdown complete" in log.read_text()
