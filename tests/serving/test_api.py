"""The published API contract: a bounded schemathesis fuzz of the OpenAPI schema, and /v1/explain."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from tests.serving.helpers import serving
from textsift import load
from textsift.config import ServeConfig
from textsift.serving.app import create_app


@pytest.fixture(scope="module")
def classifier(full_model: Path) -> Any:
    return load(full_model)


@pytest.fixture(scope="module")
def api_schema(full_model: Path, classifier: Any) -> Any:
    app = create_app(full_model, ServeConfig(max_texts=8, max_chars=200), classifier=classifier)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # /v1/explain costs seconds per call (integrated gradients); its own tests below cover it.
    return schema.exclude(path="/v1/explain")


# schemathesis.pytest.from_fixture needs pytest internals that pytest 9 dropped, so each operation's case
# strategy is driven by hypothesis directly; the operations are listed here, their schemas come from the app.
@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/predict"), ("GET", "/v1/models"), ("GET", "/healthz"),
                                              ("GET", "/readyz"), ("GET", "/metrics")])
def test_api_never_answers_with_a_server_error(api_schema: Any, method: str, path: str) -> None:
    # schemathesis stops the app's lifespan after each test and starts it again on the next request.
    with asgi.get_client(api_schema.app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "app not ready within 60 s"
            time.sleep(0.02)

    @given(case=api_schema[path][method].as_strategy())
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    check()


class NotTorch:
    """A model with no PyTorch module behind it, as an ONNX folder loads."""

    def __init__(self, real: Any) -> None:
        self.labels, self.settings, self.model = real.labels, real.settings, object()
        self.task, self.scores = real.task, real.scores


def test_explain_on_a_model_without_torch_weights_is_400(full_model: Path, classifier: Any) -> None:
    with serving(full_model, NotTorch(classifier)) as client:
        response = client.post("/v1/explain", json={"text": "a fine film"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "explain_unsupported"
        assert client.get("/v1/models").json()["models"][0]["explain"] is False


def test_explain_without_captum_is_501(full_model: Path, classifier: Any, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "captum", None)  # makes the import fail as if the extra were not installed
    with serving(full_model, classifier) as client:
        response = client.post("/v1/explain", json={"text": "a fine film"})
        assert response.status_code == 501 and response.json()["error"]["code"] == "explain_unavailable"


def test_explain_returns_one_score_per_word(full_model: Path, classifier: Any) -> None:
    text = "a gripping, beautifully acted story"
    with serving(full_model, classifier) as client:
        explanation = client.post("/v1/explain", json={"text": text, "steps": 4}).json()["explanation"]
        assert client.get("/v1/models").json()["models"][0]["explain"] is True
    assert explanation["text"] == text and len(explanation["words"]) == len(explanation["scores"]) > 0
    assert explanation["label"] == classifier.predict([text])[0]


def test_explain_of_an_unknown_label_is_422(full_model: Path, classifier: Any) -> None:
    with serving(full_model, classifier) as client:
        response = client.post("/v1/explain", json={"text": "fine", "target": "neutral"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_label"
