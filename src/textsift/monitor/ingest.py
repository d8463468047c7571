"""`textsift monitor ingest` and `replay`: a file, stdin or a growing file through the pipeline in batches.

An event is acknowledged when its batch's transaction commits; a process killed at any moment has stored whole
batches only, and run again over the same input it skips what is stored (the model is not even run on it).
At larger scale the same loop is the consumer of a message queue: read a batch, `Pipeline.ingest` it, then
commit the queue offset. The store's (source, id) key makes redelivered messages harmless.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from textsift.errors import TextsiftError
from textsift.monitor.config import IngestConfig, ReplayConfig
from textsift.monitor.models import scoring_folder
from textsift.monitor.outbox import Change
from textsift.monitor.pipeline import Pipeline, Totals
from textsift.monitor.store import Added, Store
from textsift.monitor.stream import Event, events
from textsift.monitor.webhooks import Deliverer

log = logging.getLogger("textsift")


def ingest(model_dir: Path | str, path: Path | str, cfg: IngestConfig | None = None) -> Totals:
    """Score and store every event of `path` ('-' for stdin); with cfg.workers > 1, in that many processes."""
    cfg = cfg or IngestConfig()
    if cfg.workers > 1:
        if str(path) == "-" or cfg.follow:
            raise TextsiftError("--workers splits a whole file between processes; use one worker for stdin or --follow")
        return _in_workers(Path(model_dir), Path(path), cfg)
    return _run(Path(model_dir), path, cfg, shard=None)


def replay(model_dir: Path | str, path: Path | str, cfg: ReplayConfig | None = None) -> Totals:
    """Feed a timestamped file to the pipeline as if it were arriving live, `cfg.speed` times faster."""
    cfg = cfg or ReplayConfig()
    return _run(Path(model_dir), path, cfg, shard=None, paced=cfg.speed)


def _run(model_dir: Path, path: Path | str, cfg: IngestConfig, shard: tuple[int, int] | None,
         paced: float | None = None) -> Totals:
    pipeline = Pipeline(model_dir, cfg)
    deliverer = Deliverer(pipeline.store).start()
    totals = Totals(model=pipeline.described)
    stream: Iterable[Event | None] = events(path, source=cfg.source, follow=cfg.follow, poll_s=cfg.poll_s)
    if shard is not None:
        stream = (e for e in stream if e is None or _shard_of(e, shard[1]) == shard[0])
    if paced is not None:
        stream = _paced(stream, paced)
    interrupted = False
    try:
        _store_while_scoring(pipeline, _batches(_progress(stream, path, cfg, shard), cfg.batch_size), totals)
    except KeyboardInterrupt:
        interrupted = True
        log.info("interrupted; every batch stored so far is kept")
    finally:
        left = deliverer.stop(drain_s=cfg.deliver_timeout_s)
        if left:
            log.warning("%d webhook message(s) still pending; the next monitor process sends them", left)
        # A finite input waits here, after its last batch, for the alerts' words; an interrupted one leaves them
        # pending for the next monitor process.
        pipeline.close(drain=not interrupted)
    log.info("stored %d events, %d already there, %d alert change(s)", totals.stored, totals.duplicates,
             len(totals.alerts))
    return totals


def _store_while_scoring(pipeline: Pipeline, batches: Iterable[list[Event]], totals: Totals) -> None:
    """Score batch k+1 while a writer thread stores batch k and evaluates the rules: the model never waits on the
    database. A batch counts (is acknowledged) once its commit returns; a kill loses at most the batch in flight,
    which the next run reads again."""
    from concurrent.futures import Future, ThreadPoolExecutor

    def tally(done: Future[tuple[Added, list[Change]]]) -> None:
        added, alerts = done.result()
        totals.stored, totals.duplicates = totals.stored + added.stored, totals.duplicates + added.duplicates
        totals.alerts += alerts

    with ThreadPoolExecutor(1, thread_name_prefix="textsift-store") as writer:
        writing: Future[tuple[Added, list[Change]]] | None = None
        for batch in batches:
            prepared = pipeline.prepare(batch)
            if writing is not None:
                tally(writing)
            writing = writer.submit(pipeline.commit, prepared)
        if writing is not None:
            tally(writing)


def _batches(stream: Iterable[Event | None], size: int) -> Iterator[list[Event]]:
    """Batches of `size`; a None (a quiet poll of a followed file) sends what is there early."""
    batch: list[Event] = []
    for event in stream:
        if event is not None:
            batch.append(event)
        if batch and (event is None or len(batch) >= size):
            yield batch
            batch = []
    if batch:
        yield batch


def _paced(stream: Iterable[Event | None], speed: float) -> Iterator[Event | None]:
    """Release each event when its turn comes at `speed`× event time; None after a wait, so batches flush."""
    first_ts, started = None, time.monotonic()
    for event in stream:
        if event is None or speed == 0:
            yield event
            continue
        first_ts = event.ts if first_ts is None else first_ts
        wait = (event.ts - first_ts) / speed - (time.monotonic() - started)
        if wait > 0.05:
            yield None  # store what has arrived before sleeping
            time.sleep(wait)
        yield event


def _progress(stream: Iterable[Event | None], path: Path | str, cfg: IngestConfig,
              shard: tuple[int, int] | None) -> Iterable[Event | None]:
    if str(path) == "-" or cfg.follow or shard is not None:
        return stream
    from tqdm import tqdm

    return tqdm(stream, desc="ingest", unit="event", mininterval=1.0)


def _shard_of(event: Event, shards: int) -> int:
    return zlib.crc32(f"{event.source}\x1f{event.id}".encode()) % shards


def _in_workers(model_dir: Path, path: Path, cfg: IngestConfig) -> Totals:
    Store(cfg.db).close()  # create the schema once, before the workers race to
    model_dir, described = scoring_folder(model_dir, cfg.int8)  # and export once, not once per worker
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no forked ORT or torch threads
    with context.Pool(cfg.workers) as pool:
        parts = pool.starmap(_worker, [(model_dir, path, cfg, k) for k in range(cfg.workers)])
    totals = Totals(model=described)
    for stored, duplicates, alerts in parts:
        totals.stored, totals.duplicates = totals.stored + stored, totals.duplicates + duplicates
        log.info("worker stored %d events, %d alert change(s)", stored, alerts)
    return totals


def _worker(model_dir: Path, path: Path, cfg: IngestConfig, k: int) -> tuple[int, int, int]:
    cores = sorted(os.sched_getaffinity(0))
    mine = cores[k::cfg.workers] or cores  # each worker its own cores; the model sizes its threads to them
    os.sched_setaffinity(0, mine)
    os.environ["OMP_NUM_THREADS"] = str(len(mine))  # read by torch when a torch folder loads it
    totals = _run(model_dir, path, replace(cfg, workers=1), shard=(k, cfg.workers))
    return totals.stored, totals.duplicates, len(totals.alerts)
