"""LoRA against full fine-tuning on movie-snippets (issue 14): test accuracy, trainable parameters, time, memory.

    .venv/bin/python benchmarks/lora_vs_full.py                       # the full training set, each strategy's defaults
    .venv/bin/python benchmarks/lora_vs_full.py --rows 200 --epochs 1 # smoke run (about 2 minutes on 2 cores)

Each strategy is one `textsift train` process (defaults: full 3 epochs at 5e-5, lora 5 epochs at 5e-4 with rank 8
adapters on query and value; both patience 2), timed from start to exit; its peak resident memory is the child's
own (os.wait4), not the benchmark's. Both models are then scored on test.csv. Goal: lora within 1 point of full's
test accuracy with under 2% of the weights trained. Writes <out>/results.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
STRATEGIES = ("full", "lora")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--rows", type=int, default=None, help="train on a seeded sample of this many rows")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of both runs (default: each strategy's)")
    parser.add_argument("--only", choices=STRATEGIES, default=None, help="run one strategy")
    parser.add_argument("--reuse", action="store_true", help="skip runs that results.json recorded with these settings")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/lora"))
    args = parser.parse_args()
    if not (args.data / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(args.data)],
                       check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    train_file = sample(args.data / "train.csv", args.rows, args.out / "data")
    setup = {"train_file": str(train_file), "rows": args.rows, "epochs": args.epochs, "threads": args.threads}
    path = args.out / "results.json"
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    runs = {name: row for name, row in earlier.get("runs", {}).items() if row.get("setup") == setup}
    for strategy in (args.only,) if args.only else STRATEGIES:
        folder = args.out / strategy
        if args.reuse and strategy in runs and (folder / "textsift.json").is_file():
            print(f"{strategy}: reusing the recorded run in {folder}")
            continue
        command = ["train", str(train_file), "--validation", str(args.data / "validation.csv"), "--strategy",
                   strategy, "--out", str(folder), "--num-threads", args.threads]
        if args.epochs is not None:
            command += ["--epochs", str(args.epochs)]
        runs[strategy] = {"setup": setup, **measured(command), **scored(folder, args.data / "test.csv")}
        path.write_text(json.dumps({"runs": runs, "ratios": ratios(runs)}, indent=2) + "\n")
    show(runs)
    path.write_text(json.dumps({"runs": runs, "ratios": ratios(runs)}, indent=2) + "\n")


def sample(train: Path, rows: int | None, out: Path) -> Path:
    """The training file, or a seeded random sample of `rows` of it (for a quick run)."""
    if rows is None:
        return train
    with train.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, table = reader.fieldnames or [], list(reader)
    chosen = random.Random(42).sample(table, min(rows, len(table)))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"train-{rows}.csv"
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    return target


def measured(args: list[str]) -> dict[str, Any]:
    """Run `textsift ARGS` as a child process: its wall time and peak RSS (wait4 reports the child's own, where
    getrusage(RUSAGE_CHILDREN) would give the largest child so far)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "textsift", *args])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait for it again
    if child.returncode != 0:
        raise SystemExit(f"textsift {' '.join(args)} failed with exit code {child.returncode}")
    return {"wall_seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def scored(folder: Path, test: Path) -> dict[str, Any]:
    """Test metrics, parameter counts and training time of a trained folder."""
    from textsift import evaluate

    metrics = evaluate(folder, test, out=folder / "eval" / "test")
    settings = json.loads((folder / "textsift.json").read_text())
    history = json.loads((folder / "metrics.json").read_text())
    adapter = folder / (settings.get("adapter") or "-") / "adapter_model.safetensors"
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro"]["f1"], **settings["parameters"],
            "train_seconds": history["train_seconds"], "epochs_run": history["epochs_run"],
            "best_epoch": history["best_epoch"],
            "adapter_mb": round(adapter.stat().st_size / 2**20, 2) if adapter.is_file() else None}


def ratios(runs: dict[str, Any]) -> dict[str, Any]:
    """lora against full: accuracy in points, the other measures as lora / full."""
    if not set(STRATEGIES) <= set(runs):
        return {}
    lora, full = runs["lora"], runs["full"]
    share = lora["trainable"] / lora["total"]
    points = 100 * (lora["accuracy"] - full["accuracy"])
    f1_points = 100 * (lora["macro_f1"] - full["macro_f1"])
    return {"accuracy_points": round(points, 2), "macro_f1_points": round(f1_points, 2),
            "trainable": round(lora["trainable"] / full["trainable"], 5), "trainable_share": round(share, 5),
            "wall": round(lora["wall_seconds"] / full["wall_seconds"], 3),
            "train": round(lora["train_seconds"] / full["train_seconds"], 3),
            "peak_rss": round(lora["peak_rss_mb"] / full["peak_rss_mb"], 3),
            "goal_met": points >= -1.0 and share < 0.02}


def show(runs: dict[str, Any]) -> None:
    print("| strategy | test acc | macro-F1 | trainable params | % of total | epochs (best) | train s | wall s "
          "| peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in runs.items():
        print(f"| {name} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | {row['trainable']:,} | "
              f"{100 * row['trainable'] / row['total']:.2f} | {row['epochs_run']} ({row['best_epoch']}) | "
              f"{row['train_seconds']:.0f} | {row['wall_seconds']:.0f} | {row['peak_rss_mb']:.0f} |")
    r = ratios(runs)
    if r:
        print(f"\nlora - full: accuracy {r['accuracy_points']:+.2f} pts, macro-F1 {r['macro_f1_points']:+.2f} pts; "
              f"lora / full: trainable {r['trainable']:.4f} ({100 * r['trainable_share']:.2f}% of lora's weights), "
              f"wall {r['wall']:.2f}x, train {r['train']:.2f}x, peak RSS {r['peak_rss']:.2f}x; adapter "
              f"{runs['lora']['adapter_mb']} MB")
        print(f"goal (within 1 pt, < 2% trainable): {'met' if r['goal_met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
