"""Monitor ingest throughput: events/s through `Pipeline.ingest` (score, store, evaluate) as a ratio to the model's
own bulk predict over the same texts in the same batches, measured in the same run.

    .venv/bin/python benchmarks/monitor_ingest.py [--model FOLDER] [--events 4000] [--repeat 3] [--workers 2] \
        [--command-repeat 2] [--postgres "$(TEXTSIFT_PG_PORT=54339 benchmarks/postgres.sh start)"] [--postgres URL2]

--model is an int8 ONNX folder; without it the script exports models/movie-snippets (the demo model) with
`textsift export --quantize int8`, or, when that folder is missing, trains a quick `--strategy head` model on
data/movie-snippets first, into benchmarks/out/monitor/. The events are --events movie-snippets train texts in a
seeded random order (splits fetched before issue 10 list one label after the other: a surge), three sources,
spread evenly over two days of event time so that hourly windows close and the rules are evaluated as ingest goes
(two rules, z-score and CUSUM on share(negative) over 1h).

The machine is shared and noisy, so the paths are interleaved batch by batch (rotating which goes first), and every
ratio compares sums over the same batches:
  bulk predict       `predictor.scores` over the batch's texts with batch_size=min(64, batch), exactly the model
                     pass the pipeline makes; the baseline
  ingest → SQLite    `Pipeline.ingest(batch)` into a fresh SQLite file (WAL); the same ORT session
  ingest → Postgres  the same into a fresh database on each --postgres server (created and dropped by the script;
                     the server's fsync and synchronous_commit settings are shown)
Then, not interleaved: bulk over all texts in one call (sorted by length across the whole set, which batches of
--batch-size cannot do; for reference) and "storage only": `Store.add` of the already-scored batches plus
`alerting.evaluate`, what the store alone sustains without the model.
With --workers W the command path runs too: `textsift.monitor.ingest.ingest` on a JSONL file with 1 and W worker
processes into SQLite and the first --postgres; its throughput is (N - n0) / (wall(N) - wall(n0)) for a file of
n0 = 64 events, so process and model start-up cancel out, against bulk passes timed just before and just
after each run.
Last, the cost of an alert on the ingest path: hourly batches of 60 events with two all-negative windows, and the
wall time of the batches whose evaluation fires. Results: benchmarks/out/monitor/ingest.json, tables on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/out/monitor"
DATA = ROOT / "data/movie-snippets"
START_TS = 1_779_926_400.0  # 2026-05-28 00:00 UTC; the event times are synthetic, the texts real
RULES = ("share(negative) > baseline + 3 sigma over 1h, min 20",
         "share(negative) > baseline by cusum(k=0.5, h=5) over 1h, min 20")
SMALL = 64  # events in the tiny file whose wall time is subtracted (start-up)
BULK = "bulk predict"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="int8 ONNX model folder (default: build one, see above)")
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=256, help="events per ingest batch (IngestConfig default)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="append", default=[],
                        help="URL of a throwaway PostgreSQL server whose user may CREATE DATABASE (repeatable)")
    parser.add_argument("--workers", type=int, default=0, help="also time the ingest command with 1 and W workers")
    parser.add_argument("--command-repeat", type=int, default=2, help="repeats of the command-path runs")
    parser.add_argument("--no-rules", action="store_true", help="ingest without alert rules")
    args = parser.parse_args()
    model = args.model or int8_model()
    texts = real_texts(args.events)
    rules = () if args.no_rules else RULES
    backends = {"sqlite": None} | {server_label(url): url for url in args.postgres}
    setup = {"model": str(model), "events": len(texts), "batch_size": args.batch_size, "repeat": args.repeat,
             "rules": list(rules), "servers": {label: server_version(url) for label, url in backends.items() if url},
             "load_before": os.getloadavg()}
    results: dict[str, Any] = {"setup": setup, **measure(model, texts, args, rules, backends)}
    if args.workers:
        results["command"] = measure_command(model, texts, args, rules, dict(list(backends.items())[:2]))
    if not args.no_rules:
        results["alert_batches"] = measure_alert_cost(model)
    setup["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    report(results)


# ------------------------------------------------------------------------------------------------ inputs


def int8_model() -> Path:
    """An int8 export of the demo model, or of a quick head-strategy model when there is no demo model."""
    target = OUT / "int8"
    if (target / "textsift.json").is_file():
        return target
    source = ROOT / "models/movie-snippets"
    if not (source / "model.safetensors").is_file():
        source = OUT / "head"
        if not (source / "textsift.json").is_file():
            run_cli("train", str(DATA / "train.csv"), "--validation", str(DATA / "validation.csv"),
                    "--strategy", "head", "--epochs", "3", "--out", str(source))
    run_cli("export", str(source), "--quantize", "int8", "--out", str(target))
    return target


def run_cli(*argv: str) -> None:
    print("$ textsift", " ".join(argv), file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "textsift", *argv], cwd=ROOT, check=True)


def labelled(split: str = "train") -> list[tuple[str, str]]:
    """(text, label) rows of a movie-snippets split, in a seeded random order."""
    path = DATA / f"{split}.csv"
    if not path.is_file():
        sys.exit(f"{path} missing: .venv/bin/textsift data fetch movie-snippets --out {DATA}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)
    return rows


def real_texts(n: int) -> list[str]:
    pool = [text for text, _ in labelled()]
    return [pool[i % len(pool)] for i in range(n)]


def make_events(texts: list[str]) -> list[Any]:
    """Three sources, evenly spaced over two days of event time; ids unique within a source."""
    from textsift.monitor.stream import Event

    step = 2 * 86400 / len(texts)
    return [Event(str(i), START_TS + i * step, f"source-{i % 3}", text) for i, text in enumerate(texts)]


# ------------------------------------------------------------------------------------------------ stores


@contextmanager
def fresh_url(kind: str, postgres: str | None, tag: str) -> Iterator[str]:
    """A database nobody has written to: a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
            yield f"sqlite:///{tmp}/monitor.db"
        return
    import psycopg

    assert postgres is not None
    name = f"textsift_bench_{tag}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_version(postgres: str | None) -> str | None:
    if postgres is None:
        return None
    import psycopg

    with psycopg.connect(postgres) as conn:
        return str(conn.execute("SELECT version()").fetchone()[0])


def server_label(postgres: str) -> str:
    """'postgresql (fsync on, synchronous_commit on)': durability decides what a commit costs."""
    import psycopg

    with psycopg.connect(postgres) as conn:
        fsync, sync = (conn.execute(f"SHOW {name}").fetchone()[0] for name in ("fsync", "synchronous_commit"))
    return f"postgresql (fsync {fsync}, synchronous_commit {sync})"


def open_store(url: str, rules: tuple[str, ...]) -> Any:
    from textsift.monitor.alerting import add_rule
    from textsift.monitor.store import Store

    store = Store(url)
    for rule in rules:
        add_rule(store, rule)
    return store


# ------------------------------------------------------------------------------------------------ timing


class Phases:
    """Wall seconds inside named callables, per backend (wrapped on the instances; the code under test is as is)."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.current = ""

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                self.seconds[self.current][label] += time.perf_counter() - started

        setattr(owner, name, timed)


def bulk(predictor: Any, texts: list[str], size: int) -> float:
    """Seconds for the pipeline's model pass alone over `texts` in ingest batches."""
    started = time.perf_counter()
    for i in range(0, len(texts), size):
        chunk = texts[i:i + size]
        predictor.scores(chunk, batch_size=min(64, len(chunk)))
    return time.perf_counter() - started


def measure(model: Path, texts: list[str], args: argparse.Namespace, rules: tuple[str, ...],
            backends: dict[str, str | None]) -> dict[str, Any]:
    from contextlib import ExitStack

    from textsift.monitor.alerting import evaluate
    from textsift.monitor.config import IngestConfig
    from textsift.monitor.pipeline import Pipeline

    events = make_events(texts)
    size = args.batch_size
    batches = [events[i:i + size] for i in range(0, len(events), size)]
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(model, IngestConfig(db=f"sqlite:///{tmp}/warm.db", batch_size=size))
        predictor = pipeline.predictor
        predictor.scores(texts[:size], batch_size=64)  # warm-up: ORT allocates its arenas on the first runs
        scored = [pipeline.score(b) for b in batches]  # for the storage-only runs
        pipeline.store.close()
    paths = [BULK, *(f"ingest → {label}" for label in backends)]
    seconds: dict[str, list[float]] = defaultdict(list)
    reference: dict[str, list[float]] = defaultdict(list)
    phases, alerts = [], defaultdict(int)
    for r in range(args.repeat):
        timer, spent = Phases(), dict.fromkeys(paths, 0.0)
        timer.wrap(pipeline, "score", "model (score)")
        timer.wrap(pipeline, "evaluate", "evaluate rules")
        with ExitStack() as stack:
            stores = {}
            for label, url in backends.items():
                store = open_store(stack.enter_context(fresh_url(kind(label), url, f"ingest{r}")), rules)
                stack.callback(store.close)
                timer.wrap(store, "add", "store.add")
                timer.wrap(store, "known", "store.known")
                stores[f"ingest → {label}"] = store
            for b, batch in enumerate(batches):
                for path in paths[b % len(paths):] + paths[:b % len(paths)]:  # rotate who goes first
                    started = time.perf_counter()
                    if path == BULK:
                        predictor.scores([e.text for e in batch], batch_size=min(64, len(batch)))
                    else:
                        pipeline.store, timer.current = stores[path], path
                        alerts[path] += len(pipeline.ingest(batch)[1])
                    spent[path] += time.perf_counter() - started
            for path, store in stores.items():
                assert store.count() == len(events), (path, store.count())
        del pipeline.score, pipeline.evaluate  # back to the class's methods
        for path in paths:
            seconds[path].append(spent[path])
        phases.append({path: {"wall": spent[path], **timer.seconds[path]} for path in paths[1:]})
        reference["bulk, one call"].append(timed_call(lambda: predictor.scores(texts, batch_size=64)))
        for label, url in backends.items():
            with fresh_url(kind(label), url, f"storage{r}") as store_url:
                store = open_store(store_url, rules)
                started = time.perf_counter()
                for batch in scored:
                    store.add(batch, model=pipeline.model, model_version=pipeline.version)
                    evaluate(store)
                reference[f"storage only → {label}"].append(time.perf_counter() - started)
                store.close()
        print(f"repeat {r + 1}/{args.repeat}: " + ", ".join(f"{p} {len(texts) / s[-1]:.0f}/s"
                                                          for p, s in {**seconds, **reference}.items()),
              file=sys.stderr, flush=True)
    return {"seconds": seconds, "reference_seconds": reference, "phases": phases, "alerts": alerts}


def kind(label: str) -> str:
    return label.split(" ", 1)[0]


def timed_call(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_command(model: Path, texts: list[str], args: argparse.Namespace, rules: tuple[str, ...],
                    backends: dict[str, str | None]) -> dict[str, Any]:
    """The ingest command path (file → events → pipeline, in W processes) with start-up subtracted."""
    from textsift.inference.load import load
    from textsift.monitor.config import IngestConfig
    from textsift.monitor.ingest import ingest

    predictor = load(model)
    predictor.scores(texts[:64], batch_size=64)
    out: dict[str, Any] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        files = {n: write_jsonl(Path(tmp) / f"events{n}.jsonl", make_events(texts)[:n]) for n in (SMALL, len(texts))}
        for r in range(args.command_repeat):
            previous = bulk(predictor, texts, args.batch_size)
            for label, url in backends.items():
                for workers in sorted({1, args.workers}):
                    walls, changes = {}, 0
                    for n, path in files.items():
                        with fresh_url(kind(label), url, f"cmd{r}_{workers}_{n}") as db:
                            open_store(db, rules).close()
                            cfg = IngestConfig(db=db, batch_size=args.batch_size, workers=workers)
                            started = time.perf_counter()
                            totals = ingest(model, path, cfg)
                            walls[n] = time.perf_counter() - started
                            assert totals.stored == n, (totals.stored, n)
                            changes += len(totals.alerts)
                    following = bulk(predictor, texts, args.batch_size)  # a bulk pass between any two runs
                    base = len(texts) / ((previous + following) / 2)
                    previous = following
                    rate = (len(texts) - SMALL) / (walls[len(texts)] - walls[SMALL])
                    name = f"{label}, {workers} worker{'s' * (workers > 1)}"
                    out[name].append({"events_per_s": rate, "wall_small": walls[SMALL], "wall_full": walls[len(texts)],
                                      "alert_changes": changes, "bulk_per_s": base, "ratio": rate / base})
                    print(f"command {name}: {rate:.0f}/s, bulk {base:.0f}/s", file=sys.stderr, flush=True)
    return out


def measure_alert_cost(model: Path, per_window: int = 60) -> dict[str, Any]:
    """Wall time of the ingest batches whose evaluation fires an alert, against the median batch.

    One batch per hourly window; windows 30 and 40 hold only negative texts, so the z-score rule fires in the
    batch that closes each of them. The pipeline's defaults stay on: 3 example texts per alert, with word
    attributions from the torch folder behind the ONNX one when it and captum are there.
    """
    from textsift.monitor.config import IngestConfig
    from textsift.monitor.pipeline import Pipeline
    from textsift.monitor.stream import Event

    rows = labelled()
    negatives = [text for text, label in rows if label == "negative"]
    walls, fired = [], []
    with fresh_url("sqlite", None, "alerts") as url:
        pipeline = Pipeline(model, IngestConfig(db=url), store=open_store(url, RULES[:1]))
        pipeline.predictor.scores(negatives[:64], batch_size=64)
        for w in range(44):
            texts = negatives[w * per_window:(w + 1) * per_window] if w in (30, 40) else [
                text for text, _ in rows[w * per_window:(w + 1) * per_window]]
            batch = [Event(f"{w}-{j}", START_TS + w * 3600 + j * 3600 / per_window, "alerts", t)
                     for j, t in enumerate(texts)]
            started = time.perf_counter()
            _, alerts = pipeline.ingest(batch)
            walls.append(time.perf_counter() - started)
            fired += [(w, a.status) for a in alerts]
        pipeline.store.close()
    firing = [w for w, status in fired if status == "firing"]
    return {"median_batch_s": statistics.median(walls), "batch_s": walls, "changes": fired,
            "firing_batch_s": [walls[w] for w in firing], "attributions": pipeline.explainer() is not None}


def write_jsonl(path: Path, events: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for e in events:
            handle.write(json.dumps({"id": e.id, "ts": e.ts, "source": e.source, "text": e.text}) + "\n")
    return path


# ------------------------------------------------------------------------------------------------ report


def report(results: dict[str, Any]) -> None:
    setup, seconds, reference = results["setup"], results["seconds"], results["reference_seconds"]
    n = setup["events"]
    ratios = {p: [b / s for b, s in zip(seconds[BULK], spent, strict=True)] for p, spent in seconds.items()}
    print(f"\n{n} events, batches of {setup['batch_size']}, {setup['repeat']} repeats, interleaved batch by batch; "
          f"model {setup['model']}; rules: {len(setup['rules'])}; load average {setup['load_before'][0]:.1f} before, "
          f"{setup['load_after'][0]:.1f} after\n")
    print("| path | events/s, median (min–max) | × bulk predict, median of repeats (min–max) | alerts fired |")
    print("|---|---:|---:|---:|")
    for path, spent in seconds.items():
        rates, r = [n / s for s in spent], ratios[path]
        print(f"| {path} | {statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f}) | "
              f"{statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f}) | {results['alerts'].get(path, '')} |")
    base = n / statistics.median(seconds[BULK])
    for path, spent in reference.items():
        rates = [n / s for s in spent]
        print(f"| {path} (not interleaved) | {statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f}) | "
              f"{statistics.median(rates) / base:.2f} | |")
    print("\nWhere ingest's wall time goes (share of each path's time, median over the repeats):\n")
    print("| path | model (score) | store.add | store.known | evaluate rules | rest |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in list(seconds)[1:]:
        shares = {k: statistics.median(rep[path].get(k, 0.0) / rep[path]["wall"] for rep in results["phases"])
                  for k in ("model (score)", "store.add", "store.known", "evaluate rules")}
        print(f"| {path} | " + " | ".join(f"{100 * s:.1f}%" for s in shares.values())
              + f" | {100 * (1 - sum(shares.values())):.1f}% |")
    if "command" in results:
        print(f"\n`textsift.monitor.ingest.ingest` from a JSONL file, start-up subtracted ((N - {SMALL}) / "
              f"(wall(N) - wall({SMALL}))), against bulk predict timed just before and after each run:\n")
        print("| store, workers | events/s, median | × bulk predict, median (min–max) | start-up s | alert changes |")
        print("|---|---:|---:|---:|---:|")
        for name, rows in results["command"].items():
            r = [row["ratio"] for row in rows]
            print(f"| {name} | {statistics.median(row['events_per_s'] for row in rows):.0f} | "
                  f"{statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f}) | "
                  f"{statistics.median(row['wall_small'] for row in rows):.1f} | "
                  f"{sum(row['alert_changes'] for row in rows)} |")
    if "alert_batches" in results:
        a = results["alert_batches"]
        print(f"\nBatches of 60 events, one per hourly window, z-score rule: median batch {a['median_batch_s']:.2f} s; "
              "the batches that fired an alert: " + ", ".join(f"{s:.2f} s" for s in a["firing_batch_s"])
              + f" (example texts with word attributions: {'yes' if a['attributions'] else 'no'}).")
    verdict = ", ".join(f"{p.split('→ ')[1]} {statistics.median(r):.2f}× "
                        f"({'met' if statistics.median(r) >= 0.9 else 'NOT met'})"
                        for p, r in ratios.items() if p != BULK)
    print(f"\nGoal: ingest ≥ 0.9× bulk predict — {verdict}.")


if __name__ == "__main__":
    main()
