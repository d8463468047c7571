"""Monitor dashboard latency: the SQL a 7-day dashboard view runs, over a store of 1,000,000 events.

    .venv/bin/python benchmarks/monitor_dashboard.py [--events 1000000] [--repeat 50] \
        [--postgres postgresql://postgres@127.0.0.1:55432/postgres]

Fills a fresh store through `Store.add` (the ingest path without the model: batches of --batch-size constructed
`Scored` rows, one transaction each, rollups included) with synthetic events: --sources sources, three labels
(negative / neutral / positive, shares differing by source), timestamps uniform over --days days and stored in time
order, each with a real movie-snippets text (cycled) as ingest would keep it. A few surges are planted in the last
week so that the four rules (one per detector) have alerts to show; `alerting.evaluate` runs them once over the
whole history, as the first evaluation of a new store would. Then, with the stream's last event as "now", times
--repeat times each:

  series, all sources     `queries.series(store, now - 7d, now)`: the chart (hourly rollups, 168 windows)
  series, one source      the same with `source=`, for each source in turn
  recent alerts           `queries.recent_alerts(store, window_after=now - 7d)`
  sources                 `queries.sources(store)`: the source picker
  7-day view              all of the above that one page load runs: series (all), recent alerts, sources
  GET /v1/series …        the dashboard's own endpoints for a 7-day view (series, per source, alerts, sources,
                          the page, the chart PNG) through FastAPI's TestClient, when textsift.monitor.dashboard
                          exists; the chart's repeats are served by its PNG cache, so it is timed once more
                          with the cache emptied before each request (drawn by matplotlib every time)

The first call of each is reported apart (cold statement cache) and p50 / p95 are over the other --repeat calls.
Also the insert rate and the database's size on disk. SQLite always; PostgreSQL when --postgres names a
throwaway server whose user may CREATE DATABASE (the script creates one and drops it). Results:
benchmarks/out/monitor/dashboard.json and markdown tables on stdout. Goal: 7-day view p95 ≤ 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from monitor_ingest import DATA, OUT, fresh_url, real_texts, server_version
from tqdm import tqdm

LABELS = ("negative", "neutral", "positive")
END_TS = 1_779_926_400  # the stream's end ("now"), 2026-05-28 00:00 UTC; earlier events spread back --days days
WEEK = 7 * 86400
SURGES = ((2, 1, 0, 0.6), (4, 2, 1, 0.7), (5, 0, 0, 0.6))  # days before the end, source, label, its share then
RULES = ("share(negative) > baseline + 3 sigma over 1h, min 20",
         "share(negative) > baseline by cusum(k=0.5, h=5) over 1h, min 20, source source-1",
         "share(neutral) > baseline by ewma(lambda=0.3, L=3) over 1h, min 20, source source-2",
         "share(negative) > 0.5 over 1h, min 20")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=5000, help="events per Store.add transaction")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", help="URL of a throwaway PostgreSQL server whose user may CREATE DATABASE")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (DATA / "train.csv").is_file():
        sys.exit(f"{DATA / 'train.csv'} missing: .venv/bin/textsift data fetch movie-snippets --out {DATA}")
    results: dict[str, Any] = {"setup": {**vars(args), "load_before": os.getloadavg(),
                                         "postgres": server_version(args.postgres)}}
    for kind in ["sqlite"] + (["postgresql"] if args.postgres else []):
        with fresh_url(kind, args.postgres, "dashboard") as url:
            results[kind] = run(kind, url, args)
    results["setup"]["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dashboard.json").write_text(json.dumps(results, indent=2) + "\n")
    report(results)


# ------------------------------------------------------------------------------------------------ the store


def synthetic(args: argparse.Namespace) -> Iterator[list[Any]]:
    """Batches of Scored rows in event-time order: per-source label shares, surges planted in the last week."""
    from textsift.monitor.store import Scored

    rng = np.random.default_rng(args.seed)
    texts = real_texts(20_000)
    hashes = {t: hashlib.sha256(t.encode()).hexdigest() for t in set(texts)}
    start = END_TS - args.days * 86400
    ts = np.sort(rng.uniform(start, END_TS, args.events))
    src = rng.integers(0, args.sources, args.events)
    shares = np.array([[0.2 + 0.02 * s, 0.3, 0.5 - 0.02 * s] for s in range(args.sources)])
    answer = np.empty(args.events, dtype=np.int64)
    for s in range(args.sources):
        rows = np.flatnonzero(src == s)
        answer[rows] = rng.choice(3, size=len(rows), p=shares[s])
    for day, source, label, share in SURGES:  # that label drawn with probability `share` for 6 hours
        at = np.flatnonzero((ts >= END_TS - day * 86400) & (ts < END_TS - day * 86400 + 6 * 3600)
                            & (src == source % args.sources))
        answer[at] = np.where(rng.random(len(at)) < share, label, answer[at])
    top = rng.uniform(0.5, 1.0, args.events)
    split = rng.uniform(0.0, 1.0, args.events)
    for first in range(0, args.events, args.batch_size):
        batch = []
        for i in range(first, min(first + args.batch_size, args.events)):
            a, rest = int(answer[i]), 1.0 - top[i]
            others = [j for j in range(3) if j != a]
            probs = {a: top[i], others[0]: rest * split[i], others[1]: rest * (1 - split[i])}
            text = texts[i % len(texts)]
            batch.append(Scored(f"source-{src[i]}", f"e{i}", float(ts[i]), text, hashes[text], [LABELS[a]],
                                round(float(top[i]), 6), {LABELS[j]: round(float(probs[j]), 6) for j in range(3)}))
        yield batch


def fill(store: Any, args: argparse.Namespace) -> dict[str, float]:
    stored, seconds = 0, 0.0
    with tqdm(total=args.events, desc="Store.add", unit="event", mininterval=2.0) as bar:
        for batch in synthetic(args):
            started = time.perf_counter()  # only the store's time: building the rows is not the store's cost
            stored += store.add(batch, model="synthetic", model_version="0").stored
            seconds += time.perf_counter() - started
            bar.update(len(batch))
    assert stored == args.events, (stored, args.events)
    return {"events": stored, "store_add_s": seconds, "events_per_s": stored / seconds}


def db_bytes(kind: str, store: Any, url: str) -> int:
    if kind == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with store.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


# ------------------------------------------------------------------------------------------------ timing


def timed(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    ms = np.array(samples) * 1000
    return {"first_ms": first * 1000, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max())}


def run(kind: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    from textsift.monitor import queries
    from textsift.monitor.alerting import add_rule, evaluate
    from textsift.monitor.store import Store

    store = Store(url)
    out: dict[str, Any] = {"insert": fill(store, args)}
    for rule in RULES:
        add_rule(store, rule)
    started = time.perf_counter()
    out["alerts_fired"] = sum(e.status == "firing" for e in evaluate(store))
    out["evaluate_s"] = time.perf_counter() - started
    store.close()
    store = Store(url)  # a fresh engine, as a dashboard process starting on an existing store has
    out["db_bytes"] = db_bytes(kind, store, url)
    now = float(store.watermark() or END_TS)
    start = now - WEEK
    checks = queries.series(store, start, now)
    out["series_windows"], out["series_width"] = len(checks.starts), checks.width
    out["alerts_in_view"] = len(queries.recent_alerts(store, window_after=start))
    names = queries.sources(store)

    def view() -> None:
        queries.series(store, start, now)
        queries.recent_alerts(store, window_after=start)
        queries.sources(store)

    timings = {"series, all sources": timed(lambda: queries.series(store, start, now), args.repeat)}
    per_source = [timed(lambda s=s: queries.series(store, start, now, source=s), args.repeat) for s in names]
    timings["series, one source"] = {k: statistics.median(t[k] for t in per_source) for k in per_source[0]}
    timings["recent alerts"] = timed(lambda: queries.recent_alerts(store, window_after=start), args.repeat)
    timings["sources"] = timed(lambda: queries.sources(store), args.repeat)
    timings["7-day view (series + alerts + sources)"] = timed(view, args.repeat)
    timings |= http_timing(store, url, args.repeat)
    out["timings"] = timings
    store.close()
    return out


def http_timing(store: Any, url: str, repeat: int) -> dict[str, dict[str, float]]:
    """The dashboard's GETs for a 7-day view through FastAPI's TestClient, when textsift.monitor.dashboard exists.

    The app gets the open store and no model (GETs read only the store), standing in for the pipeline it serves.
    """
    try:
        from textsift.monitor.dashboard import create_app  # written in parallel; absent in some trees
    except ImportError as e:
        print(f"no HTTP timing: textsift.monitor.dashboard does not import ({e})", file=sys.stderr)
        return {}
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from textsift.monitor.charts import PngCache
    from textsift.monitor.config import MonitorServeConfig

    app = create_app("unused", MonitorServeConfig(db=url), pipeline=SimpleNamespace(store=store, model="synthetic"))
    out = {}
    with TestClient(app) as client:
        for path in ("/v1/series?since=7d", "/v1/series?since=7d&source=source-1", "/v1/alerts?since=7d",
                     "/v1/sources", "/?since=7d", "/chart.png?since=7d"):

            def get(path: str = path) -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.text[:200])

            out[f"GET {path}"] = timed(get, repeat)

        def drawn_afresh() -> None:  # what every chart request cost before the PNG cache
            app.state.charts = PngCache()
            assert client.get("/chart.png?since=7d").headers["x-chart-cache"] == "miss"

        if hasattr(app.state, "charts"):
            out["GET /chart.png?since=7d, cache emptied before each"] = timed(drawn_afresh, repeat)
    return out


# ------------------------------------------------------------------------------------------------ report


def report(results: dict[str, Any]) -> None:
    setup = results["setup"]
    print(f"\n{setup['events']:,} events, {setup['sources']} sources, {setup['days']} days, batches of "
          f"{setup['batch_size']}; {setup['repeat']} timed calls each after a first one\n")
    print("| store | Store.add events/s | fill time | on disk | alerts fired (evaluate over all history) |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("sqlite", "postgresql"):
        if kind in results:
            r = results[kind]
            print(f"| {kind} | {r['insert']['events_per_s']:,.0f} | {r['insert']['store_add_s'] / 60:.1f} min | "
                  f"{r['db_bytes'] / 2**20:,.0f} MiB | {r['alerts_fired']} ({r['evaluate_s']:.1f} s) |")
    print("\n| store | query (7-day view) | first ms | p50 ms | p95 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|")
    for kind in ("sqlite", "postgresql"):
        for name, t in results.get(kind, {}).get("timings", {}).items():
            print(f"| {kind} | {name} | {t['first_ms']:.1f} | {t['p50_ms']:.1f} | {t['p95_ms']:.1f} | "
                  f"{t['max_ms']:.1f} |")
    view = results["sqlite"]["timings"]["7-day view (series + alerts + sources)"]["p95_ms"]
    print(f"\nGoal: 7-day view p95 ≤ 100 ms on SQLite — {view:.1f} ms ({'met' if view <= 100 else 'NOT met'}). "
          f"Series: {results['sqlite']['series_windows']} windows of {results['sqlite']['series_width']} s; "
          f"alerts in view: {results['sqlite']['alerts_in_view']}. Load average before/after: "
          f"{setup['load_before'][0]:.1f} / {setup['load_after'][0]:.1f}.")


if __name__ == "__main__":
    main()
