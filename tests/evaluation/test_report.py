from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import copy_model
from textsift import TextsiftError, load, report
from textsift.evaluation.calibrate import class_reliability, expected_calibration_error, fit_temperature, nll
from textsift.evaluation.evaluate import evaluate
from textsift.tasks.classification import softmax

ARTIFACTS = Path(__file__).parents[1] / "artifacts"  # tests/artifacts, ignored by git
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def report_dir(full_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small report (few IG steps) shared by the checks on its content."""
    out = tmp_path_factory.mktemp("report")
    report(full_model, data_dir / "test.csv", out, errors=3, deletion_texts=4, steps=4)
    return out


def test_report_writes_page_json_and_pngs(report_dir: Path) -> None:
    pngs = ("confusion_matrix.png", "reliability.png", "class_reliability.png", "length_buckets.png")
    for name in pngs:
        assert (report_dir / name).read_bytes()[:4] == b"\x89PNG", name
    page = (report_dir / "index.html").read_text()
    for src in pngs:
        assert f'src="{src}"' in page  # relative paths: the folder can be moved or zipped
    assert "<script" not in page and "http" not in page  # static and offline
    summary = json.loads((report_dir / "report.json").read_text())
    assert sum(b["n"] for b in summary["length_buckets"]) == 30
    assert 0 < len(summary["worst_errors"]) <= 3 and summary["deletion_test"]["n"] == 4


def test_report_shows_the_same_metrics_as_evaluate(report_dir: Path, full_model: Path, data_dir: Path,
                                                   tmp_path: Path) -> None:
    metrics = evaluate(full_model, data_dir / "test.csv", tmp_path)
    page = (report_dir / "index.html").read_text()
    assert f"accuracy <b>{metrics['accuracy']:.4f}</b>" in page
    assert f"macro-F1 <b>{metrics['macro']['f1']:.3f}</b>" in page
    for s in metrics["per_class"].values():
        assert f"<td>{s['f1']:.3f}</td>" in page
    saved = json.loads((report_dir / "report.json").read_text())["metrics"]
    assert saved["accuracy"] == metrics["accuracy"] and saved["macro"] == metrics["macro"]


def test_worst_errors_are_wrong_and_sorted_by_confidence(report_dir: Path) -> None:
    worst = json.loads((report_dir / "report.json").read_text())["worst_errors"]
    assert all(w["true"] != w["explanation"]["label"] for w in worst)
    confidences = [w["explanation"]["probability"] for w in worst]
    assert confidences == sorted(confidences, reverse=True)


def test_ece_matches_a_hand_computed_value() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    y = np.array([0, 1, 1, 0])
    # Bins (10 wide): 0.9 -> acc 1, 0.8 -> acc 0, 0.6 -> acc 1, 0.7 -> acc 0; each a quarter of the data.
    expected = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.6) + abs(0 - 0.7)) / 4
    assert expected_calibration_error(probs, y, bins=10) == pytest.approx(expected)


def test_class_reliability_matches_a_hand_computed_value() -> None:
    # Class "b" with 2 bins: P(b) = 0.2, 0.4 -> bin 1 (mean 0.3), none is b; 0.9, 0.7 -> bin 2 (mean 0.8), both are b.
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    curves = class_reliability(probs, np.array([0, 0, 1, 1]), ["a", "b"], bins=2)
    points = [(p["n"], p["confidence"], p["accuracy"]) for p in curves["b"]["bins"]]
    assert points == [(2, pytest.approx(0.3), 0.0), (2, pytest.approx(0.8), 1.0)]
    assert curves["b"]["ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.2)


def test_report_has_a_reliability_curve_per_class(report_dir: Path, full_model: Path) -> None:
    per_class = json.loads((report_dir / "report.json").read_text())["calibration"]["per_class"]
    assert list(per_class) == load(full_model).labels
    assert all(sum(b["n"] for b in c["bins"]) == 30 and 0 <= c["ece"] <= 1 for c in per_class.values())


def test_temperature_scaling_repairs_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    honest = np.stack([np.zeros(400), np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.5, 400)], axis=1)
    logits = 4 * honest  # the same ranking, four times too confident
    t = fit_temperature(logits, y)
    assert 2.5 < t < 6
    assert nll(logits, y, t) < nll(logits, y)
    assert expected_calibration_error(softmax(logits, t), y) < expected_calibration_error(softmax(logits), y) / 2


def test_fitted_temperature_lowers_validation_nll_and_is_stored(full_model: Path, data_dir: Path,
                                                                tmp_path: Path) -> None:
    model = copy_model(full_model, tmp_path / "copy")
    report(model, data_dir / "test.csv", tmp_path / "r", validation=data_dir / "validation.csv", fit_temperature=True,
           errors=1, deletion_texts=0, steps=2)
    calibration = json.loads((tmp_path / "r" / "report.json").read_text())["calibration"]
    fitted = calibration["validation"]
    assert fitted["nll_after"] < fitted["nll_before"]
    assert load(model).settings.temperature == pytest.approx(calibration["temperature"])
    assert calibration["ece_after"] is not None
    assert "stored in the model's textsift.json" in (tmp_path / "r" / "index.html").read_text()


def test_fit_temperature_without_validation_is_refused(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="--fit-temperature needs --validation"):
        report(full_model, data_dir / "test.csv", tmp_path, fit_temperature=True)


def test_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing; CI must install chromium (.ci/run does)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); CI runs this test")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1280,2000", (report_dir / "index.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000


def test_cli_report_writes_the_page(full_model: Path, data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from textsift.cli import app as cli

    monkeypatch.setattr(sys, "argv", ["textsift", "report", str(full_model), str(data_dir / "test.csv"), "--out",
                                      str(tmp_path / "r"), "--errors", "1", "--deletion-texts", "0", "--steps", "2"])
    cli.main()
    assert f"report written to {tmp_path / 'r' / 'index.html'}" in capsys.readouterr().out
    assert (tmp_path / "r" / "index.html").is_file()
