"""Under overload and costly requests the server answers at once rather than late, and explanations never block
predictions."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serving.helpers import serving
from tests.serving.test_serve import Tampered, error_code
from textsift import load
from textsift.errors import Cancelled
from textsift.serving.explainer import Explainer
from textsift.serving.microbatch import MicroBatcher, Overloaded

LONG_TEXT = ("the plot is thin but the acting is superb and the score lingers long after the credits " * 4).strip()


@pytest.fixture(scope="module")
def classifier(full_model: Path) -> Any:
    return load(full_model)


def test_a_request_that_cannot_be_answered_in_time_gets_503_at_once(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier, timeout_s=2) as client:
        client.app.state.host.batcher.seconds_per_text = 1.0  # as measured on a machine far too slow for the load
        started = time.perf_counter()
        response = client.post("/v1/predict", json={"texts": ["a fine film", "dull", "ok"]})
        assert response.status_code == 503 and error_code(response) == "overloaded"
        assert time.perf_counter() - started < 1 and int(response.headers["retry-after"]) >= 1
        assert client.post("/v1/predict", json={"text": "a fine film"}).status_code == 200  # 1 s fits in 2 s


def test_a_full_queue_answers_503_while_the_model_is_busy(full_model: Path, classifier: Any) -> None:
    busy = Tampered(classifier)
    with serving(full_model, busy, max_queued_texts=2, timeout_s=30) as client:
        stalled = threading.Thread(target=client.post, args=("/v1/predict",), kwargs={"json": {"text": "stall"}})
        stalled.start()
        assert busy.stalled.wait(30)
        try:
            response = client.post("/v1/predict", json={"texts": ["one", "two", "three"]})
        finally:
            busy.release.set()
            stalled.join(60)
        assert response.status_code == 503 and error_code(response) == "overloaded"


def run_batcher_with_deadlines(seconds_per_text: float) -> tuple[list[Any], list[list[str]]]:
    batches: list[list[str]] = []
    gate = threading.Event()

    def model(texts: list[str]) -> np.ndarray:
        batches.append(list(texts))
        gate.wait(5)
        return np.zeros((len(texts), 1), dtype=np.float32)

    async def main() -> list[Any]:
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_batch=1, max_wait_s=0.0, seconds_per_text=seconds_per_text)
            batcher.start()
            first = asyncio.ensure_future(batcher.submit(["first"], 10.0))
            await asyncio.sleep(0.05)  # "first" now holds the model
            late = asyncio.ensure_future(batcher.submit(["late"], 0.6))  # admitted: 0.2 s backlog fits in 0.6
            await asyncio.sleep(0.5)  # by the time "first" is done, "late" could not finish before its deadline
            gate.set()
            results = await asyncio.gather(first, late, return_exceptions=True)
            await batcher.close()
            return results

    return asyncio.run(main()), batches


def test_a_queued_request_that_would_miss_its_deadline_is_dropped_before_computing() -> None:
    results, batches = run_batcher_with_deadlines(seconds_per_text=0.2)
    assert isinstance(results[0], np.ndarray) and isinstance(results[1], Overloaded)
    assert batches == [["first"]]  # no model time went to the late request


def test_model_time_for_callers_who_left_is_counted_as_wasted() -> None:
    async def main() -> float:
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(lambda t: (time.sleep(0.2), np.zeros((len(t), 1)))[1], executor, max_batch=4,
                                   max_wait_s=0.0)
            batcher.start()
            job = asyncio.ensure_future(batcher.submit(["gone"]))
            await asyncio.sleep(0.05)
            job.cancel()  # the caller timed out while its batch ran
            await asyncio.sleep(0.3)
            await batcher.close()
            return batcher.wasted_s

    assert asyncio.run(main()) == pytest.approx(0.2, abs=0.1)


def test_predictions_are_answered_while_a_long_explanation_runs(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier, timeout_s=60) as client:
        client.post("/v1/explain", json={"text": "warm", "steps": 8})  # the explainer measures its speed once
        done = threading.Event()
        thread = threading.Thread(target=lambda: (client.post("/v1/explain", json={"text": LONG_TEXT,
                                                                                    "steps": 200}), done.set()))
        thread.start()
        time.sleep(0.3)
        answered = [client.post("/v1/predict", json={"text": "a fine film"}).status_code for _ in range(3)]
        explaining = not done.is_set()
        thread.join(120)
    assert answered == [200, 200, 200] and explaining  # all three came back while the explanation still ran


def test_a_second_explanation_while_one_runs_is_503(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier, timeout_s=60) as client:
        client.post("/v1/explain", json={"text": "warm", "steps": 8})
        thread = threading.Thread(target=client.post, args=("/v1/explain",),
                                  kwargs={"json": {"text": LONG_TEXT, "steps": 200}})
        thread.start()
        # On busy cores the long request may reach the server after a short one sent 0.3 s later, which is then
        # answered first (200); ask again until one arrives while the long explanation runs.
        deadline = time.monotonic() + 60
        while True:
            time.sleep(0.3)
            response = client.post("/v1/explain", json={"text": "a fine film", "steps": 4})
            if response.status_code != 200 or not thread.is_alive() or time.monotonic() > deadline:
                break
        thread.join(120)
    assert response.status_code == 503 and error_code(response) == "explain_busy"


def test_an_explanation_over_the_time_limit_is_refused_with_the_steps_that_fit(full_model: Path,
                                                                               classifier: Any) -> None:
    with serving(full_model, classifier, timeout_s=0.5) as client:
        client.post("/v1/explain", json={"text": "warm", "steps": 2})
        response = client.post("/v1/explain", json={"text": LONG_TEXT, "steps": 200})
    message = response.json()["error"]["message"]
    assert response.status_code == 422 and error_code(response) == "explain_too_costly"
    assert "over the 0.5 s limit; ask for at most" in message


def test_an_explanation_past_its_timeout_is_cancelled_within_a_chunk(classifier: Any) -> None:
    explainer = Explainer(classifier)

    async def main() -> tuple[float, BaseException | None]:
        await explainer.explain("warm", 2, None, 60)
        explainer.seconds_per_token_step = 1e-9  # a wrong estimate lets a too long request through
        with pytest.raises(TimeoutError):
            await explainer.explain(LONG_TEXT, 200, None, 0.3)
        started = time.perf_counter()
        assert explainer._running is not None
        error = await asyncio.wait_for(asyncio.gather(explainer._running, return_exceptions=True), 30)
        return time.perf_counter() - started, error[0]

    try:
        seconds, error = asyncio.run(main())
    finally:
        explainer.close()
    assert isinstance(error, Cancelled) and seconds < 5


def test_a_client_that_leaves_mid_body_is_counted_as_499_not_500(full_model: Path, classifier: Any) -> None:
    from textsift.config import ServeConfig
    from textsift.serving.app import create_app

    app = create_app(full_model, ServeConfig(), classifier=classifier)
    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": [(b"content-type",
                                                                                    b"application/json")],
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "root_path": "", "http_version": "1.1", "raw_path": b"/v1/predict"}
    messages = iter([{"type": "http.request", "body": b'{"te', "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    registry = app.state.host.metrics.registry
    count = {status: registry.get_sample_value("textsift_requests_total", {"endpoint": "/v1/predict",
                                                                            "status": status}) for status in ("499",
                                                                                                              "500")}
    assert sent == [] and count == {"499": 1.0, "500": None}
