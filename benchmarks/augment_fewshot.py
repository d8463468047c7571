"""Does EDA augmentation help few-shot training (issue 15)? The movie-snippets learning curve with and without it.

Reproduce (CPU, 2 cores; not run yet — an estimate from benchmarks/fewshot.py's timings is 1-1.5 hours, most of it
the augmented 16-per-class runs, whose 5x rows make 5x the contrastive pairs):

    .venv/bin/python -m textsift data fetch movie-snippets --out data/movie-snippets   # if not there yet
    .venv/bin/python benchmarks/augment_fewshot.py                          # shots 8,16; seeds 0-4; factor 4
    .venv/bin/python benchmarks/augment_fewshot.py --arms repeat            # add the same-size control

For each N (per class) and seed, `textsift.data.shots.sample_shots` draws N rows per class of the training split,
written to one CSV (the rows benchmarks/fewshot.py draws for the same N and seed). Arms, all `--strategy fewshot`
with its defaults, no validation file (it validates on its training rows, as in benchmarks/fewshot.py), test
accuracy on the whole test split (1,057 texts):
    plain      the sample as drawn;
    augmented  the sample plus --factor EDA copies of each row (Augmenter, all four ops, alpha 0.1, seeded by the
               run's seed), labels copied;
    repeat     the sample written 1 + --factor times: as many rows and contrastive pairs as augmented but no new
               text, to tell "more training steps" from "new wording" (optional).
Δ is the paired difference augmented - plain over the seeds (mean ± std), with how many seeds it helped.
Each run is a child process (each starts alike; its peak RSS is its own). Results go to benchmarks/out/
augment_fewshot.json after every run; a run already there is skipped unless --fresh. A markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fewshot import in_child  # the learning-curve benchmark beside this one (benchmarks/ is on sys.path)

MOVIE = Path("data/movie-snippets")
ARMS = ("plain", "augmented", "repeat")


def shots_file(work: Path, shots: int, seed: int) -> Path:
    """The N-per-class sample of one seed as a text,label CSV, written once."""
    from textsift.config import DataConfig
    from textsift.data.io import read_table
    from textsift.data.shots import sample_shots
    from textsift.tasks.registry import get_task

    path = work / "samples" / f"shots{shots}-seed{seed}.csv"
    if not path.is_file():
        table = read_table(MOVIE / "train.csv", DataConfig())
        kept = sample_shots(table, get_task("multi-class").class_sets(table), shots, seed)
        write_rows(path, [(text, str(label)) for text, label in zip(kept.texts, kept.labels or [], strict=True)])
    return path


def arm_file(arm: str, sample: Path, seed: int, factor: int, wordnet: Path | None = None) -> Path:
    """The training file of one arm: the sample itself, or it with `factor` augmented or repeated copies per row."""
    if arm == "plain":
        return sample
    from textsift.data.augment import Augmenter

    path = sample.with_name(f"{sample.stem}-{arm}{factor}.csv")
    if not path.is_file():
        rows = read_rows(sample)
        if arm == "repeat":
            grown = rows * (1 + factor)
        else:
            augmenter = Augmenter(seed=seed, wordnet=wordnet)
            grown = [*rows, *((copy, label) for row, (text, label) in enumerate(rows)
                              for copy in augmenter.variants(text, factor, row))]
        write_rows(path, grown)
    return path


def run_textsift(train_file: Path, seed: int, work: Path) -> tuple[float, float]:
    """(seconds to train, test accuracy) of `--strategy fewshot` with its defaults."""
    from textsift import TrainConfig, evaluate, train

    cfg = TrainConfig(train_file=train_file, out=work / "model", seed=seed, num_threads=2, strategy="fewshot")
    started = time.perf_counter()
    train(cfg)
    seconds = time.perf_counter() - started
    return seconds, float(evaluate(work / "model", MOVIE / "test.csv", out=work / "eval")["accuracy"])


def one_run(arm: str, shots: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One arm on one sample, trained in a child process."""
    train_file = arm_file(arm, shots_file(args.work, shots, seed), seed, args.factor, args.wordnet)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        call = f"s, a = b.run_textsift(Path({str(train_file)!r}), {seed}, Path({tmp!r}))"
        seconds, accuracy, rss_kb = in_child("augment_fewshot", call, f"{arm} shots {shots} seed {seed}")
    return {"arm": arm, "shots": shots, "seed": seed, "factor": 0 if arm == "plain" else args.factor,
            "train_rows": len(read_rows(train_file)), "train_seconds": round(seconds, 1),
            "test_accuracy": round(accuracy, 4), "peak_rss_mb": round(rss_kb / 1024)}


def run_key(record: dict[str, Any]) -> tuple[str, int, int, int]:
    return record["arm"], record["shots"], record["seed"], record["factor"]


def summarise(runs: list[dict[str, Any]], factor: int) -> list[dict[str, Any]]:
    """Per N: each arm's accuracy (mean, std, in points) and train seconds, and the paired gain of augmenting."""
    summary = []
    for shots in sorted({r["shots"] for r in runs}):
        by_arm = {arm: {r["seed"]: r for r in runs if r["shots"] == shots and r["arm"] == arm
                        and r["factor"] == (0 if arm == "plain" else factor)} for arm in ARMS}
        row: dict[str, Any] = {"shots": shots, "factor": factor}
        for arm, seeds in by_arm.items():
            accuracy = [100 * r["test_accuracy"] for r in seeds.values()]
            if accuracy:
                row[arm] = {"seeds": len(accuracy), "mean": round(statistics.mean(accuracy), 2),
                            "std": round(statistics.stdev(accuracy), 2) if len(accuracy) > 1 else 0.0,
                            "train_seconds": round(statistics.mean(r["train_seconds"] for r in seeds.values()), 1)}
        paired = sorted(set(by_arm["plain"]) & set(by_arm["augmented"]))
        gains = [100 * (by_arm["augmented"][s]["test_accuracy"] - by_arm["plain"][s]["test_accuracy"]) for s in paired]
        if gains:
            row["delta"] = {"seeds": len(gains), "mean": round(statistics.mean(gains), 2),
                            "std": round(statistics.stdev(gains), 2) if len(gains) > 1 else 0.0,
                            "helped": sum(g > 0 for g in gains)}
        summary.append(row)
    return summary


def print_table(summary: list[dict[str, Any]]) -> None:
    def cell(arm: dict[str, Any] | None) -> str:
        return f"{arm['mean']:.1f} ± {arm['std']:.1f} (n={arm['seeds']})" if arm else "—"

    print("| shots | plain mean±std | augmented mean±std | Δ (paired) | repeat mean±std | wall s (plain / aug) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in summary:
        delta = row.get("delta")
        gain = f"{delta['mean']:+.1f} ± {delta['std']:.1f} ({delta['helped']}/{delta['seeds']} seeds up)" if delta \
            else "—"
        wall = " / ".join(f"{row[arm]['train_seconds']:.0f}" if arm in row else "—" for arm in ("plain", "augmented"))
        print(f"| {row['shots']} | {cell(row.get('plain'))} | {cell(row.get('augmented'))} | {gain} | "
              f"{cell(row.get('repeat'))} | {wall} |")


def read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def write_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def save(path: Path, runs: list[dict[str, Any]], factor: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")  # a kill mid-write must not lose the runs already recorded
    partial.write_text(json.dumps({"runs": runs, "summary": summarise(runs, factor)}, indent=2) + "\n")
    partial.replace(path)


def seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16])
    parser.add_argument("--seeds", type=seeds, default=list(range(5)), help="e.g. 0-4")
    parser.add_argument("--factor", type=int, default=4, help="augmented copies per sampled row")
    parser.add_argument("--arms", type=lambda s: s.split(","), default=["plain", "augmented"],
                        help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--wordnet", type=Path, default=None, help="WordNet dict folder (default: found)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/augment_fewshot.json"))
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/augment_fewshot"),
                        help="samples, augmented files and the runs' temporary model folders")
    parser.add_argument("--fresh", action="store_true", help="forget earlier runs")
    args = parser.parse_args(argv)
    unknown = set(args.arms) - set(ARMS)
    if unknown:
        parser.error(f"unknown arms {sorted(unknown)}; known: {', '.join(ARMS)}")
    return args


def main() -> None:
    args = parse_args()
    if not (MOVIE / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(MOVIE)],
                       check=True)
    args.work.mkdir(parents=True, exist_ok=True)
    runs = [] if args.fresh or not args.out.is_file() else json.loads(args.out.read_text())["runs"]
    done = {run_key(r) for r in runs}
    for shots in args.shots:
        for arm in args.arms:
            for seed in args.seeds:
                if (arm, shots, seed, 0 if arm == "plain" else args.factor) in done:
                    continue
                runs.append(one_run(arm, shots, seed, args))
                print(json.dumps(runs[-1]), flush=True)
                save(args.out, runs, args.factor)
    save(args.out, runs, args.factor)
    print_table(summarise(runs, args.factor))


if __name__ == "__main__":
    main()
