"""Integrated gradients on real test snippets: CPU time per text and the completeness error, by step count.

    python benchmarks/explain_speed.py --model models/movie-snippets --texts 50 --steps 8,32,64

For a seeded sample of test texts, each explanation runs on one CPU thread; its CPU time (process time, so other
load on the machine does not count) and Captum's convergence delta are recorded. Prints, per step count, the
median and largest CPU time, the median token count, and the median and largest |delta|.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from pathlib import Path

import torch

from textsift.explanation.attribution import explain, torch_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"))
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--texts", type=int, default=50)
    parser.add_argument("--steps", default="8,32,64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/explain_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = torch_classifier(args.model)
    with (args.data / "test.csv").open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    sample = random.Random(args.seed).sample(texts, args.texts)
    tokens = [len(ids) for ids in classifier.encode(sample)]
    explain(classifier, sample[0], steps=2)  # warm-up: Captum and the first backward pass
    results = {}
    print("| steps | CPU s per text, median | max | tokens, median (max) | abs(delta), median | max |")
    print("|---:|---:|---:|---:|---:|---:|")
    for steps in [int(s) for s in args.steps.split(",")]:
        seconds, deltas = [], []
        for text in sample:
            start = time.process_time()
            deltas.append(abs(explain(classifier, text, steps=steps).delta))
            seconds.append(time.process_time() - start)
        results[steps] = {"cpu_s": seconds, "abs_delta": deltas}
        print(f"| {steps} | {statistics.median(seconds):.2f} | {max(seconds):.2f} | {statistics.median(tokens):.0f} "
              f"({max(tokens)}) | {statistics.median(deltas):.1e} | {max(deltas):.1e} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"texts": args.texts, "tokens": tokens, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
