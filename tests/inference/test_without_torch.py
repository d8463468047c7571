"""An exported folder needs neither torch nor transformers: predict and serve it with both made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from textsift import load

TEXTS = ["a gripping, beautifully acted story", "dull and far too long"]
BLOCK = "import sys\nsys.modules.update(torch=None, transformers=None)  # any import of them now fails\n"


def run_python(code: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=180)


def test_predict_runs_an_onnx_folder_without_torch(int8_model: Path) -> None:
    code = BLOCK + f"sys.argv = ['textsift', 'predict', {str(int8_model)!r}]\nfrom textsift.cli.app import main\nmain()"
    done = run_python(code, stdin="".join(t + "\n" for t in TEXTS))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["label"] for line in done.stdout.splitlines()] == load(int8_model).predict(TEXTS)


def test_serve_answers_from_an_onnx_folder_without_torch(int8_model: Path) -> None:
    code = BLOCK + textwrap.dedent(f"""
        import json, time
        from fastapi.testclient import TestClient
        from textsift.config import ServeConfig
        from textsift.serving.app import create_app

        with TestClient(create_app({str(int8_model)!r}, ServeConfig())) as client:
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            body = client.post("/v1/predict", json={{"texts": {TEXTS!r}}}).json()
            model = client.get("/v1/models").json()["models"][0]
            print(json.dumps({{"labels": [p["label"] for p in body["predictions"]], "explain": model["explain"]}}))
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"labels": load(int8_model).predict(TEXTS), "explain": False}
