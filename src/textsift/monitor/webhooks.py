"""Sending the outbox: each alert message POSTed once it is acknowledged, retried with exponential back-off.

A message is claimed by moving its next try forward (compare-and-set), so several monitor processes share one
outbox without sending a message twice at once. Receivers get `X-Textsift-Delivery: <alert>-<status>`, the same on
every retry, to drop a duplicate when an acknowledgement was lost on the way back.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from textsift.monitor.store import Store

log = logging.getLogger("textsift")


@dataclass
class Backoff:
    """Retry n waits min(cap, first * 2**(n-1)) seconds, so a receiver that comes back hears within `cap`
    seconds; messages are retried until delivered (`textsift monitor alerts` shows what is still pending)."""

    first: float = 1.0
    cap: float = 30.0
    timeout: float = 5.0

    def delay(self, attempts: int) -> float:
        return min(self.cap, self.first * 2 ** max(0, attempts - 1))


def deliver_due(store: Store, backoff: Backoff | None = None, now: float | None = None) -> int:
    """Try every message that is due once; returns how many were delivered."""
    from sqlalchemy import select

    from textsift.monitor.schema import deliveries

    backoff = backoff or Backoff()
    now = time.time() if now is None else now
    with store.read() as conn:
        due = conn.execute(select(deliveries).where(deliveries.c.delivered_ts.is_(None),
                                                    deliveries.c.next_try_ts <= now)
                           .order_by(deliveries.c.id).limit(50)).all()
    return sum(_try(store, row, backoff, now) for row in due)


def _try(store: Store, row: object, backoff: Backoff, now: float) -> bool:
    from sqlalchemy import update

    from textsift.monitor.schema import deliveries

    d = deliveries.c
    attempts = row.attempts + 1  # type: ignore[attr-defined]
    with store.write() as conn:  # claim: nobody else sends it while this try is in flight
        claim = update(deliveries).where(d.id == row.id, d.next_try_ts == row.next_try_ts)  # type: ignore[attr-defined]
        if conn.execute(claim.values(next_try_ts=now + backoff.timeout + backoff.delay(attempts))).rowcount != 1:
            return False
    error = _post(row.url, row.payload, f"{row.alert_id}-{row.status}", backoff.timeout)  # type: ignore[attr-defined]
    values: dict[str, object] = {"attempts": attempts, "last_error": error}
    if error is None:
        values["delivered_ts"] = time.time()
    else:
        values["next_try_ts"] = time.time() + backoff.delay(attempts)
        log.warning("webhook %s: %s (try %d; next in %.0f s)", row.url, error, attempts,  # type: ignore[attr-defined]
                    backoff.delay(attempts))
    with store.write() as conn:
        conn.execute(update(deliveries).where(d.id == row.id).values(**values))  # type: ignore[attr-defined]
    return error is None


def _post(url: str, payload: str, key: str, timeout: float) -> str | None:
    request = urllib.request.Request(url, data=payload.encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Textsift-Delivery": key, "User-Agent": "textsift-monitor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's own URL)
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        return str(getattr(e, "reason", e))


def pending(store: Store) -> int:
    from sqlalchemy import func, select

    from textsift.monitor.schema import deliveries

    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(deliveries)
                                .where(deliveries.c.delivered_ts.is_(None))).scalar() or 0)


class Deliverer:
    """A daemon thread that keeps sending the outbox every `every` seconds; ingest never waits on a receiver."""

    def __init__(self, store: Store, backoff: Backoff | None = None, every: float = 0.5) -> None:
        self.store, self.backoff, self.every = store, backoff or Backoff(), every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="textsift-webhooks", daemon=True)

    def start(self) -> Deliverer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.store, self.backoff)
            except Exception as e:  # a database hiccup must not end deliveries for the process's lifetime
                log.warning("webhook delivery: %s", e)
            self._stop.wait(self.every)

    def stop(self, drain_s: float = 0.0) -> int:
        """Stop, first trying for up to `drain_s` seconds to send what is pending; returns what is left."""
        deadline = time.monotonic() + drain_s
        while pending(self.store) and time.monotonic() < deadline:
            time.sleep(0.2)
        self._stop.set()
        self._thread.join(timeout=self.backoff.timeout + 1)
        return pending(self.store)
