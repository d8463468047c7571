"""Dynamic micro-batching: concurrent requests share one forward pass and each still gets its own answer.

A batch of short sentences costs a fraction of as many single forward passes (little on 2 CPU cores, a lot on a
GPU), so under load the server trades a few milliseconds of waiting for throughput. Waiting only pays when
requests come concurrently; a lone caller is answered at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future[np.ndarray]


class MicroBatcher:
    """Gathers texts from concurrent callers for up to `max_wait_s` or `max_batch` texts and runs them together.

    One consumer task feeds `executor` (a single thread), so the model is never called concurrently and the event
    loop stays free while it runs. A request is never split: one larger than `max_batch` runs as its own batch.

    The wait for company happens only when the previous batch held more than one request. A lone caller then
    costs no `max_wait_s`; under load, requests that arrive while the model is busy fill the next batch anyway,
    and the first batch with company turns waiting back on. The model idles while a batch gathers, so the wait
    also ends once no request has come for `idle_share` of the last forward pass: the burst is over, and waiting
    on would cost more than a late arrival could save (measured in BENCHMARKS.md, serving).
    """

    def __init__(
        self,
        run: Callable[[list[str]], np.ndarray],
        executor: Executor,
        *,
        max_batch: int,
        max_wait_s: float,
        on_batch: Callable[[int, float], Any] | None = None,
        idle_share: float = 0.1,
    ) -> None:
        self._run_batch, self._executor = run, executor
        self.max_batch, self.max_wait_s, self.idle_share = max_batch, max_wait_s, idle_share
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._carry: _Job | None = None
        self._had_company = False  # the last batch held more than one request
        self._last_run_s = 0.0  # seconds the last forward pass took
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def waiting(self) -> int:
        """Requests queued for a batch that has not started yet."""
        return self._queue.qsize() + (self._carry is not None)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def submit(self, texts: list[str]) -> np.ndarray:
        """Probabilities for `texts`, rows in input order, computed in whichever batch they land in."""
        if self._task is None or self._closing:
            raise RuntimeError("the batcher is not running")
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(texts, future))
        return await future

    async def close(self) -> None:
        """Stop taking work and answer everything already submitted (graceful shutdown drains here)."""
        if self._task is None or self._closing:
            return
        self._closing = True
        self._queue.put_nowait(None)
        await self._task

    async def _consume(self) -> None:
        stop = False
        while not stop:
            jobs, stop = await self._gather()
            # Callers that timed out or went away cancelled their future; do not spend CPU on them.
            live = [job for job in jobs if not job.future.done()]
            if live:
                await self._run(live)

    async def _gather(self) -> tuple[list[_Job], bool]:
        """The next batch, and whether the close marker was reached."""
        first = self._carry or await self._queue.get()
        self._carry = None
        if first is None:
            return [], True
        loop = asyncio.get_running_loop()
        jobs, size = [first], len(first.texts)
        deadline = loop.time() + (self.max_wait_s if self._had_company else 0.0)
        while size < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = min(deadline - loop.time(), self.idle_share * self._last_run_s)
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if job is None:
                return jobs, True
            if size + len(job.texts) > self.max_batch:
                self._carry = job  # opens the next batch, so arrival order is kept
                break
            jobs.append(job)
            size += len(job.texts)
        self._had_company = len(jobs) > 1
        return jobs, False

    async def _run(self, jobs: list[_Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        start = time.perf_counter()
        try:
            proba = await asyncio.get_running_loop().run_in_executor(self._executor, self._run_batch, texts)
        except Exception as e:  # noqa: BLE001 - every caller in the batch gets the failure, the loop keeps going
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(e)
            return
        self._last_run_s = time.perf_counter() - start
        if self._on_batch is not None:
            self._on_batch(len(texts), self._last_run_s)
        row = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(proba[row : row + len(job.texts)])
            row += len(job.texts)
