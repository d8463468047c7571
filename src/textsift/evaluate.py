"""Score a model folder on a labelled file: metrics.json, a per-class table and confusion_matrix.png."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from textsift.config import DataConfig
from textsift.data import LabelMap, Table, read_table, warn_duplicates

log = logging.getLogger("textsift")


def compute_metrics(y_true: list[int] | np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/micro/weighted P/R/F1, per-class scores and the confusion matrix (scikit-learn)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(labels)))
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true))}
    for average in ("macro", "micro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, name in enumerate(labels)
    }
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=ids).tolist()
    out["labels"] = labels
    return out


def evaluate(
    model_dir: Path | str,
    data_file: Path | str,
    out: Path | str | None = None,
    data: DataConfig | None = None,
    batch_size: int = 64,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate a model folder on a labelled file; writes metrics.json and confusion_matrix.png into `out`.

    `out` defaults to `<model_dir>/eval/<data file stem>/`.
    """
    from textsift.model import load

    classifier = load(model_dir, device)
    table = read_table(data_file, data)
    warn_if_seen_in_training(classifier.settings, table)
    y_true = LabelMap(classifier.labels).encode(table)
    y_pred = classifier.predict_proba(table.texts, batch_size).argmax(axis=1)
    metrics = compute_metrics(y_true, y_pred, classifier.labels)
    metrics["data_file"] = str(data_file)
    out = Path(out) if out is not None else Path(model_dir) / "eval" / Path(data_file).stem
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_confusion_matrix(metrics, out / "confusion_matrix.png")
    print_metrics(metrics)
    log.info("wrote %s and %s", out / "metrics.json", out / "confusion_matrix.png")
    return metrics


def warn_if_seen_in_training(settings: dict[str, Any], table: Table) -> None:
    """Test rows that were also training rows inflate scores; warn with their lines when the train file is at hand."""
    train_file = settings.get("data", {}).get("train", {}).get("file")
    if train_file and Path(train_file).is_file():
        columns = settings.get("train_config", {}).get("data", {})
        warn_duplicates(read_table(train_file, DataConfig(**columns)), table)


def print_metrics(metrics: dict[str, Any]) -> None:
    """A per-class table and the averages, with Rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{metrics.get('data_file', 'evaluation')}  (n={metrics['n']})")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, s in metrics["per_class"].items():
        table.add_row(name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
    table.add_section()
    for average in ("macro", "micro", "weighted"):
        s = metrics[average]
        table.add_row(f"{average} avg", f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", "")
    console = Console(stderr=True)
    console.print(table)
    console.print(f"accuracy [bold]{metrics['accuracy']:.4f}[/bold]")


def plot_confusion_matrix(metrics: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = metrics["labels"]
    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(np.array(metrics["confusion_matrix"]), display_labels=labels).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45 if len(labels) > 4 else 0
    )
    ax.set_title(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro']['f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
