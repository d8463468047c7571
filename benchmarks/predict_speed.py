"""Inference speed, accuracy and memory: HF pipeline vs textsift torch, ONNX fp32, ONNX int8 and a distilled int8.

    python benchmarks/predict_speed.py --model /tmp/runs/full_cls --student models/mr-small

Variants: (a) transformers `pipeline("text-classification")` on the torch folder; (b) textsift torch; (c) textsift
ONNX fp32; (d) textsift ONNX int8; (e) the distilled student (`textsift distill`), ONNX int8. The model folders are
copied and exported into --work first (not timed). Each variant then runs in its own subprocess, so peak RSS is its
own: latency (p50/p99) and throughput at batch 1 on a fixed subset, and at batch 32 over the test split sent as
consecutive requests of 32 texts in file order; "bulk" is one call over the whole split (textsift sorts by length);
accuracy comes from the bulk call. Ratios are against (a), measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
VARIANTS = {"a": "HF pipeline (torch)", "b": "textsift torch", "c": "textsift ONNX fp32", "d": "textsift ONNX int8",
            "e": "distilled 3-layer, ONNX int8"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"), help="torch model folder")
    parser.add_argument("--student", type=Path, default=None, help="distilled torch model folder, for (e)")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/predict_speed"))
    parser.add_argument("--latency-texts", type=int, default=200, help="fixed subset timed at batch 1")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/predict_speed.json"))
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.folder, args.data / "test.csv", args.latency_texts)))
        return
    folders = prepare(args)
    results = {}
    for key, folder in folders.items():
        cmd = [sys.executable, __file__, "--worker", key, "--folder", str(folder), "--data", str(args.data),
               "--latency-texts", str(args.latency_texts)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[key] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"({key}) {VARIANTS[key]}: {json.dumps(results[key])}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load_average_1m": os.getloadavg()[0], "results": results}, indent=2) + "\n")
    print_table(results)


def prepare(args: argparse.Namespace) -> dict[str, Path]:
    """Copy the torch folder(s) and export the ONNX variants once; later runs reuse them."""
    from textsift import export

    work = args.work
    torch_dir = work / "torch"
    if not torch_dir.is_dir():
        shutil.copytree(args.model, torch_dir, ignore=shutil.ignore_patterns("checkpoint", "runs", "eval"))
    folders = {"a": torch_dir, "b": torch_dir, "c": work / "onnx-fp32", "d": work / "onnx-int8"}
    validation = args.data / "validation.csv"
    if not folders["c"].is_dir():
        export(torch_dir, folders["c"], validate=validation)
    if not folders["d"].is_dir():
        export(torch_dir, folders["d"], quantize="int8", validate=validation)
    if args.student is not None:
        folders["e"] = work / "student-int8"
        if not folders["e"].is_dir():
            export(args.student, folders["e"], quantize="int8", validate=validation)
    return folders


def measure(key: str, folder: Path, test_file: Path, latency_texts: int) -> dict:
    """One variant, in this process only: latency, throughput, accuracy, peak RSS."""
    texts, gold = read(test_file)
    predict = pipeline_predictor(folder) if key == "a" else textsift_predictor(folder)
    predict(texts[:64], 32)  # warm-up: first calls allocate and pick kernels
    b1 = timed_requests(predict, texts[:latency_texts], 1)
    b32 = timed_requests(predict, texts, 32)
    start = time.perf_counter()
    labels = predict(texts, 32)
    bulk = time.perf_counter() - start
    return {
        "batch1": b1, "batch32": b32, "bulk_texts_per_s": len(texts) / bulk,
        "accuracy": float(np.mean([p == g for p, g in zip(labels, gold, strict=True)])), "n": len(texts),
        "peak_rss_mib": peak_rss_mib(),
    }


def peak_rss_mib() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that over fork/exec from the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_requests(predict, texts: list[str], batch: int) -> dict:
    latencies = []
    for start in range(0, len(texts), batch):
        t = time.perf_counter()
        predict(texts[start : start + batch], batch)
        latencies.append(time.perf_counter() - t)
    return {"texts_per_s": len(texts) / sum(latencies), "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p99_ms": 1000 * float(np.percentile(latencies, 99)), "requests": len(latencies)}


def pipeline_predictor(folder: Path):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(folder), device="cpu")
    return lambda texts, batch: [o["label"] for o in pipe(texts, batch_size=batch, truncation=True, max_length=128)]


def textsift_predictor(folder: Path):
    import textsift

    clf = textsift.load(folder)
    return lambda texts, batch: clf.predict(texts, batch_size=batch)


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def print_table(results: dict) -> None:
    base = results["a"]
    print("\n| variant | b32 texts/s | x (a) | b32 p50 / p99 ms | b1 texts/s | x (a) | b1 p50 / p99 ms "
          "| bulk texts/s | x (a) | accuracy | Δ vs (a) | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| ({key}) {VARIANTS[key]} | {r['batch32']['texts_per_s']:.0f} | "
              f"{r['batch32']['texts_per_s'] / base['batch32']['texts_per_s']:.2f} | "
              f"{r['batch32']['p50_ms']:.0f} / {r['batch32']['p99_ms']:.0f} | {r['batch1']['texts_per_s']:.0f} | "
              f"{r['batch1']['texts_per_s'] / base['batch1']['texts_per_s']:.2f} | "
              f"{r['batch1']['p50_ms']:.1f} / {r['batch1']['p99_ms']:.1f} | {r['bulk_texts_per_s']:.0f} | "
              f"{r['bulk_texts_per_s'] / base['bulk_texts_per_s']:.2f} | {r['accuracy']:.4f} | "
              f"{100 * (r['accuracy'] - base['accuracy']):+.2f} pt | {r['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
