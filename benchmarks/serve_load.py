"""Serving under load: `textsift serve` with micro-batching against the same server with batching off.

    .venv/bin/python benchmarks/serve_load.py [--model models/movie-snippets] [--requests 400]

Starts the server as a subprocess on a free 127.0.0.1 port (a copy of the model folder, never the original) and
drives it from a separate load-generator process: closed loops of single-sentence requests at concurrency 1, 8
and 32 (a fixed count each), then an open loop at a fixed request rate, where latency counts from the scheduled
send time so a slow server cannot hide its queueing. The same runs repeat with `--max-batch 1`, and the script
prints the ratios. Loopback only; everything is bounded by request count and duration. The load generator is a
minimal keep-alive HTTP/1.1 client so it takes as little as possible of the CPU it shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Admission control (issue 10) would turn part of the closed loops into 503s; this script compares batching, so
# every request is admitted, as before admission existed.
MODES = {"batching": ["--queue-wait-ms", "100000"], "no batching": ["--max-batch", "1", "--queue-wait-ms", "100000"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"))
    parser.add_argument("--data", type=Path, default=ROOT / "data/movie-snippets/test.csv")
    parser.add_argument("--requests", type=int, default=400, help="requests per closed-loop level")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="open-loop seconds")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run as the load generator
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(generate(json.loads(args.client)))))
        return
    if not args.data.is_file():
        sys.exit(f"{args.data} missing: .venv/bin/textsift data fetch movie-snippets --out {args.data.parent}")
    texts = [row["text"] for row in csv.DictReader(args.data.open(encoding="utf-8"))]
    levels = [int(c) for c in args.concurrency.split(",")]
    results = {mode: run_mode(args, flags, texts, levels) for mode, flags in MODES.items()}
    report(results, levels, args)


def run_mode(args: argparse.Namespace, flags: list[str], texts: list[str], levels: list[int]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / args.model.name
        shutil.copytree(args.model, model, ignore=shutil.ignore_patterns("checkpoint", "runs", "eval"))
        port = free_port()
        log = (Path(tmp) / "server.log").open("wb")
        server = subprocess.Popen([sys.executable, "-m", "textsift", "serve", str(model), "--port", str(port),
                                   *flags], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(port, server)
            out = {}
            for c in levels:
                out[f"c{c}"] = client(port, texts, kind="closed", concurrency=c, count=args.requests)
                print(f"{flags or 'batching'} concurrency {c}: {out[f'c{c}']}", file=sys.stderr, flush=True)
            out["open"] = client(port, texts, kind="open", rate=args.rate, duration=args.duration)
            return out
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            log.close()


def client(port: int, texts: list[str], **spec: object) -> dict:
    """Run one load phase in a separate process (so it does not share this interpreter's GIL)."""
    payload = json.dumps({"port": port, "texts": texts, **spec})
    done = subprocess.run([sys.executable, __file__, "--client", payload], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


async def generate(spec: dict) -> dict:
    bodies = [json.dumps({"text": t}).encode() for t in spec["texts"]]
    port = spec["port"]
    for body in bodies[:20]:  # warm the connection path and the model threads, not measured
        await send(*(await connect(port)), body)
    before = batch_stats(port)
    if spec["kind"] == "closed":
        result = await closed_loop(port, bodies, spec["concurrency"], spec["count"])
    else:
        result = await open_loop(port, bodies, spec["rate"], spec["duration"])
    return {**result, "mean_batch": mean_batch(before, batch_stats(port))}


async def closed_loop(port: int, bodies: list[bytes], concurrency: int, count: int) -> dict:
    work = iter(itertools.islice(itertools.cycle(bodies), count))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        conn = await connect(port)
        for body in work:
            start = time.perf_counter()
            ok = await send(*conn, body)
            latencies.append(time.perf_counter() - start)
            errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, errors, time.perf_counter() - start)


async def open_loop(port: int, bodies: list[bytes], rate: float, duration: float) -> dict:
    idle: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def one(body: bytes, due: float) -> None:
        nonlocal errors
        conn = idle.get_nowait() if not idle.empty() else await connect(port)
        ok = await send(*conn, body)
        latencies.append(time.perf_counter() - due)  # from the scheduled time: queueing counts
        errors += not ok
        idle.put_nowait(conn)

    start, tasks = time.perf_counter(), []
    for i, body in enumerate(itertools.islice(itertools.cycle(bodies), int(rate * duration))):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(body, due)))
    await asyncio.gather(*tasks)
    return summary(latencies, errors, time.perf_counter() - start)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> tuple[int, bytes]:
    """One keep-alive POST /v1/predict: the status and the body of the answer."""
    writer.write(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> bool:
    """One keep-alive POST /v1/predict; True on a 200 with a prediction."""
    status, answer = await exchange(reader, writer, body)
    return status == 200 and b'"predictions"' in answer


def summary(latencies: list[float], errors: int, wall: float) -> dict:
    ms = np.array(latencies) * 1000
    return {"n": len(latencies), "errors": errors, "wall_s": wall, "rps": len(latencies) / wall,
            **{f"p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)}}


def batch_stats(port: int) -> tuple[float, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith(("textsift_batch_size_sum ", "textsift_batch_size_count "))}
    return values.get("textsift_batch_size_sum", 0.0), values.get("textsift_batch_size_count", 0.0)


def mean_batch(before: tuple[float, float], after: tuple[float, float]) -> float:
    texts, batches = after[0] - before[0], after[1] - before[1]
    return texts / batches if batches else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, server: subprocess.Popen, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"server exited with {server.returncode}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("server not ready in time")


def report(results: dict, levels: list[int], args: argparse.Namespace) -> None:
    print("| server | load | requests | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms | mean batch |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode, runs in results.items():
        for key, r in runs.items():
            load = f"closed, concurrency {key[1:]}" if key != "open" else f"open, {args.rate:g} req/s"
            print(f"| {mode} | {load} | {r['n']} | {r['errors']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} "
                  f"| {r['p99']:.1f} | {r['mean_batch']:.1f} |")
    print()
    for c in levels:
        b, n = results["batching"][f"c{c}"], results["no batching"][f"c{c}"]
        print(f"concurrency {c}: throughput batching / no batching = {b['rps'] / n['rps']:.2f}x, "
              f"p99 {b['p99']:.1f} vs {n['p99']:.1f} ms")
    o = results["batching"]["open"]
    print(f"open loop {args.rate:g} req/s with batching: p99 {o['p99']:.1f} ms (goal < 50), errors {o['errors']}")


if __name__ == "__main__":
    main()
