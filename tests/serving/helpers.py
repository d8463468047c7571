"""Servers for the serve tests: an in-process app behind TestClient, or `textsift serve` as a real subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from textsift.config import ServeConfig
from textsift.serving.app import create_app


@contextmanager
def serving(folder: Path, classifier: Any, **settings: Any) -> Iterator[TestClient]:
    """A client for an app on `classifier`, returned once /readyz says ready (bounded wait)."""
    app = create_app(folder, ServeConfig(**settings), classifier=classifier)
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "app not ready within 60 s"
            time.sleep(0.02)
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(model: Path, log: Path, *flags: str, deadline_s: float = 120.0) -> Iterator[
        tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) once /readyz says 200; the process is stopped on exit, its output kept in `log`."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "textsift", "serve", str(model), "--port", str(port), *flags],
                                   stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process, log, deadline_s)
            yield url, process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(60)


def wait_ready(url: str, process: subprocess.Popen, log: Path, deadline_s: float, route: str = "/readyz") -> None:
    """Poll `route` until it answers 200; the server's log in the failure when it exits or takes too long."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}{route}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise AssertionError(f"server not ready within {deadline_s} s:\n{log.read_text()}")
