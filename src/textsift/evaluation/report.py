"""`report`: an offline HTML page on a labelled file: the task's metrics and plots, calibration (single-label),
scores by length, the worst errors with their word attributions, and a deletion test that checks the attributions
are not noise.
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
from textsift.errors import TextsiftError
from textsift.evaluation import calibrate
from textsift.evaluation.plots import plot_length_buckets, plot_reliability
from textsift.explanation.attribution import Explanation, deletion_test, explain, torch_classifier
from textsift.explanation.render import render_template
from textsift.inference.torch_backend import Classifier
from textsift.modeling.settings import update_settings
from textsift.tasks.classification import softmax

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

    The sections follow the model's task: calibration only for single-label classifiers, per-label scores and a
    threshold curve for multi-label, a scatter and residuals by length for regression. The options are those of
    `ReportConfig`, which documents each.
    """
    if fit_temperature and validation is None:
        raise TextsiftError("--fit-temperature needs --validation: a labelled file not used for training")
    model_dir, out = Path(model_dir), files.writable_dir(out)
    classifier = torch_classifier(model_dir)
    task = classifier.task
    if fit_temperature and not task.calibrates:
        raise TextsiftError(f"temperature scaling is for single-label classifiers, not a {task.name} model; "
                            "drop --fit-temperature")
    columns = classifier.settings.data_columns(data)
    table = read_table(data_file, columns)
    y = task.targets(table, classifier.settings)
    logits = classifier.logits(table.inputs, batch_size)
    fitted = None
    if validation is not None and fit_temperature:
        fitted = _fit_temperature(classifier, model_dir, read_table(validation, columns), bins, batch_size)
    settings = classifier.settings
    scores = task.activate(logits, settings)

    # Metrics exactly as `textsift evaluate` prints them; temperature never changes the predicted class.
    metrics = {**task.metrics(y, scores, settings), "task": task.name, "data_file": str(data_file)}
    task.print_metrics(metrics)
    plots = [p.name for p in task.plot(metrics, y, scores, out)]
    calibration = (_calibration(logits, y, settings.temperature, bins, classifier.labels, out, fitted)
                   if task.calibrates else None)
    lengths = _length_buckets(classifier, [len(ids) for ids in classifier.encode(table.inputs)], y, scores,
                              out / "length_buckets.png")
    worst, deletion = _attributions(classifier, table, y, scores, errors, deletion_texts, deletion_k, steps, seed)

    summary = {"metrics": metrics, "calibration": calibration, "length_buckets": lengths, "deletion_test": deletion,
               "worst_errors": [{**r, "explanation": r["explanation"].to_dict()} for r in worst]}
    files.write_text(out / "report.json", json.dumps(summary, indent=2) + "\n")
    page = files.write_text(out / "index.html", render_template(
        "report.html.j2", model_dir=str(model_dir), metrics=metrics, calibration=calibration, lengths=lengths,
        deletion=deletion, worst=worst, steps=steps, task=task, plots=plots, by_length=task.by_length,
    ))
    log.info("report written to %s", page)
    return page


def _fit_temperature(classifier: Classifier, model_dir: Path, val_table: Table, bins: int,
                     batch_size: int) -> dict[str, Any]:
    """Fit T on the validation table and store it in textsift.json (and the classifier's settings); returns the
    before/after NLL and ECE."""
    val_y = classifier.task.targets(val_table, classifier.settings)
    val_logits = classifier.logits(val_table.inputs, batch_size)
    t = calibrate.fit_temperature(val_logits, val_y)
    fitted = {"file": str(val_table.path), "n": len(val_y), "nll_before": calibrate.nll(val_logits, val_y),
              "nll_after": calibrate.nll(val_logits, val_y, t),
              "ece_before": calibrate.expected_calibration_error(softmax(val_logits), val_y, bins),
              "ece_after": calibrate.expected_calibration_error(softmax(val_logits, t), val_y, bins)}
    classifier.settings = update_settings(model_dir, temperature=t)
    log.info("fitted temperature %.4f on %s, stored in %s/textsift.json", t, val_table.path, model_dir)
    return fitted


def _calibration(logits: np.ndarray, y: np.ndarray, temperature: float, bins: int, labels: list[str],
                 out: Path, fitted: dict[str, Any] | None) -> dict[str, Any]:
    """ECE and NLL without scaling and, when a temperature is set, with it; per-class reliability; both diagrams."""
    raw = softmax(logits)
    curves = {"T = 1": calibrate.reliability_bins(raw, y, bins)}
    result: dict[str, Any] = {"bins": bins, "temperature": temperature,
                              "ece_before": calibrate.expected_calibration_error(raw, y, bins),
                              "nll_before": calibrate.nll(logits, y), "ece_after": None, "nll_after": None,
                              "validation": fitted}
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


def _attributions(classifier: Classifier, table: Table, y: np.ndarray, scores: np.ndarray, errors: int,
                  deletion_texts: int, deletion_k: int, steps: int, seed: int
                  ) -> tuple[list[dict[str, Any]], dict[str, float] | None]:
    """The worst errors with their attributions, and the deletion test on a seeded sample (the slow part: one
    integrated-gradients run per text)."""
    from tqdm import tqdm

    task, settings = classifier.task, classifier.settings
    worst = [int(i) for i in task.mistakes(y, scores, settings)[:errors]]
    sample = random.Random(seed).sample(range(len(y)), min(deletion_texts, len(y)))
    todo = list(dict.fromkeys(worst + sample))
    pairs: list[str | None] = list(table.pairs) if table.pairs is not None else [None] * len(table)
    explanations: dict[int, Explanation] = {
        i: explain(classifier, table.texts[i], steps=steps, text_pair=pairs[i])
        for i in tqdm(todo, desc="attributions", unit="text", disable=None)
    }
    deletion = deletion_test(classifier, [explanations[i] for i in sample], k=deletion_k, seed=seed) if sample else None
    rows = [{"line": table.lines[i], "true": task.show(task.truth(y[i], settings)),
             "predicted": task.show(task.answer(scores[i], settings)), "explanation": explanations[i]}
            for i in worst]
    return rows, deletion


def _length_buckets(classifier: Classifier, lengths: list[int], y: np.ndarray, scores: np.ndarray, png: Path,
                    buckets: int = 4) -> list[dict[str, Any]]:
    """The task's two `by_length` scores by token length, in (up to) `buckets` quantile buckets so each holds
    data (classification: accuracy and macro-F1; regression: RMSE and mean residual)."""
    task, settings = classifier.task, classifier.settings
    n_tokens = np.array(lengths)
    edges = np.unique(np.quantile(n_tokens, np.linspace(0, 1, buckets + 1)).round().astype(int))
    rows = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        # Buckets are (low, high] except the first, which also takes the shortest texts.
        members = (n_tokens <= high) & ((n_tokens > low) if i else (n_tokens >= low))
        if not members.any():
            continue
        summary = task.summary(task.metrics(y[members], scores[members], settings))
        rows.append({"tokens": f"{low if i == 0 else low + 1}–{high}", "n": int(members.sum()),
                     **{key: summary[key] for key in task.by_length}})
    plot_length_buckets(rows, task.by_length, png)
    return rows
