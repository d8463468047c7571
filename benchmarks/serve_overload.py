"""Overload and costly requests against `textsift serve`, optionally side by side with a baseline revision.

    python benchmarks/serve_overload.py --model models/movie-snippets [--baseline b9a246b]

For each tree (this one, and --baseline's `src/` written out with `git archive`, run from the same environment;
with a baseline, both serve a one-epoch model the baseline trains, a folder format both read) a fresh server
subprocess on a free loopback port (a copy of the model folder; `--timeout-s 2` for the load, the
default 10 s for the explanation):

1. unloaded: --requests requests of --texts texts, one at a time (p99), then a closed loop at concurrency 2, which
   keeps the model busy without queueing (capacity: answers per second);
2. overload: an open loop at twice that capacity for --duration seconds: the share of requests answered 200
   (their p99 against the unloaded p99), answered 503 at once, and 504; and wasted model time, from the server's
   own metrics (model time spent on answers nobody received, over all model time);
3. explain: single-text predictions one at a time, unloaded and then while one maximal explanation runs (the most
   steps on a 2,000-character text that the server accepts), p99 of each;
4. shutdown: SIGTERM while that explanation runs, and how long the process takes to exit.

The load generator runs in its own process; all traffic stays on 127.0.0.1 and every phase is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from serve_load import connect, exchange, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
LONG_TEXT = ("a slow, sprawling story that takes its time with every scene and every character " * 30)[:2000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"), help="torch model folder")
    parser.add_argument("--data", type=Path, default=ROOT / "data/movie-snippets/test.csv")
    parser.add_argument("--baseline", help="git revision to measure as well, e.g. b9a246b")
    parser.add_argument("--texts", type=int, default=64, help="texts per request (64: the issue's overload case)")
    parser.add_argument("--requests", type=int, default=30, help="requests in the unloaded and capacity runs")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of overload")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)  # internal: the load generator
    args = parser.parse_args()
    if args.client:  # the spec comes on stdin: a thousand bodies do not fit in an argument list
        print(json.dumps(asyncio.run(generate(json.loads(sys.stdin.read())))))
        return
    texts = [row["text"] for row in csv.DictReader(args.data.open(encoding="utf-8"))]
    trees = {"after": ROOT / "src"}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            trees = {"before": checkout(args.baseline, Path(tmp) / "baseline"), **trees}
            args.model = baseline_model(trees["before"], Path(tmp) / "model")
        results = {tree: measure(src, args, texts, Path(tmp)) for tree, src in trees.items()}
    out = ROOT / "benchmarks" / "out" / "serve_overload.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    report(results, args)


def checkout(revision: str, target: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def baseline_model(src: Path, out: Path) -> Path:
    """A model both trees read: one epoch on the test slice, trained by the baseline (a format-1 folder, of the demo
    model's architecture, which is all that speed depends on)."""
    data = ROOT / "tests" / "data" / "movie-snippets-300"
    env = {**os.environ, "PYTHONPATH": str(src), "TRANSFORMERS_VERBOSITY": "error"}
    subprocess.run([sys.executable, "-m", "textsift", "train", str(data / "train.csv"), "--validation",
                    str(data / "validation.csv"), "--epochs", "1", "--out", str(out)], env=env, check=True,
                   capture_output=True)
    return out


class Server:
    """`textsift serve` from one source tree, on a copy of the model folder."""

    def __init__(self, src: Path, model: Path, tmp: Path, timeout_s: float = 2.0) -> None:
        self.folder = Path(shutil.copytree(model, tmp / f"model-{os.getpid()}-{time.time_ns()}",
                                           ignore=shutil.ignore_patterns("checkpoint", "runs", "eval")))
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(src), "TRANSFORMERS_VERBOSITY": "error"}
        argv = [sys.executable, "-m", "textsift", "serve", str(self.folder), "--port", str(self.port),
                "--timeout-s", str(timeout_s)]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.process)

    def metrics(self) -> dict[str, float]:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10).read().decode()
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line.startswith(("textsift_wasted_model_seconds ", "textsift_inference_seconds_sum "))}

    def stop(self) -> float:
        """SIGTERM, and seconds until the process has exited."""
        start = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        return time.perf_counter() - start


def measure(src: Path, args: argparse.Namespace, texts: list[str], tmp: Path) -> dict:
    bodies = [json.dumps({"texts": texts[i : i + args.texts]}).encode()
              for i in range(0, len(texts) - args.texts, args.texts)]
    server = Server(src, args.model, tmp)
    try:
        unloaded = client(server.port, bodies, kind="closed", concurrency=1, count=args.requests)
        capacity = client(server.port, bodies, kind="closed", concurrency=2, count=args.requests)
        before = server.metrics()
        # Capacity is what the model answers (200s) per second when it is kept busy; twice that is offered.
        overload = client(server.port, bodies, kind="open", rate=2 * capacity["rps"], duration=args.duration)
        after = server.metrics()
    finally:
        server.stop()
    busy = after.get("textsift_inference_seconds_sum", 0) - before.get("textsift_inference_seconds_sum", 0)
    wasted = after.get("textsift_wasted_model_seconds")
    if wasted is not None:
        overload["wasted_share"] = (wasted - before.get("textsift_wasted_model_seconds", 0)) / max(busy, 1e-9)
    return {"unloaded": unloaded, "capacity": capacity, "overload": overload, **explain_phase(src, args, tmp)}


def explain_phase(src: Path, args: argparse.Namespace, tmp: Path) -> dict:
    """Predict p99 alone and beside one maximal explanation, then SIGTERM during another one; the server's default
    10 s timeout, so the explanation is as long as a server allows by default."""
    server = Server(src, args.model, tmp, timeout_s=10.0)
    single = [json.dumps({"text": "a gripping, beautifully acted story"}).encode()]
    try:
        post(server.port, "/v1/explain", {"text": "warm up", "steps": 8})
        alone = client(server.port, single, kind="closed", concurrency=1, count=100)
        steps = maximal_steps(server.port)
        explaining = threading.Thread(target=post, args=(server.port, "/v1/explain",
                                                         {"text": LONG_TEXT, "steps": steps}))
        explaining.start()
        time.sleep(0.5)
        beside = client(server.port, single, kind="closed", concurrency=1, count=100)
        explaining.join(120)
        threading.Thread(target=post, args=(server.port, "/v1/explain", {"text": LONG_TEXT, "steps": steps}),
                         daemon=True).start()
        time.sleep(1.0)
    finally:
        exit_s = server.stop()
    return {"explain_steps": steps, "predict_alone": alone, "predict_beside_explain": beside,
            "sigterm_exit_s": exit_s}


def maximal_steps(port: int) -> int:
    """The most steps the server accepts for LONG_TEXT: 200 (the API's limit), or what its cost cap answers. A
    server without a cap runs the whole 200-step explanation to answer."""
    status, body = post(port, "/v1/explain", {"text": LONG_TEXT, "steps": 200})
    found = re.search(r"at most (\d+) steps", body)
    return int(found[1]) if status == 422 and found else 200


def post(port: int, path: str, payload: dict) -> tuple[int, str]:
    """One JSON POST; its status and body."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def client(port: int, bodies: list[bytes], **spec: object) -> dict:
    payload = json.dumps({"port": port, "bodies": [b.decode() for b in bodies], **spec})
    done = subprocess.run([sys.executable, __file__, "--client"], input=payload, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


async def generate(spec: dict) -> dict:
    bodies = [b.encode() for b in spec["bodies"]]
    results: list[tuple[int, float]] = []
    if spec["kind"] == "closed":
        wall = await closed(spec["port"], bodies, spec["concurrency"], spec["count"], results)
    else:
        wall = await opened(spec["port"], bodies, spec["rate"], spec["duration"], results)
    return summary(results, wall)


async def closed(port: int, bodies: list[bytes], concurrency: int, count: int, out: list) -> float:
    work = iter([bodies[i % len(bodies)] for i in range(count)])

    async def worker() -> None:
        conn = await connect(port)
        for body in work:
            start = time.perf_counter()
            status = await status_of(*conn, body)
            out.append((status, time.perf_counter() - start))
            if status != 200:
                conn = await connect(port)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def opened(port: int, bodies: list[bytes], rate: float, duration: float, out: list) -> float:
    async def one(body: bytes, due: float) -> None:
        conn = await connect(port)
        status = await status_of(*conn, body)
        out.append((status, time.perf_counter() - due))  # from the scheduled send: queueing counts
        conn[1].close()

    start, tasks = time.perf_counter(), []
    for i in range(int(rate * duration)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], due)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


async def status_of(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    """One POST /v1/predict; its status (0 when the connection failed)."""
    try:
        return (await exchange(reader, writer, body))[0]
    except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
        return 0


def summary(results: list[tuple[int, float]], wall: float) -> dict:
    statuses = [s for s, _ in results]
    ok_ms = np.array([t for s, t in results if s == 200]) * 1000
    quick_503 = sum(1 for s, t in results if s == 503 and t < 0.5)
    return {"n": len(results), "rps": statuses.count(200) / wall, "ok": statuses.count(200) / len(results),
            "503": statuses.count(503) / len(results), "503_at_once": quick_503 / len(results),
            "504": statuses.count(504) / len(results), "other": sum(s not in (200, 503, 504) for s in statuses),
            "p50_ok_ms": float(np.percentile(ok_ms, 50)) if len(ok_ms) else None,
            "p99_ok_ms": float(np.percentile(ok_ms, 99)) if len(ok_ms) else None}


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"| tree | capacity (200s/s, {args.texts} texts each) | offered | answered 200 | 503 at once | 503 later | "
          "504 | other | p99 of 200s / unloaded p99 | wasted model time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tree, r in results.items():
        o, wasted = r["overload"], r["overload"].get("wasted_share")
        print(f"| {tree} | {r['capacity']['rps']:.1f} | {2 * r['capacity']['rps']:.1f} req/s | {o['ok']:.1%} | "
              f"{o['503_at_once']:.1%} | {o['503'] - o['503_at_once']:.1%} | {o['504']:.1%} | {o['other']} | "
              f"{(o['p99_ok_ms'] or float('nan')) / r['unloaded']['p99_ok_ms']:.2f} "
              f"({o['p99_ok_ms'] or float('nan'):.0f} / {r['unloaded']['p99_ok_ms']:.0f} ms) | "
              f"{'not measured' if wasted is None else f'{wasted:.1%}'} |")
    print("\n| tree | explain steps | predict p99 alone ms | beside the explanation ms | ratio | answered 200 beside "
          "| SIGTERM to exit s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for tree, r in results.items():
        alone, beside = r["predict_alone"], r["predict_beside_explain"]
        ratio = (beside["p99_ok_ms"] or float("nan")) / alone["p99_ok_ms"]
        print(f"| {tree} | {r['explain_steps']} | {alone['p99_ok_ms']:.1f} | {beside['p99_ok_ms'] or float('nan'):.1f} "
              f"| {ratio:.2f} | {beside['ok']:.0%} | {r['sigterm_exit_s']:.1f} |")


if __name__ == "__main__":
    main()
