"""Webhooks against a real local receiver: retried with exponential back-off until delivered, the same delivery key
on every retry, sent once, never in the way of ingest, and heard soon after a receiver that was down comes back.

Alerts come the way they do in production: a rule with a webhook, a surge stored with Store.add, and
alerting.evaluate on the closed windows, which queues the message in the outbox.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.monitor.helpers import add, binary
from textsift.monitor.alerting import add_rule, evaluate
from textsift.monitor.config import IngestConfig
from textsift.monitor.pipeline import Pipeline
from textsift.monitor.schema import deliveries
from textsift.monitor.store import Store
from textsift.monitor.stream import Event
from textsift.monitor.webhooks import Backoff, Deliverer, deliver_due

T0 = 1_800_057_600
RULE = "share(negative) > baseline + 3 sigma over 1m, min 10, baseline 8 windows"


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first `fail` requests and 200 after, each after
    `delay` seconds; it can go down (connections refused) and come back on the same port."""

    fail: int = 0
    delay: float = 0.0
    port: int = 0
    requests: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)  # (time, delivery key, body)
    _server: ThreadingHTTPServer | None = None

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((time.time(), self.headers["X-Textsift-Delivery"], body))
                time.sleep(receiver.delay)
                self.send_response(500 if len(receiver.requests) <= receiver.fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


@pytest.fixture
def hanging() -> Iterator[socket.socket]:
    """A port that accepts connections (into the kernel's backlog) and never answers; closing it resets them."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server


def refused_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # closed again: nothing listens there


def fire_alert(store: Store, webhook: str) -> int:
    """Six quiet minutes (2 of 20 negative), a surge minute (18 of 20), then one event that closes it: the rule fires
    once and its message waits in the outbox. Returns the alert's id."""
    add_rule(store, RULE, webhook=webhook)
    batch = [binary(f"m{m}-{i}", T0 + m * 60 + i, negative=i < (18 if m == 6 else 2)) for m in range(7)
             for i in range(20)]
    add(store, batch + [binary("late", T0 + 8 * 60, negative=False)])
    fired = evaluate(store, lateness=0)
    assert [(e.status, e.evidence["window_start_ts"]) for e in fired] == [("firing", T0 + 6 * 60)]
    return fired[0].alert_id


def delivery(store: Store) -> Any:
    with store.read() as conn:
        rows = conn.execute(select(deliveries)).all()
    assert len(rows) == 1
    return rows[0]


def wait_until(condition: Any, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s} s: {what}"
        time.sleep(0.02)


def test_a_failing_receiver_is_retried_after_exponentially_growing_waits(store_url: str,
                                                                        receiver: Receiver) -> None:
    receiver.fail = 2
    store, backoff = Store(store_url), Backoff(first=1.0, cap=4.0, timeout=2.0)
    fire_alert(store, receiver.up().url)
    waits, attempts = [], []  # attempts: the count just before each try is due, and just after it
    for attempt in range(1, 6):  # 500, 500, refused, refused, 200
        if attempt == 3:
            receiver.down()
        if attempt == 5:
            receiver.up()
        due = delivery(store).next_try_ts
        assert deliver_due(store, backoff, now=due - 0.05) == 0  # not yet due: nothing is tried
        attempts.append(delivery(store).attempts)
        assert deliver_due(store, backoff, now=due) == (attempt == 5)
        done = time.time()
        row = delivery(store)
        attempts.append(row.attempts)
        if row.delivered_ts is None:
            waits.append(row.next_try_ts - done)
    assert attempts == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert waits == pytest.approx([1.0, 2.0, 4.0, 4.0], abs=0.25)  # first * 2**(n-1), capped


def test_a_refused_connection_is_recorded_as_the_last_error(store_url: str) -> None:
    store = Store(store_url)
    fire_alert(store, refused_url())
    deliver_due(store, Backoff(timeout=2.0))
    assert "refused" in delivery(store).last_error.lower()


def test_every_retry_carries_the_same_delivery_key(store_url: str, receiver: Receiver) -> None:
    receiver.fail = 2
    store, backoff = Store(store_url), Backoff(first=1.0, cap=1.0, timeout=2.0)
    alert_id = fire_alert(store, receiver.up().url)
    for _ in range(3):
        deliver_due(store, backoff, now=delivery(store).next_try_ts)
    assert [key for _, key, _ in receiver.requests] == [f"{alert_id}-firing"] * 3
    assert [(body["alert_id"], body["status"]) for _, _, body in receiver.requests] == [(alert_id, "firing")] * 3
    assert delivery(store).delivered_ts is not None


def test_a_delivered_alert_is_not_sent_again(store_url: str, receiver: Receiver) -> None:
    store = Store(store_url)
    fire_alert(store, receiver.up().url)
    deliverer = Deliverer(store, Backoff(first=0.05, cap=0.1, timeout=2.0), every=0.02).start()
    wait_until(lambda: delivery(store).delivered_ts is not None, 10, "the alert delivered")
    time.sleep(0.5)  # a few dozen more rounds of the sender
    assert deliverer.stop() == 0
    assert deliver_due(store, now=time.time() + 86400) == 0
    assert (len(receiver.requests), delivery(store).attempts) == (1, 1)


def test_two_senders_sharing_one_outbox_send_an_alert_once(store_url: str, receiver: Receiver) -> None:
    receiver.delay = 0.5  # both senders look while the first one's request is still in flight
    fire_alert(Store(store_url), receiver.up().url)
    stores, barrier, sent = [Store(store_url), Store(store_url)], threading.Barrier(2), [0, 0]

    def sender(k: int) -> None:
        barrier.wait(timeout=10)
        sent[k] = deliver_due(stores[k], Backoff(timeout=5.0))

    threads = [threading.Thread(target=sender, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert (sorted(sent), len(receiver.requests)) == ([0, 1], 1)


def stream(first: int, n: int, minute: int) -> list[Event]:
    texts = ["a gripping, beautifully acted story", "the plot is thin and the jokes fall flat"]
    return [Event(f"p{first + i}", T0 + minute * 60 + i, "web", texts[i % 2]) for i in range(n)]


@pytest.mark.parametrize("dead", ["hangs", "refuses"])
def test_a_dead_receiver_does_not_slow_down_ingest(int8_model: Path, store_url: str, hanging: socket.socket,
                                                   dead: str) -> None:
    store = Store(store_url)
    fire_alert(store, f"http://127.0.0.1:{hanging.getsockname()[1]}/hook" if dead == "hangs" else refused_url())
    pipeline = Pipeline(int8_model, IngestConfig(examples=0), store=store)
    pipeline.ingest(stream(0, 16, minute=10))  # the model's first pass is slower than the rest
    started = time.monotonic()
    pipeline.ingest(stream(100, 32, minute=11))
    quiet = time.monotonic() - started

    # A POST that would hang for 30 s, or be refused and retried every 0.1 s, while the same ingest runs again.
    deliverer = Deliverer(store, Backoff(first=0.05, cap=0.1, timeout=30.0), every=0.01).start()
    try:
        if dead == "hangs":  # claimed (its next try pushed past the timeout) but not finished: a POST in flight
            wait_until(lambda: delivery(store).next_try_ts > time.time() + 20, 10, "a POST in flight")
        else:
            wait_until(lambda: delivery(store).attempts >= 3, 10, "three refused tries")
        started = time.monotonic()
        added, _ = pipeline.ingest(stream(200, 32, minute=12))
        busy = time.monotonic() - started
        row = delivery(store)
    finally:
        hanging.close()  # the hung POST ends with a reset, so the sender can stop
        deliverer.stop()
    assert added.stored == 32 and row.delivered_ts is None
    if dead == "hangs":
        assert row.attempts == 0  # the one POST was in flight all through the ingest
    assert busy < 2 * quiet + 1.0, f"ingest took {busy:.2f} s with a dead receiver, {quiet:.2f} s without"


def test_a_receiver_that_was_down_gets_the_alert_soon_after_it_is_back(store_url: str, receiver: Receiver) -> None:
    receiver.up().down()  # a port of its own, refusing connections for now
    store, backoff = Store(store_url), Backoff(first=0.1, cap=1.0, timeout=1.0)
    fire_alert(store, receiver.url)
    deliverer = Deliverer(store, backoff, every=0.05).start()
    try:
        time.sleep(3.0)
        assert delivery(store).attempts >= 4 and delivery(store).delivered_ts is None
        receiver.up()
        back = time.time()
        wait_until(lambda: delivery(store).delivered_ts is not None, 10, "the alert delivered")
    finally:
        deliverer.stop()
    assert len(receiver.requests) == 1
    assert receiver.requests[0][0] - back < backoff.cap + 1.0  # heard within about one capped wait
