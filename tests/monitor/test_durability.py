"""What survives a crash: an ingest killed with SIGKILL has stored whole batches only, with rollups that match them,
and run again over the same input it stores the rest once; a `monitor serve` killed the same way has stored every
batch it acknowledged; `--workers 2` stores every event exactly once.

The first run reads its events from a pipe that stays open and holds a partial batch, so it cannot finish before it
is killed, however fast or slow the machine is: the kill always lands mid-stream.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.monitor.helpers import assert_rollups_match_events, distinct_keys, volume, write_events
from tests.serving.helpers import free_port
from textsift.monitor.config import IngestConfig
from textsift.monitor.ingest import ingest
from textsift.monitor.store import Store

BATCH = 16
EVENTS = 200  # distinct events in the stream (the model scores about 30 a second on a busy 2-core runner)
SERVED = 120  # events posted to the server, eight a request
REPEATS = 20  # lines sent again at the end of the file, as a producer's retries would


def snippets(data_dir: Path) -> list[str]:
    """Real movie-review snippets, as the texts of a stream."""
    texts = []
    for split in ("train", "validation", "test"):
        with (data_dir / f"{split}.csv").open(encoding="utf-8", newline="") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts[:EVENTS]


def ingest_command(model: Path, events: Path | str, url: str) -> list[str]:
    return [sys.executable, "-m", "textsift", "monitor", "ingest", str(model), str(events), "--db", url,
            "--batch-size", str(BATCH)]


def wait_for_events(store: Store, at_least: int, process: subprocess.Popen, log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while store.count() < at_least:
        assert process.poll() is None, f"ingest exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"fewer than {at_least} events stored in {deadline_s} s:\n{log.read_text()}"
        time.sleep(0.01)


def test_a_killed_ingest_keeps_whole_batches_and_a_rerun_stores_the_rest_once(
        int8_model: Path, data_dir: Path, tmp_path: Path, store_url: str) -> None:
    events = tmp_path / "events.jsonl"
    n = write_events(events, snippets(data_dir), repeat=REPEATS)
    lines = events.read_bytes().splitlines(keepends=True)
    Store(store_url).close()  # as `monitor init` would; the test reads it while ingest writes
    store, log = Store(store_url), tmp_path / "killed.log"

    # Seven whole batches and ten events of an eighth, and the pipe left open: at most 112 can be stored.
    sent = 7 * BATCH + 10
    with log.open("wb") as out:
        process = subprocess.Popen(ingest_command(int8_model, "-", store_url), stdin=subprocess.PIPE, stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            assert process.stdin is not None
            process.stdin.write(b"".join(lines[:sent]))
            process.stdin.flush()
            wait_for_events(store, 2 * BATCH, process, log, deadline_s=120)
        finally:
            process.kill()
            process.wait(timeout=30)
    killed_at = store.count()
    assert 2 * BATCH <= killed_at <= sent - 10 and killed_at % BATCH == 0  # whole batches, never a part of one
    assert volume(store) == killed_at
    assert_rollups_match_events(store)

    rerun = subprocess.run(ingest_command(int8_model, events, store_url), capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"stored {n - killed_at}, already stored {killed_at + REPEATS}," in rerun.stdout
    assert store.count() == distinct_keys(store) == n
    assert volume(store) == n
    assert_rollups_match_events(store)


@contextmanager
def monitor_server(model: Path, url: str, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`textsift monitor serve` as a real process, yielded once /healthz answers; killed on exit if still running."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "textsift", "monitor", "serve", str(model), "--db", url,
                                    "--port", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not healthy(base):
                assert process.poll() is None, f"monitor serve exited:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"monitor serve not up in 120 s:\n{log.read_text()}"
                time.sleep(0.1)
            yield base, process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_every_batch_a_killed_server_acknowledged_is_stored(int8_model: Path, data_dir: Path, tmp_path: Path,
                                                           store_url: str) -> None:
    events = tmp_path / "events.jsonl"
    n = write_events(events, snippets(data_dir)[:SERVED])
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    batches = [rows[i:i + 8] for i in range(0, n, 8)]
    Store(store_url).close()
    store, log, acknowledged = Store(store_url), tmp_path / "serve.log", []

    def post_until_refused(base: str) -> None:
        with httpx.Client(timeout=60) as client:
            for batch in batches:  # one at a time, each sent after the last was acknowledged
                try:
                    response = client.post(f"{base}/v1/ingest", json={"events": batch})
                except httpx.HTTPError:
                    return
                assert response.status_code == 200, response.text
                acknowledged.append(batch)

    with monitor_server(int8_model, store_url, log) as (base, process):
        sender = threading.Thread(target=post_until_refused, args=(base,))
        sender.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 3:
            assert time.monotonic() < deadline and sender.is_alive(), log.read_text()
            time.sleep(0.01)
        process.kill()  # most likely while the next batch is being scored or committed
        process.wait(timeout=30)
        sender.join(timeout=60)
    acked_keys = [("web", e["id"]) for batch in acknowledged for e in batch]
    assert store.known(acked_keys) == set(acked_keys)
    killed_at = store.count()
    assert killed_at - len(acked_keys) in (0, 8)  # at most the batch in flight committed without its answer
    assert_rollups_match_events(store)

    with monitor_server(int8_model, store_url, log) as (base, _), httpx.Client(timeout=60) as client:
        answers = [client.post(f"{base}/v1/ingest", json={"events": batch}).json() for batch in batches]
    assert sum(a["stored"] for a in answers) == n - killed_at
    assert sum(a["duplicates"] for a in answers) == killed_at
    assert store.count() == distinct_keys(store) == n
    assert_rollups_match_events(store)


def test_two_workers_store_every_event_of_a_file_once(int8_model: Path, data_dir: Path, tmp_path: Path,
                                                     store_url: str) -> None:
    events = tmp_path / "events.jsonl"
    n = write_events(events, snippets(data_dir), repeat=REPEATS)
    totals = ingest(int8_model, events, IngestConfig(db=store_url, workers=2, batch_size=BATCH))
    assert (totals.stored, totals.duplicates) == (n, REPEATS)
    store = Store(store_url)
    assert store.count() == distinct_keys(store) == n
    assert volume(store) == n
    assert_rollups_match_events(store)
