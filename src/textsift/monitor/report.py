"""`textsift monitor report`: one static HTML page over a range of the stream, self-contained (the chart is
embedded), to mail or archive: shares over time, volume, a per-label summary and the alerts with their examples.

It reads what the dashboard reads (the rollups and the alerts, never all events), and draws the same chart.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from textsift import files
from textsift.monitor.charts import chart_png, render_html, shown_range
from textsift.monitor.config import MonitorReportConfig, seconds
from textsift.monitor.evidence import iso
from textsift.monitor.queries import Series, recent_alerts, series, sources, width_for
from textsift.monitor.store import Store


def write_report(cfg: MonitorReportConfig) -> Path:
    """Write the report of the last `cfg.since` of the stream (counted back from its latest event) to `cfg.out`,
    atomically; returns its path."""
    span = seconds(cfg.since)  # a malformed range stops here, before the store is opened
    out = files.writable_file(cfg.out)
    store = Store(cfg.db, create=False)
    try:
        page = render_html("monitor_report.html.j2", **_context(store, cfg, span))
    finally:
        store.close()
    return files.write_text(out, page)


def _context(store: Store, cfg: MonitorReportConfig, span: int) -> dict[str, Any]:
    watermark = store.watermark()
    bounds = shown_range(watermark, span)
    title = f"{cfg.source or 'all sources'}, last {cfg.since}"
    context: dict[str, Any] = {"since": cfg.since, "source": cfg.source, "watermark": watermark, "bounds": bounds,
                               "alerts": [], "labels": [], "volumes": [], "totals": None}
    if bounds is None:
        context["chart"] = _data_uri(chart_png(Series(width_for(span), [], [], {}, {}), title=title))
        return context
    shown = series(store, *bounds, source=cfg.source)
    alerts = recent_alerts(store, window_after=bounds[0], source=cfg.source)
    context.update(alerts=alerts, labels=label_summary(shown), totals=volume_summary(shown),
                   regression=bool(shown.means) and not any(any(v) for v in shown.shares.values()),
                   chart=_data_uri(chart_png(shown, alerts, start=bounds[0], end=bounds[1], title=title)))
    if cfg.source is None:
        context["volumes"] = [(name, sum(series(store, *bounds, source=name, width=shown.width).volume))
                              for name in sources(store)]
    return context


def label_summary(shown: Series) -> list[dict[str, Any]]:
    """Per label over the whole range: events answered with it, their share, the lowest and highest window share,
    and the mean score (a regression's mean value)."""
    n = sum(shown.volume)
    rows = []
    for label in sorted(shown.shares):
        shares, means = shown.shares[label], shown.means[label]
        hits = sum(round(share * v) for share, v in zip(shares, shown.volume, strict=True))
        rows.append({"label": label, "hits": hits, "share": hits / n if n else 0.0,
                     "low": min(shares, default=0.0), "high": max(shares, default=0.0),
                     "mean": sum(m * v for m, v in zip(means, shown.volume, strict=True)) / n if n else 0.0})
    return rows


def volume_summary(shown: Series) -> dict[str, Any]:
    """Events in the range, windows that had any, and the busiest window."""
    if not shown.starts:
        return {"events": 0, "windows": 0, "width": shown.width, "busiest": None, "busiest_events": 0}
    busiest = max(range(len(shown.starts)), key=lambda i: shown.volume[i])
    return {"events": sum(shown.volume), "windows": len(shown.starts), "width": shown.width,
            "busiest": iso(shown.starts[busiest]), "busiest_events": shown.volume[busiest]}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
