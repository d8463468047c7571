"""Start-up time and memory of the CLI, for the working tree and a baseline revision, side by side in one run.

    python benchmarks/startup.py --baseline b9a246b --data data/movie-snippets

The baseline's `src/` is written out with `git archive` into --work and both trees run from this virtual
environment (PYTHONPATH picks the tree), so they share every installed package. Measured, as subprocesses:
wall time of `textsift --help`, `textsift data list` and `python -c "import textsift"`; wall time and peak RSS
(the process's own maximum resident set) of `textsift predict <int8 folder>` on one stdin text and on the test
file; and of an idle `textsift serve <int8 folder>` once /readyz answers. The int8 folder is made once by the
baseline (one epoch on tests/data/movie-snippets-300, then `export --quantize int8`): a format-1 folder that both
trees read, and of the demo model's architecture, which is all start-up, memory and speed depend on. Runs
alternate between the trees, --repeat times; the table shows medians and after/before ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "a gripping, beautifully acted story\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with, e.g. b9a246b")
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"), help="folder with test.csv")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/startup"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    trees = {"before": checkout(args.baseline, args.work / "baseline"), "after": ROOT / "src"}
    folder = baseline_int8_folder(trees["before"], args.work)
    cases = commands(folder, args.data / "test.csv", args.work)
    results: dict[str, dict[str, list[dict[str, float]]]] = {name: {t: [] for t in trees} for name in cases}
    for _ in range(args.repeat):
        for name, run in cases.items():
            for tree, src in trees.items():
                results[name][tree].append(run(src))
    summary = {name: {tree: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                      for tree, runs in by_tree.items()} for name, by_tree in results.items()}
    (args.work.parent / "startup.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary, args.baseline)


def checkout(revision: str, target: Path) -> Path:
    """The baseline's src/ folder, written out of git without touching the working tree."""
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "TRANSFORMERS_VERBOSITY": "error"}


def baseline_int8_folder(src: Path, work: Path) -> Path:
    """A quick model trained and exported by the baseline code, so its folder is one that both trees read."""
    out, data = work / "int8-format1", ROOT / "tests" / "data" / "movie-snippets-300"
    if not (out / "model.onnx").is_file():
        cli = [sys.executable, "-m", "textsift"]
        for argv in ([*cli, "train", str(data / "train.csv"), "--validation", str(data / "validation.csv"),
                      "--epochs", "1", "--out", str(work / "model")],
                     [*cli, "export", str(work / "model"), "--quantize", "int8", "--out", str(out)]):
            subprocess.run(argv, env=env(src), check=True, capture_output=True)
    return out


def timed(argv: list[str], src: Path, stdin: str = "") -> dict[str, float]:
    """Wall seconds and peak RSS (MiB) of one process, read from its own resource usage."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env(src), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{process.stderr.read() if process.stderr else ''}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024}


def idle_server(folder: Path, src: Path) -> dict[str, float]:
    """Seconds until /readyz answers 200, and the server's peak RSS then."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "textsift", "serve", str(folder), "--port", str(port)],
                               env=env(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.perf_counter() - start > 120:
                    raise SystemExit("the server did not become ready") from None
                time.sleep(0.05)
        ready = time.perf_counter() - start
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return {"wall_s": ready, "peak_rss_mib": peak / 1024}
    finally:
        process.terminate()
        process.wait(60)


def commands(folder: Path, test_file: Path, work: Path) -> dict[str, object]:
    cli = [sys.executable, "-m", "textsift"]
    return {
        "textsift --help": lambda src: timed([*cli, "--help"], src),
        "textsift data list": lambda src: timed([*cli, "data", "list"], src),
        "import textsift": lambda src: timed([sys.executable, "-c", "import textsift"], src),
        "predict int8, 1 text": lambda src: timed([*cli, "predict", str(folder)], src, SENTENCE),
        f"predict int8, {count_rows(test_file)} texts":
            lambda src: timed([*cli, "predict", str(folder), str(test_file), "--out", str(work / "preds.csv")], src),
        "serve int8, idle until ready": lambda src: idle_server(folder, src),
    }


def count_rows(path: Path) -> int:
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def print_table(summary: dict[str, dict[str, dict[str, float]]], baseline: str) -> None:
    print(f"| command | wall s, before ({baseline}) | wall s, after | after / before | peak RSS MiB, before | "
          "peak RSS MiB, after | after / before |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, by_tree in summary.items():
        b, a = by_tree["before"], by_tree["after"]
        print(f"| `{name}` | {b['wall_s']:.2f} | {a['wall_s']:.2f} | {a['wall_s'] / b['wall_s']:.2f} | "
              f"{b['peak_rss_mib']:.0f} | {a['peak_rss_mib']:.0f} | {a['peak_rss_mib'] / b['peak_rss_mib']:.2f} |")
    one, many = (next(v for k, v in summary.items() if k.startswith("predict int8, ") and k.endswith(end))
                 for end in (" 1 text", " texts"))
    n = int(next(k for k in summary if k.endswith(" texts")).split()[-2])
    rates = {tree: (n - 1) / (many[tree]["wall_s"] - one[tree]["wall_s"]) for tree in ("before", "after")}
    gain = rates["after"] / rates["before"]
    print(f"\nPrediction throughput without start-up ((n - 1) / (wall of n texts - wall of 1 text)): before "
          f"{rates['before']:.0f} texts/s, after {rates['after']:.0f} texts/s ({gain:.2f}x)")


if __name__ == "__main__":
    main()
