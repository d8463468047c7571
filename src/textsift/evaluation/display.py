"""Metrics on the terminal with Rich (on stderr, so stdout stays data): per class, per label, or regression, and
several files side by side."""

from __future__ import annotations

from typing import Any


def print_metrics(metrics: dict[str, Any]) -> None:
    """A per-class table and the averages of `compute_metrics` output."""
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


def print_multilabel(metrics: dict[str, Any]) -> None:
    """Per-label P/R/F1 with thresholds, the averages, subset accuracy and Hamming loss."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{metrics.get('data_file', 'evaluation')}  (n={metrics['n']})")
    for column in ("label", "threshold", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for name, s in metrics["per_label"].items():
        table.add_row(name, f"{s['threshold']:.2f}", f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
                      str(s["support"]))
    table.add_section()
    for average in ("micro", "macro", "samples"):
        s = metrics[average]
        table.add_row(f"{average} avg", "", f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", "")
    console = Console(stderr=True)
    console.print(table)
    console.print(f"micro-F1 [bold]{metrics['micro']['f1']:.4f}[/bold] (at a flat 0.5: "
                  f"{metrics['micro_f1_at_0.5']:.4f}), subset accuracy {metrics['subset_accuracy']:.4f}, "
                  f"Hamming loss {metrics['hamming_loss']:.4f}")


def print_regression(metrics: dict[str, Any]) -> None:
    """Pearson and Spearman r, RMSE, MAE and R² of a regression model."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{metrics.get('data_file', 'evaluation')}  ({metrics.get('target', 'value')}, "
                        f"n={metrics['n']})")
    for name in ("pearson", "spearman", "rmse", "mae", "r2"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{metrics[name]:.4f}" for name in ("pearson", "spearman", "rmse", "mae", "r2")))
    Console(stderr=True).print(table)


def print_comparison(title: str, results: dict[str, dict[str, Any]]) -> None:
    """One table with a column per evaluated file (`results`: column name -> its metrics) and a row per headline
    metric of the task; a metric one file lacks is left blank."""
    from rich.console import Console
    from rich.table import Table

    columns = {name: dict(headline_rows(metrics)) for name, metrics in results.items()}
    rows = list(dict.fromkeys(row for cells in columns.values() for row in cells))  # first file's order
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row, *(cells.get(row, "") for cells in columns.values()))
    Console(stderr=True).print(table)


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(row name, formatted value) of the numbers that compare files: the averages and per-class (or per-label)
    F1 of classification, the averages of multi-label, the errors and correlations of regression; then rows."""
    if "per_class" in metrics:
        rows = [("accuracy", metrics["accuracy"]), ("macro-F1", metrics["macro"]["f1"]),
                ("weighted-F1", metrics["weighted"]["f1"]),
                *((f"F1 {name}", s["f1"]) for name, s in metrics["per_class"].items())]
    elif "per_label" in metrics:
        rows = [("micro-F1", metrics["micro"]["f1"]), ("macro-F1", metrics["macro"]["f1"]),
                ("subset accuracy", metrics["subset_accuracy"]), ("Hamming loss", metrics["hamming_loss"]),
                *((f"F1 {name}", s["f1"]) for name, s in metrics["per_label"].items())]
    else:
        rows = [(name, metrics[name]) for name in ("rmse", "mae", "pearson", "spearman", "r2")]
    return [(name, f"{value:.4f}") for name, value in rows] + [("rows", str(metrics["n"]))]
