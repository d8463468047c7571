from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serving.helpers import serving
from textsift import TextsiftError, load
from textsift.config import ServeConfig
from textsift.serving.app import create_app


@pytest.fixture(scope="module")
def classifier(full_model: Path) -> Any:
    return load(full_model)


@pytest.fixture(scope="module")
def client(full_model: Path, classifier: Any) -> Iterator[TestClient]:
    with serving(full_model, classifier, max_texts=4, max_chars=50, max_body_bytes=2000) as c:
        yield c


class Tampered:
    """The real classifier, except that the text 'boom' raises and 'stall' blocks until released."""

    def __init__(self, real: Any, model: Any = None) -> None:
        self.real, self.labels, self.settings, self.device = real, real.labels, real.settings, real.device
        self.task = real.task
        self.model = real.model if model is None else model
        self.release, self.stalled = threading.Event(), threading.Event()

    def scores(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if "boom" in texts:
            raise RuntimeError("secret internal detail")
        if "stall" in texts:
            self.stalled.set()
            self.release.wait(30)
        return self.real.scores(texts, batch_size)


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def metric(client: TestClient, name: str, **labels: str) -> float:
    return client.app.state.host.metrics.registry.get_sample_value(name, labels) or 0.0


def test_predict_answers_each_text_in_order(client: TestClient, classifier: Any) -> None:
    texts = ["a gripping, beautifully acted story", "the plot is thin and the jokes fall flat"]
    body = client.post("/v1/predict", json={"texts": texts}).json()
    assert [p["label"] for p in body["predictions"]] == classifier.predict(texts)
    assert body["model"]["name"] == client.app.state.host.folder.resolve().name
    assert len(body["model"]["version"]) == 12 and body["latency_ms"] > 0


def test_predict_single_text_lists_top_k_by_score(client: TestClient, classifier: Any) -> None:
    body = client.post("/v1/predict", json={"text": "dull", "top_k": 5}).json()
    (prediction,) = body["predictions"]
    scores = [item["score"] for item in prediction["top_k"]]
    assert len(scores) == len(classifier.labels) and scores == sorted(scores, reverse=True)
    assert prediction["score"] == scores[0] and abs(sum(scores) - 1) < 1e-4


def test_models_shows_labels_metrics_and_limits(client: TestClient, classifier: Any) -> None:
    (model,) = client.get("/v1/models").json()["models"]
    assert model["labels"] == classifier.labels and model["strategy"] == "full"
    assert "validation" in model["metrics"] and model["limits"]["max_texts"] == 4
    assert "file" not in json.dumps(model["training_data"])  # no server paths leak


def test_health_and_readiness_answer_when_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_readiness_is_503_until_the_model_is_warm(full_model: Path, classifier: Any) -> None:
    stalled = Tampered(classifier)
    stalled.scores = lambda texts, batch_size=64: (stalled.release.wait(30), classifier.scores(texts))[1]
    with TestClient(create_app(full_model, ServeConfig(), classifier=stalled)) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503 and error_code(c.get("/readyz")) == "not_ready"
        assert error_code(c.post("/v1/predict", json={"text": "fine"})) == "not_ready"
        stalled.release.set()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def wait_for_metric(client: TestClient, name: str, value: float) -> None:
    deadline = time.monotonic() + 30
    while metric(client, name) != value:
        assert time.monotonic() < deadline, f"{name} never reached {value}"
        time.sleep(0.01)


def test_requests_that_arrive_while_the_model_is_busy_share_the_next_batch(full_model: Path, classifier: Any) -> None:
    busy = Tampered(classifier)
    # max_batch = 4 and a long wait: the second batch runs exactly when it holds all 4 requests, never by timer.
    with serving(full_model, busy, max_batch=4, max_wait_ms=20_000, timeout_s=60) as c:
        texts = ["stall"] + [f"film number {i} was fine" for i in range(4)]
        responses: list[Any] = [None] * len(texts)

        def send(i: int) -> None:
            responses[i] = c.post("/v1/predict", json={"text": texts[i]})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(texts))]
        threads[0].start()
        assert busy.stalled.wait(30)  # "stall" now holds the model thread
        for t in threads[1:]:
            t.start()
        try:
            wait_for_metric(c, "textsift_queued_requests", 4)
        finally:
            busy.release.set()
        for t in threads:
            t.join(60)
        assert [r.status_code for r in responses] == [200] * 5
        assert metric(c, "textsift_batch_size_count") == 2 and metric(c, "textsift_batch_size_sum") == 5


def test_max_batch_1_runs_each_request_alone(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier, max_batch=1) as c:
        for i in range(3):
            assert c.post("/v1/predict", json={"texts": [f"scene {i}"]}).status_code == 200
        assert metric(c, "textsift_batch_size_count") == 3 and metric(c, "textsift_batch_size_sum") == 3


def test_metrics_count_requests_by_endpoint_and_status(client: TestClient) -> None:
    client.post("/v1/predict", json={"text": "fine"})
    client.post("/v1/predict", json={"text": ""})
    text = client.get("/metrics").text
    assert 'textsift_requests_total{endpoint="/v1/predict",status="200"}' in text
    assert 'textsift_requests_total{endpoint="/v1/predict",status="422"}' in text
    assert 'textsift_errors_total{code="empty_text"}' in text
    assert "textsift_request_latency_seconds_bucket" in text and "textsift_batch_size_bucket" in text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"texts": ["a"] * 5}, 422, "too_many_texts"),
        ({"text": "x" * 51}, 422, "text_too_long"),
        ({"text": "   "}, 422, "empty_text"),
        ({"texts": []}, 422, "no_texts"),
        ({"texts": [1, 2]}, 422, "invalid_request"),
        ({"text": 5}, 422, "invalid_request"),
        ({"texts": "not a list"}, 422, "invalid_request"),
        ({"text": "a", "texts": ["b"]}, 422, "invalid_request"),
        ({"text": "a", "top_k": 0}, 422, "invalid_request"),
        ({"text": "a", "colour": "blue"}, 422, "invalid_request"),
        ({"text": "\ud800"}, 422, "invalid_text"),
    ],
)
def test_bad_request_gets_a_4xx_json_error(client: TestClient, body: Any, status: int, code: str) -> None:
    response = client.post("/v1/predict", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == status and error_code(response) == code
    assert response.json()["error"]["message"]


def test_malformed_json_is_400(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    response = client.post("/v1/predict", content=b'{"text": "unterminated', headers=headers)
    assert response.status_code == 400 and error_code(response) == "malformed_json"


def test_body_without_json_content_type_is_415(client: TestClient) -> None:
    response = client.post("/v1/predict", content=b'{"text": "fine"}', headers={"content-type": "text/plain"})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"


def test_body_over_the_limit_is_413_by_content_length(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"text": "x" * 3000})
    assert response.status_code == 413 and error_code(response) == "body_too_large"


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    chunks = (b"x" * 500 for _ in range(10))  # no Content-Length: counted while reading
    response = client.post("/v1/predict", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and error_code(response) == "body_too_large"


def test_unknown_path_is_a_404_json_error(client: TestClient) -> None:
    assert error_code(client.get("/v1/nothing")) == "not_found"


def test_server_error_hides_details_and_logs_the_traceback(full_model: Path, classifier: Any, caplog) -> None:
    with serving(full_model, Tampered(classifier)) as c:
        response = c.post("/v1/predict", json={"text": "boom"})
    assert response.status_code == 500 and error_code(response) == "internal"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


def test_request_over_the_timeout_is_504(full_model: Path, classifier: Any) -> None:
    slow = Tampered(classifier)
    with serving(full_model, slow, timeout_s=0.2) as c:
        try:
            response = c.post("/v1/predict", json={"text": "stall"})
        finally:
            slow.release.set()
        assert response.status_code == 504 and error_code(response) == "timeout"
        assert c.post("/v1/predict", json={"text": "fine"}).status_code == 200


@pytest.fixture(scope="module")
def keyed(full_model: Path, classifier: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    key_file = tmp_path_factory.mktemp("key") / "key.txt"
    key_file.write_text("s3cret-key\n")
    with serving(full_model, classifier, api_key_file=key_file) as c:
        yield c


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-key"}])
def test_missing_or_wrong_api_key_is_401(keyed: TestClient, headers: dict[str, str]) -> None:
    response = keyed.post("/v1/predict", json={"text": "fine"}, headers=headers)
    assert response.status_code == 401 and error_code(response) == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_right_api_key_is_accepted(keyed: TestClient) -> None:
    headers = {"Authorization": "Bearer s3cret-key"}
    assert keyed.post("/v1/predict", json={"text": "fine"}, headers=headers).status_code == 200
    assert keyed.get("/v1/models", headers=headers).status_code == 200


def test_curl_form_body_with_a_key_is_read_as_json(keyed: TestClient) -> None:
    headers = {"Authorization": "Bearer s3cret-key", "Content-Type": "application/x-www-form-urlencoded"}
    assert keyed.post("/v1/predict", content=b'{"texts": ["great film", "dull"]}', headers=headers).status_code == 200


def test_probes_need_no_api_key(keyed: TestClient) -> None:
    assert keyed.get("/readyz").status_code == 200 and keyed.get("/metrics").status_code == 200


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_configured_origins(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier, cors_origins=["https://app.example"]) as c:
        ok = c.get("/healthz", headers={"Origin": "https://app.example"})
        other = c.get("/healthz", headers={"Origin": "https://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_playground_page_is_served_with_its_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'aria-live="polite"' in page.text and '<label for="text"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/playground.js").status_code == 200 and client.get("/playground.css").status_code == 200


def test_openapi_schema_and_docs_are_published(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_missing_api_key_file_is_a_textsift_error(full_model: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="no such API key file"):
        create_app(full_model, ServeConfig(api_key_file=tmp_path / "absent.txt"))


@pytest.mark.parametrize("bad", [{"max_batch": 0}, {"port": 70000}, {"max_wait_ms": -1}, {"timeout_s": 0},
                                 {"forward_batch": 0}])
def test_serve_config_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(TextsiftError):
        ServeConfig(**bad)


class PassRecorder(Tampered):
    """The real classifier, remembering the forward-pass size the server asked for."""

    def scores(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.batch_size = batch_size
        return super().scores(texts, batch_size)


@pytest.mark.parametrize(("settings", "expected"), [({}, 8), ({"forward_batch": 3}, 3)])
def test_batches_run_in_forward_passes_of_forward_batch_texts(full_model: Path, classifier: Any,
                                                              settings: dict[str, Any], expected: int) -> None:
    recorder = PassRecorder(classifier)
    with serving(full_model, recorder, **settings) as c:  # the CPU default is 8; a GPU takes the whole batch
        assert c.post("/v1/predict", json={"texts": ["a fine film", "dull"]}).status_code == 200
    assert recorder.batch_size == expected
