"""Metrics on the terminal: a per-class table and the averages, with Rich (on stderr, so stdout stays data)."""

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
