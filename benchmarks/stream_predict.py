"""Streaming `predict` over files of millions of rows: texts/s and peak RSS per size, against the in-memory predict it
replaced (the whole file read with read_table, scored in one call, then written), measured in the same run.

    .venv/bin/python benchmarks/stream_predict.py                                      # 1 M and 4 M rows
    .venv/bin/python benchmarks/stream_predict.py --sizes 2000 8000 --baseline-size 2000   # a quick look

The input: the built-in movie-snippets texts (Hutto's VADER ground truth, all three splits; fetched when missing)
repeated in order to N rows, one CSV per size, written once into --work (not timed). Each measurement runs in its
own child process (`--worker`), so its peak RSS (VmHWM, read by the child itself: ru_maxrss would carry the parent's
over fork/exec) is its own; the time covers loading the model, reading, predicting and writing the CSV. The
in-memory baseline runs on --baseline-size rows only, since its memory grows with the file; "x in-memory" divides
each run's texts/s by the baseline's. Flat memory shows as the same peak RSS at every streamed size.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MOVIE = Path("data/movie-snippets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"), help="model folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000], help="streamed rows")
    parser.add_argument("--baseline-size", type=int, default=200_000, help="rows of the in-memory baseline")
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/stream_predict"))
    parser.add_argument("--worker", choices=["stream", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    texts = snippets()
    runs = [("memory", args.baseline_size)] + [("stream", size) for size in args.sizes]
    results = []
    for kind, size in runs:
        source = build(args.work / f"input-{size}.csv", size, texts)
        results.append({"kind": kind, **in_child(args, kind, source)})
        print(json.dumps(results[-1]), flush=True)
    (args.work / "results.json").write_text(json.dumps({"model": str(args.model), "chunk_size": args.chunk_size,
                                                        "batch_size": args.batch_size, "results": results},
                                                       indent=2) + "\n")
    print_table(results, args.chunk_size)


def snippets() -> list[str]:
    if not (MOVIE / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(MOVIE)],
                       check=True)
    texts = []
    for split in ("train", "validation", "test"):
        with (MOVIE / f"{split}.csv").open(newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def build(path: Path, rows: int, texts: list[str]) -> Path:
    """The texts repeated in order to `rows` rows; kept for later runs of the same size."""
    if path.is_file():
        return path
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([text] for text in itertools.islice(itertools.cycle(texts), rows))
    partial.replace(path)
    return path


def in_child(args: argparse.Namespace, kind: str, source: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--input", str(source), "--model", str(args.model),
           "--chunk-size", str(args.chunk_size), "--batch-size", str(args.batch_size), "--device", args.device,
           "--work", str(args.work)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process: rows, seconds, texts/s, peak RSS."""
    out = args.work / f"preds-{args.worker}-{args.input.stem}.csv"
    started = time.perf_counter()
    if args.worker == "stream":
        from textsift import predict

        rows = predict(args.model, args.input, out, chunk_size=args.chunk_size, batch_size=args.batch_size,
                       device=args.device)
    else:
        rows = in_memory(args.model, args.input, out, args.batch_size, args.device)
    seconds = time.perf_counter() - started
    out.unlink()
    return {"rows": rows, "seconds": round(seconds, 2), "texts_per_s": round(rows / seconds, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1)}


def in_memory(model: Path, source: Path, out: Path, batch_size: int, device: str) -> int:
    """The predict this replaced: every row read, scored in one call, shaped, then written."""
    from textsift import load
    from textsift.data.io import read_table
    from textsift.data.rows import RowWriter
    from textsift.inference.outputs import flat_columns, flat_row

    classifier = load(model, device)
    items = read_table(source, classifier.settings.data_columns(), require_labels=False).inputs
    scores = classifier.scores(items, batch_size)
    rows = [flat_row(classifier, item, row) for item, row in zip(items, scores, strict=True)]
    with RowWriter(out, flat_columns(classifier)) as writer:
        for row in rows:
            writer.write(row)
    return len(rows)


def peak_rss_mib() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that over fork/exec from the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(results: list[dict[str, Any]], chunk_size: int) -> None:
    base = results[0]
    print(f"\n| run | rows | seconds | texts/s | x in-memory | peak RSS MiB |   (chunk {chunk_size})")
    print("|---|---|---|---|---|---|")
    for r in results:
        name = "in-memory (read_table + one scores call)" if r["kind"] == "memory" else "streaming predict"
        print(f"| {name} | {r['rows']:,} | {r['seconds']:.1f} | {r['texts_per_s']:.0f} | "
              f"{r['texts_per_s'] / base['texts_per_s']:.2f} | {r['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
