"""Dynamic micro-batching: concurrent requests share one forward pass and each still gets its own answer.

A batch of short sentences costs a fraction of as many single forward passes (little on 2 CPU cores, a lot on a
GPU), so under load the server trades a few milliseconds of waiting for throughput. Waiting only pays when
requests come concurrently; a lone caller is answered at once.

Overload is refused, not queued. From the measured cost of a text, a request is admitted only when the work ahead of
it should take at most `queue_wait_s`, or no longer than the request itself (so a large request waits at most as
long as it computes), and when it can be answered before its deadline; otherwise it gets `Overloaded` (a 503 with
Retry-After) at once. A queued request whose deadline can no longer be met is dropped before any model time is
spent on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np


class Overloaded(Exception):
    """The request cannot be answered before its deadline; `retry_after_s` is when the backlog should be gone."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"at capacity; retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Job:
    texts: list[Any]  # texts, or (text, text_pair) tuples
    future: asyncio.Future[np.ndarray]
    deadline: float  # event-loop time by which the caller needs the answer


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
        run: Callable[[list[Any]], np.ndarray],
        executor: Executor,
        *,
        max_batch: int,
        max_wait_s: float,
        on_batch: Callable[[int, float], Any] | None = None,
        idle_share: float = 0.1,
        max_queued_texts: int = 2048,
        seconds_per_text: float = 0.01,
        queue_wait_s: float = float("inf"),
    ) -> None:
        self._run_batch, self._executor = run, executor
        self.max_batch, self.max_wait_s, self.idle_share = max_batch, max_wait_s, idle_share
        self.max_queued_texts, self.queue_wait_s = max_queued_texts, queue_wait_s
        self.seconds_per_text = seconds_per_text  # running estimate from the batches served
        self.wasted_s = 0.0  # model time spent on answers whose callers had gone
        self._queued_texts = 0  # submitted, not yet in a running batch
        self._running_texts = 0
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

    def backlog_s(self, extra_texts: int = 0) -> float:
        """Estimated seconds until everything queued and running, plus `extra_texts`, is done."""
        return (self._queued_texts + self._running_texts + extra_texts) * self.seconds_per_text

    async def submit(self, texts: list[Any], timeout_s: float = float("inf")) -> np.ndarray:
        """Scores for `texts` (or pairs), rows in input order, computed in whichever batch they land in.

        Raises `Overloaded` at once when the queue is full or the texts could not be done within `timeout_s`.
        """
        if self._task is None or self._closing:
            raise RuntimeError("the batcher is not running")
        ahead, own = self.backlog_s(), len(texts) * self.seconds_per_text
        allowed = max(self.queue_wait_s, own)
        if self._queued_texts + len(texts) > self.max_queued_texts or ahead > allowed or ahead + own > timeout_s:
            raise Overloaded(max(ahead, own))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queued_texts += len(texts)
        self._queue.put_nowait(_Job(texts, future, loop.time() + timeout_s))
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
            self._queued_texts -= sum(len(job.texts) for job in jobs)
            # Callers that timed out or went away cancelled their future; do not spend CPU on them.
            live = self._drop_late([job for job in jobs if not job.future.done()])
            if live:
                await self._run(live)

    def _drop_late(self, jobs: list[_Job]) -> list[_Job]:
        """Answer `Overloaded` now for jobs that this batch would finish after their deadline, latest deadline
        kept longest; every job dropped shortens the batch for the rest."""
        now = asyncio.get_running_loop().time()
        jobs = sorted(jobs, key=lambda job: job.deadline)
        while jobs and jobs[0].deadline < now + sum(len(job.texts) for job in jobs) * self.seconds_per_text:
            late = jobs.pop(0)
            late.future.set_exception(Overloaded(self.backlog_s()))
        return jobs

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
        self._running_texts = len(texts)
        try:
            proba = await asyncio.get_running_loop().run_in_executor(self._executor, self._run_batch, texts)
        except Exception as e:  # noqa: BLE001 - every caller in the batch gets the failure, the loop keeps going
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(e)
            return
        finally:
            self._running_texts = 0
        self._last_run_s = time.perf_counter() - start
        # A moving average, so the estimate follows the batch sizes and text lengths of the current load.
        self.seconds_per_text = 0.8 * self.seconds_per_text + 0.2 * self._last_run_s / len(texts)
        if self._on_batch is not None:
            self._on_batch(len(texts), self._last_run_s)
        row = 0
        for job in jobs:
            if job.future.done():  # the caller went away while the batch ran
                self.wasted_s += self._last_run_s * len(job.texts) / len(texts)
            else:
                job.future.set_result(proba[row : row + len(job.texts)])
            row += len(job.texts)
