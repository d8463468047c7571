"""`textsift monitor serve`: POST /v1/ingest scores and stores events; / is a live dashboard over the rollups.

    POST /v1/ingest     {"events": [{"id", "ts", "source", "text"}, …]} -> {"stored", "duplicates", "alerts"}
    GET  /v1/series     shares, means and volume per window       ?since=7d&source=…&width=3600
    GET  /v1/alerts     alerts whose window is in the range        ?since=7d&source=…
    GET  /v1/sources    the sources seen
    GET  /chart.png     the chart of /v1/series with its alerts    ?since=7d&source=…
    GET  /              the dashboard; /alerts.html its alerts list alone, which the page polls into place
    GET  /healthz, /metrics

A batch is acknowledged (200) only once its transaction has committed: a client that got no answer sends the batch
again, and the store's (source, id) key makes the replay harmless. Batches run one at a time per process (the
store would serialise their transactions anyway), in a worker thread, so the dashboard stays responsive meanwhile.
Ranges are counted back from the store's latest event time, not the wall clock, so a replayed stream shows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from textsift._optional import require
from textsift.errors import DataError, MissingExtraError, TextsiftError
from textsift.monitor.charts import PngCache, chart_png, render_html, render_macro, shown_range
from textsift.monitor.config import MonitorServeConfig, seconds
from textsift.monitor.evidence import iso
from textsift.monitor.outbox import Change as AlertEvent
from textsift.monitor.pipeline import Pipeline
from textsift.monitor.queries import Series, recent_alerts, series, sources, width_for
from textsift.monitor.store import WIDTHS, Store
from textsift.monitor.stream import Event, parse
from textsift.monitor.webhooks import Deliverer

try:  # the server is the [serve] extra's: without it, the pip command in one line instead of a traceback
    from fastapi import APIRouter, FastAPI, Query, Request
    from fastapi.responses import HTMLResponse, Response
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

    from textsift.serving.http import ApiError, BodyGuard, Metrics, Observe, install_error_handlers
except ImportError as e:
    raise MissingExtraError(e.name or "fastapi", "serve") from None

log = logging.getLogger("textsift")
EVENT_BYTES = 16 * 1024  # body limit per allowed event: far above a review or a ticket, far below a memory risk
RANGES = ("24h", "7d", "30d")
MAX_POINTS = 10_000  # windows in one /v1/series answer
router = APIRouter()
Since = Annotated[str, Query(max_length=16, description="How much of the stream: 24h, 7d …, counted back from its "
                                                        "latest event.")]
Source = Annotated[str | None, Query(max_length=200, description="Only this source; default all of them.")]


class EventIn(BaseModel):
    """One event; only `text` is required (the same fields as a line of `monitor ingest`)."""

    model_config = ConfigDict(extra="forbid")
    id: StrictStr | StrictInt | None = Field(None, description="Default: a hash of (source, ts, text).")
    ts: StrictInt | StrictFloat | StrictStr | None = Field(None, description="Epoch seconds or ISO 8601 (UTC "
                                                                             "unless it says); default: now.")
    source: StrictStr | None = Field(None, description="Default: the server's --source.")
    text: StrictStr


class IngestRequest(BaseModel):
    """A batch of events, stored in one transaction."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [
        {"id": "t-1", "ts": "2026-03-01T09:30:00Z", "source": "support", "text": "The update broke my login"}]}]})
    events: list[EventIn] = Field(min_length=1)


def serve(model_dir: Path | str, cfg: MonitorServeConfig | None = None) -> None:
    """Serve POST /v1/ingest and the dashboard on cfg.host:cfg.port until interrupted."""
    cfg = cfg or MonitorServeConfig()
    uvicorn = require("uvicorn", extra="serve")
    if cfg.workers > 1:
        raise TextsiftError("monitor serve scores in one process; for more throughput run several servers on the "
                            "same --db (the store keeps them consistent) behind a load balancer")
    uvicorn.run(create_app(model_dir, cfg), host=cfg.host, port=cfg.port, access_log=False, log_level="info")


def create_app(model_dir: Path | str, cfg: MonitorServeConfig, pipeline: Pipeline | None = None) -> FastAPI:
    """The ASGI app; pass `pipeline` to reuse a model and store already open in this process (then not closed)."""
    from textsift import __version__

    require("jinja2", extra="monitor")  # the pages' templates: refuse to start rather than fail on the first view
    metrics = Metrics()
    app = FastAPI(title="textsift monitor", version=__version__, lifespan=_lifespan, redoc_url=None,
                  description='Errors are `{"error": {"code": ..., "message": ...}}`.')
    app.state.cfg, app.state.owned = cfg, pipeline is None
    app.state.pipeline = pipeline or Pipeline(Path(model_dir), cfg)
    app.state.metrics, app.state.ingest_lock, app.state.charts = metrics, threading.Lock(), PngCache()
    app.include_router(router)
    install_error_handlers(app, metrics)
    app.add_middleware(BodyGuard, limit=cfg.max_events * EVENT_BYTES, metrics=metrics)
    endpoints = {getattr(route, "path", "") for route in router.routes} | {"/docs", "/openapi.json"}
    app.add_middleware(Observe, metrics=metrics, endpoints=endpoints)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    store: Store = app.state.pipeline.store
    deliverer = Deliverer(store).start()
    try:
        yield
    finally:
        left = await asyncio.to_thread(deliverer.stop, app.state.cfg.deliver_timeout_s)
        if left:
            log.warning("%d webhook message(s) still pending; the next monitor process sends them", left)
        if app.state.owned:
            app.state.pipeline.close(drain=False)  # words still pending are attributed by the next process


@router.post("/v1/ingest")
async def ingest(body: IngestRequest, request: Request) -> dict[str, Any]:
    """Score and store a batch, evaluate the rules; answered once the batch's transaction has committed."""
    state = request.app.state
    if len(body.events) > state.cfg.max_events:
        raise ApiError(422, "too_many_events", f"{len(body.events)} events in one request; the limit is "
                                               f"{state.cfg.max_events}")
    batch = [_event(e, i, state.cfg.source) for i, e in enumerate(body.events)]
    added, alerts = await asyncio.to_thread(_ingest_serially, state, batch)
    return {"stored": added.stored, "duplicates": added.duplicates, "alerts": [_short(a) for a in alerts]}


@router.get("/v1/series")
def get_series(request: Request, since: Since = "7d", source: Source = None, width: int | None = None
               ) -> dict[str, Any]:
    """Per window: volume, and per label its share and mean score (only windows with events)."""
    store = _store(request)
    bounds = _bounds(store, since)
    found = _series(store, bounds, since, source or None, width)
    start, end = bounds or (None, None)
    return {"since": since, "source": source or None, "start": start, "end": end, **asdict(found)}


@router.get("/v1/alerts")
def get_alerts(request: Request, since: Since = "7d", source: Source = None) -> dict[str, Any]:
    """Alerts whose window ends inside the range, newest first, with their evidence and webhook status."""
    return _alerts(_store(request), since, source or None)


@router.get("/v1/sources")
def get_sources(request: Request) -> dict[str, list[str]]:
    """Every source the store has seen."""
    return {"sources": sources(_store(request))}


@router.get("/chart.png", response_class=Response)
def chart(request: Request, since: Since = "7d", source: Source = None) -> Response:
    """Shares (or the mean value) over time, volume below, alerts marked."""
    store, source = _store(request), source or None
    view = _alerts(store, since, source)
    bounds = (view["start"], view["end"]) if view["start"] is not None else None

    def draw() -> bytes:
        found = _series(store, bounds, since, source, None)
        return chart_png(found, view["alerts"], start=view["start"], end=view["end"],
                         title=f"{source or 'all sources'}, last {since}")

    # The image changes only with the query, the stored events and the alerts: draw it once per such state.
    key = (since, source, store.latest_row(), view["key"])
    png, hit = request.app.state.charts.get(key, draw)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store",
                                                          "x-chart-cache": "hit" if hit else "miss"})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request, since: Since = "7d", source: Source = None) -> HTMLResponse:
    """The dashboard: filters, the chart and the alerts, polled into place every cfg.refresh_s seconds."""
    state, source = request.app.state, source or None
    view = _alerts(state.pipeline.store, since, source)
    nonce = secrets.token_urlsafe(16)
    html = render_html(
        "monitor.html.j2", model=state.pipeline.model, since=since, source=source, alerts=view["alerts"],
        ranges=RANGES if since in RANGES else (*RANGES, since), key=view["key"], summary=view["summary"],
        sources=sorted({*sources(state.pipeline.store), *([source] if source else [])}), nonce=nonce,
        query=urlencode({"since": since, **({"source": source} if source else {})}),
        refresh_s=f"{state.cfg.refresh_s:g}", refresh_ms=round(state.cfg.refresh_s * 1000))
    # Only this page's own script runs; images, polls and the filter form stay on this server.
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self'; "
              "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    return HTMLResponse(html, headers={"content-security-policy": policy, "cache-control": "no-store"})


@router.get("/alerts.html", response_class=HTMLResponse, include_in_schema=False)
def alerts_part(request: Request, since: Since = "7d", source: Source = None) -> HTMLResponse:
    """The dashboard's alerts list alone, as the page shows it."""
    alerts = _alerts(_store(request), since, source or None)["alerts"]
    return HTMLResponse(render_macro("_monitor.html.j2", "alerts_list", alerts=alerts),
                        headers={"cache-control": "no-store"})


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """Liveness: the process answers (the model is loaded before the server listens)."""
    return {"status": "ok", "model": request.app.state.pipeline.model}


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format: requests by endpoint and status, latency, errors."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _event(raw: EventIn, index: int, source: str) -> Event:
    """One request event through the same checks as a file's line; a 422 names its index in `events`."""
    try:
        event = parse(raw.model_dump(exclude_none=True), "request", index + 1, source)
        for value in (event.text, event.source, event.id):
            value.encode("utf-8")  # JSON can carry lone surrogates, which neither tokenizer nor database take
    except DataError as e:
        raise ApiError(422, "invalid_event", f"events[{index}]: {str(e).split(': ', 1)[-1]}") from None
    except UnicodeEncodeError:
        raise ApiError(422, "invalid_event", f"events[{index}]: not valid Unicode (lone surrogate)") from None
    return event


def _ingest_serially(state: Any, batch: list[Event]) -> tuple[Any, list[AlertEvent]]:
    # Taken in the worker thread, not the event loop: a request cancelled while waiting for its thread cannot
    # release the lock under a batch that is still being stored.
    with state.ingest_lock:
        return state.pipeline.ingest(batch)


def _short(alert: AlertEvent) -> dict[str, Any]:
    e = alert.evidence
    return {"id": alert.alert_id, "status": alert.status, "rule_id": alert.rule.id, "rule": e["rule"],
            "window_start": e["window_start"], "window_end": e["window_end"], "value": e["value"]}


def _store(request: Request) -> Store:
    return request.app.state.pipeline.store


def _span(since: str) -> int:
    try:
        return seconds(since)
    except TextsiftError as e:
        raise ApiError(422, "invalid_since", f"since: {e}") from None


def _bounds(store: Store, since: str) -> tuple[float, float] | None:
    return shown_range(store.watermark(), _span(since))


def _series(store: Store, bounds: tuple[float, float] | None, since: str, source: str | None,
            width: int | None) -> Series:
    if width is not None and width not in WIDTHS:
        raise ApiError(422, "invalid_width", f"width {width}: the rollups are {', '.join(map(str, WIDTHS))} s wide")
    span = _span(since)
    if width is not None and span / width > MAX_POINTS:
        raise ApiError(422, "too_many_points", f"{since} in {width} s windows is over {MAX_POINTS} points; "
                                               "ask for a wider width or a shorter range")
    if bounds is None:
        return Series(width or width_for(span), [], [], {}, {})
    return series(store, *bounds, source=source, width=width)


def _alerts(store: Store, since: str, source: str | None) -> dict[str, Any]:
    """The alerts of the range and what the page shows about it; `key` changes whenever the page should redraw."""
    watermark = store.watermark()
    bounds = shown_range(watermark, _span(since))
    alerts = [] if bounds is None else recent_alerts(store, window_after=bounds[0], source=source)
    start, end = bounds or (None, None)
    # An alert's words arrive after it (attributions.Explainer): their arrival redraws the list too.
    key = f"{watermark}|" + ",".join(f"{a['id']}:{a['status']}:{_words_status(a)}" for a in alerts)
    summary = f"latest event {iso(watermark)}" if watermark is not None else "no events yet"
    return {"since": since, "source": source, "watermark": watermark, "start": start, "end": end, "key": key,
            "summary": summary, "alerts": alerts}


def _words_status(alert: dict[str, Any]) -> str:
    return str((alert["evidence"].get("attributions") or {}).get("status", ""))
