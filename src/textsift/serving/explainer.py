"""/v1/explain off the prediction path: its own worker thread at the lowest CPU priority, a private copy of the
model (Captum hooks the embedding layer while it runs, which must never touch a concurrent prediction), one request
at a time, a cost cap from measured speed, and cancellation between chunks of integration steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from textsift.errors import Cancelled

log = logging.getLogger("textsift.serve")
CHUNK_STEPS = 8  # steps per forward pass, and so how soon a cancellation takes effect
_WARM_TEXT = "a short warm-up sentence for the model"


class ExplainBusy(Exception):
    """Another explanation is running; explanations run one at a time."""


class TooCostly(Exception):
    """The request would not finish within the server's timeout; `max_steps` would."""

    def __init__(self, seconds: float, max_steps: int) -> None:
        super().__init__(f"about {seconds:.1f} s of work")
        self.seconds, self.max_steps = seconds, max_steps


def _lowest_priority() -> None:
    # Linux applies a nice value to the calling thread alone; torch's worker threads for this thread inherit it,
    # so predictions keep the CPU while an explanation runs. Elsewhere the call is simply skipped.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Explainer:
    """Runs explanations for one torch classifier, one at a time, on a worker of its own."""

    def __init__(self, classifier: Any) -> None:
        self._source = classifier
        self._classifier: Any = None  # the private copy, made in the worker on first use
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="textsift-explain", initializer=_lowest_priority)
        self._cancel = threading.Event()
        self._closed = False  # set once the server shuts down: no new explanations
        self._busy = False
        self._running: asyncio.Future[Any] | None = None
        # Cost model: overhead_s + seconds_per_token_step * tokens * steps, measured on the worker on first use.
        self.overhead_s = 0.0
        self.seconds_per_token_step: float | None = None

    def cost_s(self, text: str, steps: int, text_pair: str | None = None) -> float:
        """Estimated seconds for `text` (and `text_pair`) at `steps`, once the worker has measured its speed."""
        return self.overhead_s + self._tokens(text, text_pair) * steps * (self.seconds_per_token_step or 0.0)

    async def explain(self, text: str, steps: int, target: str | None, timeout_s: float,
                      text_pair: str | None = None) -> Any:
        """The explanation, or ExplainBusy, TooCostly, TimeoutError (the work is then cancelled)."""
        from textsift.explanation.attribution import explain

        if self._closed:
            raise Cancelled("the server is shutting down")
        if self._busy:
            raise ExplainBusy("another explanation is running")
        self._busy = True  # set before the first await, so a second request sees it
        loop = asyncio.get_running_loop()
        try:
            if self.seconds_per_token_step is None:
                await loop.run_in_executor(self._executor, self._calibrate)
            seconds = self.cost_s(text, steps, text_pair)
            if seconds > timeout_s:
                per_step = (seconds - self.overhead_s) / steps
                raise TooCostly(seconds, max(1, math.floor((timeout_s - self.overhead_s) / per_step)))
        except BaseException:
            self._busy = False
            raise
        self._cancel.clear()

        def run() -> Any:
            started = time.perf_counter()
            result = explain(self._classifier, text, steps=steps, target=target, stop=self._cancel.is_set,
                             chunk=CHUNK_STEPS, text_pair=text_pair)
            self._measure(time.perf_counter() - started, self._tokens(text, text_pair) * steps)
            return result

        self._running = loop.run_in_executor(self._executor, run)
        # Busy until the worker is done, not until the caller gives up: a cancelled run still holds the worker.
        self._running.add_done_callback(lambda _: setattr(self, "_busy", False))
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            self._cancel.set()  # the worker stops at the next chunk of steps
            raise

    def cancel(self) -> None:
        """Stop the running explanation at its next chunk of steps and take no new ones (safe from any thread, a
        signal handler too)."""
        self._closed = True
        self._cancel.set()

    def close(self) -> None:
        """Cancel what runs and wait for the worker: bounded by one chunk of steps."""
        self.cancel()
        self._executor.shutdown(wait=True)

    def _calibrate(self) -> None:
        from textsift.explanation.attribution import explain

        source = self._source
        classifier = dataclasses.replace(source, model=copy.deepcopy(source.model),
                                         tokenizer=copy.deepcopy(source.tokenizer))
        self._classifier = classifier
        pair = _WARM_TEXT if classifier.task.pairs else None
        explain(classifier, _WARM_TEXT, steps=2, text_pair=pair)  # pays for Captum's import and the first backward
        # Two sizes of the same work separate the per-call overhead from the cost of each token and step.
        seconds = {}
        for steps in (CHUNK_STEPS, 4 * CHUNK_STEPS):
            started = time.perf_counter()
            explain(classifier, _WARM_TEXT, steps=steps, chunk=CHUNK_STEPS, text_pair=pair)
            seconds[steps] = time.perf_counter() - started
        token_steps = self._tokens(_WARM_TEXT, pair) * 3 * CHUNK_STEPS
        self.seconds_per_token_step = max((seconds[4 * CHUNK_STEPS] - seconds[CHUNK_STEPS]) / token_steps, 1e-7)
        self.overhead_s = max(seconds[CHUNK_STEPS] - self.seconds_per_token_step * token_steps / 3, 0.0)

    def _measure(self, seconds: float, token_steps: int) -> None:
        sample = max(seconds - self.overhead_s, 0.0) / max(token_steps, 1)
        self.seconds_per_token_step = 0.7 * (self.seconds_per_token_step or sample) + 0.3 * sample

    def _tokens(self, text: str, text_pair: str | None = None) -> int:
        # The private copy's tokenizer: the model thread may be using the original's this very moment.
        return len(self._classifier.encode([text if text_pair is None else (text, text_pair)])[0])
