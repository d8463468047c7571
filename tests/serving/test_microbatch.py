from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from textsift.serving.microbatch import MicroBatcher


class Recorder:
    """A stand-in model: one row per text holding its length, and a log of every batch it was given."""

    def __init__(self, fail_on: str | None = None, seconds: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.fail_on, self.seconds = fail_on, seconds

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(self.seconds)
        if self.fail_on in texts:
            raise RuntimeError("model failed")
        return np.array([[len(t)] for t in texts], dtype=np.float32)


def run_batcher(model: Recorder, requests: list[list[str]], *, max_batch: int, max_wait_s: float) -> list:
    async def main() -> list:
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_batch=max_batch, max_wait_s=max_wait_s)
            batcher.start()
            results = await asyncio.gather(*(batcher.submit(texts) for texts in requests), return_exceptions=True)
            await batcher.close()
            return results

    return asyncio.run(main())


def test_concurrent_requests_run_as_one_batch_and_get_their_own_rows() -> None:
    model = Recorder()
    results = run_batcher(model, [["a"], ["bb", "ccc"], ["dddd"]], max_batch=4, max_wait_s=10.0)
    assert model.batches == [["a", "bb", "ccc", "dddd"]]
    assert [r[:, 0].tolist() for r in results] == [[1], [2, 3], [4]]


def test_batches_stop_at_max_batch_without_splitting_a_request() -> None:
    model = Recorder()
    run_batcher(model, [["a", "b", "c"], ["d", "e"], ["f", "g"]], max_batch=4, max_wait_s=10.0)
    assert model.batches == [["a", "b", "c"], ["d", "e", "f", "g"]]


def test_a_request_larger_than_max_batch_runs_alone() -> None:
    model = Recorder()
    results = run_batcher(model, [list("abcdef")], max_batch=2, max_wait_s=0.0)
    assert model.batches == [list("abcdef")] and len(results[0]) == 6


def test_max_batch_1_runs_every_request_alone() -> None:
    model = Recorder()
    run_batcher(model, [["a"], ["b"], ["c"]], max_batch=1, max_wait_s=10.0)
    assert model.batches == [["a"], ["b"], ["c"]]


def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs() -> None:
    model = Recorder(fail_on="boom")
    results = run_batcher(model, [["boom"], ["ok"]], max_batch=1, max_wait_s=0.0)
    assert isinstance(results[0], RuntimeError) and results[1][:, 0].tolist() == [2]


def test_close_answers_everything_already_queued_and_refuses_new_work() -> None:
    async def main() -> None:
        model = Recorder()
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_batch=2, max_wait_s=10.0)
            batcher.start()
            pending = [asyncio.ensure_future(batcher.submit([t])) for t in "abc"]
            await asyncio.sleep(0)  # let the submissions reach the queue before closing
            await batcher.close()
            assert all(p.done() and not p.exception() for p in pending)
            with pytest.raises(RuntimeError, match="not running"):
                await batcher.submit(["late"])

    asyncio.run(main())


def test_a_lone_request_is_answered_without_waiting_for_company() -> None:
    async def main() -> None:
        with ThreadPoolExecutor(1) as executor:
            # No idle limit, so only the lone-caller rule can skip the 30 s window; the second request (after a
            # pass has been timed) is the one that shows it, and finishing inside 10 s means it was never spent.
            batcher = MicroBatcher(Recorder(), executor, max_batch=8, max_wait_s=30.0, idle_share=1e9)
            batcher.start()
            for _ in range(2):
                await asyncio.wait_for(batcher.submit(["alone"]), timeout=10)
            await batcher.close()

    asyncio.run(main())


def three_batches_with_a_late_request(model: Recorder, idle_share: float, late_s: float) -> list[list[str]]:
    """A shared batch [a, b], then c and efghij together while d arrives `late_s` later."""

    async def main() -> list[list[str]]:
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_batch=8, max_wait_s=30.0, idle_share=idle_share)
            batcher.start()
            await asyncio.gather(batcher.submit(["a"]), batcher.submit(["b"]))  # concurrent: one shared batch

            async def late() -> None:
                await asyncio.sleep(late_s)
                await batcher.submit(["d"])

            await asyncio.gather(batcher.submit(["c"]), late(), batcher.submit(list("efghij")))
            await batcher.close()
            return model.batches

    return asyncio.run(main())


def test_after_a_shared_batch_the_next_one_waits_for_late_requests() -> None:
    # No idle limit: "d" arrives 0.2 s late and still joins; its 8th text ends the 30 s window at once.
    batches = three_batches_with_a_late_request(Recorder(), idle_share=1e9, late_s=0.2)
    assert batches == [["a", "b"], ["c", "e", "f", "g", "h", "i", "j", "d"]]


def test_gathering_stops_once_arrivals_pause_for_a_share_of_the_last_pass() -> None:
    # Passes take 0.2 s, so a 0.02 s silence ends the gathering; "d", 1 s late, runs in a batch of its own.
    batches = three_batches_with_a_late_request(Recorder(seconds=0.2), idle_share=0.1, late_s=1.0)
    assert batches == [["a", "b"], ["c", "e", "f", "g", "h", "i", "j"], ["d"]]
