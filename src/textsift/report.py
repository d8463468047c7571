"""An offline HTML report on a labelled file: metrics, confusion matrix, calibration, length buckets, worst errors
with their word attributions, and a deletion test that checks the attributions are not noise.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from textsift import calibrate
from textsift.config import DataConfig
from textsift.data import LabelMap, read_table
from textsift.errors import TextsiftError
from textsift.evaluate import compute_metrics, plot_confusion_matrix, print_metrics
from textsift.explain import DEFAULT_STEPS, deletion_test, explain, render_template, torch_classifier
from textsift.model import update_settings

log = logging.getLogger("textsift")


def report(
    model_dir: Path | str,
    data_file: Path | str,
    out: Path | str,
    *,
    validation: Path | str | None = None,
    fit_temperature: bool = False,
    data: DataConfig | None = None,
    errors: int = 10,
    deletion_texts: int = 50,
    deletion_k: int = 3,
    steps: int = DEFAULT_STEPS,
    bins: int = calibrate.DEFAULT_BINS,
    batch_size: int = 64,
    seed: int = 0,
) -> Path:
    """Write `out/index.html` and its PNGs for a model folder on a labelled file; returns the page's path.

    Args:
        validation: labelled file to fit the temperature on (needed by `fit_temperature`).
        fit_temperature: fit temperature scaling on `validation` and store it in the model's textsift.json.
        errors: how many of the most confident wrong predictions to show with attributions.
        deletion_texts: texts (a seeded sample) for the deletion test; 0 skips it.
        deletion_k: words deleted per text in the deletion test.
        steps: integration steps per attribution.
    """
    from tqdm import tqdm

    if fit_temperature and validation is None:
        raise TextsiftError("--fit-temperature needs --validation: a labelled file not used for training")
    model_dir, out = Path(model_dir), Path(out)
    classifier = torch_classifier(model_dir)
    labels = LabelMap(classifier.labels)
    table = read_table(data_file, data)
    y = np.array(labels.encode(table))
    logits = classifier.logits(table.texts, batch_size)
    out.mkdir(parents=True, exist_ok=True)

    temperature = float(classifier.settings.get("temperature", 1.0))
    fitted = None
    if fit_temperature:
        val_table = read_table(validation, data)  # type: ignore[arg-type]
        val_y = np.array(labels.encode(val_table))
        val_logits = classifier.logits(val_table.texts, batch_size)
        temperature = calibrate.fit_temperature(val_logits, val_y)
        fitted = {"file": str(validation), "n": len(val_y), "nll_before": calibrate.nll(val_logits, val_y),
                  "nll_after": calibrate.nll(val_logits, val_y, temperature),
                  "ece_before": calibrate.expected_calibration_error(calibrate.softmax(val_logits), val_y, bins),
                  "ece_after": calibrate.expected_calibration_error(
                      calibrate.softmax(val_logits, temperature), val_y, bins)}
        classifier.settings = update_settings(model_dir, temperature=temperature)
        log.info("fitted temperature %.4f on %s, stored in %s/textsift.json", temperature, validation, model_dir)
    probs = calibrate.softmax(logits, temperature)

    # Metrics exactly as `textsift evaluate` prints them; temperature never changes the predicted class.
    metrics = compute_metrics(y, probs.argmax(axis=1), classifier.labels)
    metrics["data_file"] = str(data_file)
    print_metrics(metrics)
    plot_confusion_matrix(metrics, out / "confusion_matrix.png")
    calibration = _calibration(logits, y, temperature, bins, out / "reliability.png")
    calibration["validation"] = fitted
    calibration["per_class"] = calibrate.class_reliability(probs, y, classifier.labels, bins)
    calibrate.plot_reliability({f"{name} (ECE {c['ece']:.3f})": c["bins"]
                                for name, c in calibration["per_class"].items()},
                               out / "class_reliability.png", bins, xlabel="predicted probability of the class",
                               ylabel="fraction that are the class", title="Per-class reliability")
    lengths = _length_buckets([len(ids) for ids in classifier.encode(table.texts)], y, probs.argmax(axis=1),
                              classifier.labels, out / "length_buckets.png")

    # Attribution loop: the worst errors, then a seeded sample for the deletion test (the slow part: one IG each).
    wrong = np.flatnonzero(probs.argmax(axis=1) != y)
    worst = [int(i) for i in wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")][:errors]]
    sample = random.Random(seed).sample(range(len(y)), min(deletion_texts, len(y)))
    todo = list(dict.fromkeys(worst + sample))
    explanations = {i: explain(classifier, table.texts[i], steps=steps)
                    for i in tqdm(todo, desc="attributions", unit="text", disable=None)}
    deletion = deletion_test(classifier, [explanations[i] for i in sample], k=deletion_k, seed=seed) if sample else None
    worst_rows = [{"line": table.lines[i], "true": table.labels[i], "explanation": explanations[i]}  # type: ignore[index]
                  for i in worst]

    summary = {"metrics": metrics, "calibration": calibration, "length_buckets": lengths, "deletion_test": deletion,
               "worst_errors": [{**r, "explanation": r["explanation"].to_dict()} for r in worst_rows]}
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    page = out / "index.html"
    page.write_text(render_template(
        "report.html.j2", model_dir=str(model_dir), metrics=metrics, calibration=calibration, lengths=lengths,
        deletion=deletion, worst=worst_rows, steps=steps,
    ), encoding="utf-8")
    log.info("report written to %s", page)
    return page


def _calibration(logits: np.ndarray, y: np.ndarray, temperature: float, bins: int, png: Path) -> dict[str, Any]:
    """ECE and NLL without scaling and, when a temperature is set, with it; plus the reliability diagram."""
    raw = calibrate.softmax(logits)
    curves = {"T = 1": calibrate.reliability_bins(raw, y, bins)}
    result: dict[str, Any] = {"bins": bins, "temperature": temperature,
                              "ece_before": calibrate.expected_calibration_error(raw, y, bins),
                              "nll_before": calibrate.nll(logits, y), "ece_after": None, "nll_after": None}
    if temperature != 1.0:
        scaled = calibrate.softmax(logits, temperature)
        curves[f"T = {temperature:.3f}"] = calibrate.reliability_bins(scaled, y, bins)
        result.update(ece_after=calibrate.expected_calibration_error(scaled, y, bins),
                      nll_after=calibrate.nll(logits, y, temperature))
    calibrate.plot_reliability(curves, png, bins)
    result["curves"] = curves
    return result


def _length_buckets(lengths: list[int], y: np.ndarray, pred: np.ndarray, labels: list[str], png: Path,
                    buckets: int = 4) -> list[dict[str, Any]]:
    """Accuracy and macro-F1 by token length, in (up to) `buckets` quantile buckets so each holds data."""
    n_tokens = np.array(lengths)
    edges = np.unique(np.quantile(n_tokens, np.linspace(0, 1, buckets + 1)).round().astype(int))
    rows = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        # Buckets are (low, high] except the first, which also takes the shortest texts.
        members = (n_tokens <= high) & ((n_tokens > low) if i else (n_tokens >= low))
        if not members.any():
            continue
        m = compute_metrics(y[members], pred[members], labels)
        rows.append({"tokens": f"{low if i == 0 else low + 1}–{high}", "n": int(members.sum()),
                     "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"]})
    _plot_buckets(rows, png)
    return rows


def _plot_buckets(rows: list[dict[str, Any]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["accuracy"] for r in rows], width=0.4, label="accuracy", color="#2563eb")
    ax.bar(x + 0.2, [r["macro_f1"] for r in rows], width=0.4, label="macro-F1", color="#f59e0b")
    ax.set_xticks(x, [f"{r['tokens']}\n(n={r['n']})" for r in rows])
    ax.set(ylim=(0, 1), xlabel="tokens per text", title="Scores by text length")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
