"""`report`: an offline HTML page on a labelled file: metrics, confusion matrix, calibration, length buckets, worst
errors with their word attributions, and a deletion test that checks the attributions are not noise.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from textsift import files
from textsift.config import DataConfig, ReportConfig
from textsift.data.io import Table, read_table
from textsift.data.labels import LabelMap
from textsift.errors import TextsiftError
from textsift.evaluation import calibrate
from textsift.evaluation.display import print_metrics
from textsift.evaluation.metrics import compute_metrics
from textsift.evaluation.plots import plot_confusion_matrix, plot_length_buckets, plot_reliability
from textsift.explanation.attribution import Explanation, deletion_test, explain, torch_classifier
from textsift.explanation.render import render_template
from textsift.inference.predictor import softmax
from textsift.inference.torch_backend import Classifier
from textsift.modeling.settings import update_settings

log = logging.getLogger("textsift")


def report(
    model_dir: Path | str,
    data_file: Path | str,
    out: Path | str,
    *,
    validation: Path | str | None = ReportConfig.validation,
    fit_temperature: bool = ReportConfig.fit_temperature,
    data: DataConfig | None = None,
    errors: int = ReportConfig.errors,
    deletion_texts: int = ReportConfig.deletion_texts,
    deletion_k: int = ReportConfig.deletion_k,
    steps: int = ReportConfig.steps,
    bins: int = ReportConfig.bins,
    batch_size: int = ReportConfig.batch_size,
    seed: int = ReportConfig.seed,
) -> Path:
    """Write `out/index.html` and its PNGs for a model folder on a labelled file; returns the page's path.

    The options are those of `ReportConfig`, which documents each.
    """
    if fit_temperature and validation is None:
        raise TextsiftError("--fit-temperature needs --validation: a labelled file not used for training")
    model_dir, out = Path(model_dir), files.writable_dir(out)
    classifier = torch_classifier(model_dir)
    labels = LabelMap(classifier.labels)
    table = read_table(data_file, data)
    y = np.array(labels.encode(table))
    logits = classifier.logits(table.texts, batch_size)
    temperature, fitted = classifier.settings.temperature, None
    if validation is not None and fit_temperature:
        temperature, fitted = _fit_temperature(classifier, model_dir, read_table(validation, data), bins, batch_size)
    probs = softmax(logits, temperature)

    # Metrics exactly as `textsift evaluate` prints them; temperature never changes the predicted class.
    metrics = compute_metrics(y, probs.argmax(axis=1), classifier.labels)
    metrics["data_file"] = str(data_file)
    print_metrics(metrics)
    plot_confusion_matrix(metrics, out / "confusion_matrix.png")
    calibration = _calibration(logits, y, temperature, bins, classifier.labels, out)
    calibration["validation"] = fitted
    lengths = _length_buckets([len(ids) for ids in classifier.encode(table.texts)], y, probs.argmax(axis=1),
                              classifier.labels, out / "length_buckets.png")
    worst, deletion = _attributions(classifier, table, y, probs, errors, deletion_texts, deletion_k, steps, seed)

    summary = {"metrics": metrics, "calibration": calibration, "length_buckets": lengths, "deletion_test": deletion,
               "worst_errors": [{**r, "explanation": r["explanation"].to_dict()} for r in worst]}
    files.write_text(out / "report.json", json.dumps(summary, indent=2) + "\n")
    page = files.write_text(out / "index.html", render_template(
        "report.html.j2", model_dir=str(model_dir), metrics=metrics, calibration=calibration, lengths=lengths,
        deletion=deletion, worst=worst, steps=steps,
    ))
    log.info("report written to %s", page)
    return page


def _fit_temperature(classifier: Classifier, model_dir: Path, val_table: Table, bins: int,
                     batch_size: int) -> tuple[float, dict[str, Any]]:
    """Fit T on the validation table, store it in textsift.json; returns T and the before/after NLL and ECE."""
    val_y = np.array(LabelMap(classifier.labels).encode(val_table))
    val_logits = classifier.logits(val_table.texts, batch_size)
    t = calibrate.fit_temperature(val_logits, val_y)
    fitted = {"file": str(val_table.path), "n": len(val_y), "nll_before": calibrate.nll(val_logits, val_y),
              "nll_after": calibrate.nll(val_logits, val_y, t),
              "ece_before": calibrate.expected_calibration_error(softmax(val_logits), val_y, bins),
              "ece_after": calibrate.expected_calibration_error(softmax(val_logits, t), val_y, bins)}
    classifier.settings = update_settings(model_dir, temperature=t)
    log.info("fitted temperature %.4f on %s, stored in %s/textsift.json", t, val_table.path, model_dir)
    return t, fitted


def _calibration(logits: np.ndarray, y: np.ndarray, temperature: float, bins: int, labels: list[str],
                 out: Path) -> dict[str, Any]:
    """ECE and NLL without scaling and, when a temperature is set, with it; per-class reliability; both diagrams."""
    raw = softmax(logits)
    curves = {"T = 1": calibrate.reliability_bins(raw, y, bins)}
    result: dict[str, Any] = {"bins": bins, "temperature": temperature,
                              "ece_before": calibrate.expected_calibration_error(raw, y, bins),
                              "nll_before": calibrate.nll(logits, y), "ece_after": None, "nll_after": None}
    if temperature != 1.0:
        scaled = softmax(logits, temperature)
        curves[f"T = {temperature:.3f}"] = calibrate.reliability_bins(scaled, y, bins)
        result.update(ece_after=calibrate.expected_calibration_error(scaled, y, bins),
                      nll_after=calibrate.nll(logits, y, temperature))
    plot_reliability(curves, out / "reliability.png", bins)
    result["curves"] = curves
    result["per_class"] = calibrate.class_reliability(softmax(logits, temperature), y, labels, bins)
    plot_reliability({f"{name} (ECE {c['ece']:.3f})": c["bins"] for name, c in result["per_class"].items()},
                     out / "class_reliability.png", bins, xlabel="predicted probability of the class",
                     ylabel="fraction that are the class", title="Per-class reliability")
    return result


def _attributions(classifier: Classifier, table: Table, y: np.ndarray, probs: np.ndarray, errors: int,
                  deletion_texts: int, deletion_k: int, steps: int, seed: int
                  ) -> tuple[list[dict[str, Any]], dict[str, float] | None]:
    """The worst errors with their attributions, and the deletion test on a seeded sample (the slow part: one
    integrated-gradients run per text)."""
    from tqdm import tqdm

    wrong = np.flatnonzero(probs.argmax(axis=1) != y)
    worst = [int(i) for i in wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")][:errors]]
    sample = random.Random(seed).sample(range(len(y)), min(deletion_texts, len(y)))
    todo = list(dict.fromkeys(worst + sample))
    explanations: dict[int, Explanation] = {
        i: explain(classifier, table.texts[i], steps=steps)
        for i in tqdm(todo, desc="attributions", unit="text", disable=None)
    }
    deletion = deletion_test(classifier, [explanations[i] for i in sample], k=deletion_k, seed=seed) if sample else None
    true = table.labels or []
    rows = [{"line": table.lines[i], "true": true[i], "explanation": explanations[i]} for i in worst]
    return rows, deletion


def _length_buckets(lengths: list[int], y: np.ndarray, pred: np.ndarray, labels: list[str], png: Path,
                    buckets: int = 4) -> list[dict[str, Any]]:
    """Accuracy and macro-F1 by token length, in (up to) `buckets` quantile buckets so each holds data."""
    n_tokens = np.array(lengths)
    edges = np.unique(np.quantile(n_tokens, np.linspace(0, 1, buckets + 1)).round().astype(int))
    rows = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        # Buckets are (low, high] except the first, which also takes the shortest texts.
        members = (n_tokens <= high) & ((n_tokens > low) if i else (n_tokens >= low))
        if not members.any():
            continue
        m = compute_metrics(y[members], pred[members], labels)
        rows.append({"tokens": f"{low if i == 0 else low + 1}–{high}", "n": int(members.sum()),
                     "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"]})
    plot_length_buckets(rows, png)
    return rows
