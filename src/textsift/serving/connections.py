"""Connection limits uvicorn does not have: a cap on open connections, and a deadline for each request head.

uvicorn closes a kept-alive connection that stays idle, but a connection that sends half a request head, or a byte
now and then, stays open for ever, so a few clients can hold every socket. This protocol closes connections over
`max_connections` as they arrive, and any connection whose request head is not complete `header_timeout_s` after
it began. The limits are class attributes so that `--workers` processes, which import the class by name, get the
same ones (set from ServeConfig before the server starts).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("textsift.serve")


class GuardedH11Protocol(H11Protocol):
    max_connections = 256
    header_timeout_s = 10.0

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("closing a connection over the limit of %d", self.max_connections)
            transport.close()
            return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # still waiting for (the rest of) a request head
            self._arm_head_timer()
        else:
            self._disarm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        # Armed once per request head, not re-armed by each byte: a trickle of bytes cannot keep the socket.
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._close_slow_head)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _close_slow_head(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
