"""What the live dashboard and the static report both draw: the chart of a Series with its alerts, and the HTML
around it.

Decision: server-rendered PNG charts (matplotlib, already a core dependency) instead of a vendored npm chart
library. The same code draws the live dashboard's chart and the report's embedded one, so they cannot drift apart;
installing or building textsift needs no Node toolchain and ships no minified JavaScript; and the server reads only
the rollups, never the events, so a chart costs the same whatever the stream's volume. The price is that the chart
is an image (no hover read-outs): the alerts list beside it carries the exact numbers.

Figures are made with matplotlib's object API (no pyplot): no global figure state and no GUI backend, which the
server needs, as it draws from worker threads.
"""

from __future__ import annotations

import functools
import io
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from textsift._optional import require
from textsift.monitor.evidence import iso
from textsift.monitor.queries import Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIRING, RESOLVED = "#dc2626", "#6b7280"
_GREEN, _RED = (22, 163, 74), (220, 38, 38)
_WIDTH_NAMES = {60: "minute", 3600: "hour", 86400: "day"}
# Text layout and the font cache are shared by every figure and not thread-safe: the server draws one at a time.
_DRAWING = threading.Lock()


def chart_png(series: Series, alerts: Sequence[dict[str, Any]] = (), *, start: float | None = None,
              end: float | None = None, title: str = "") -> bytes:
    """The chart of `series` with `alerts` marked on it, as PNG bytes (see `draw`)."""
    with _DRAWING:
        fig = draw(series, alerts, start=start, end=end, title=title)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()


class PngCache:
    """The last `size` charts drawn, by what they show: a hit costs a dict lookup instead of 0.6-1 s of matplotlib.

    The caller's key names the query and the store's state (latest event row, alerts and their status), so a new
    event or alert change draws afresh. Entries also expire after `ttl_s`: on PostgreSQL a batch from another
    process can commit after one with higher row ids, leaving the latest row unchanged.
    """

    def __init__(self, size: int = 32, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl_s, self.clock = size, ttl_s, clock
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, draw_png: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The PNG for `key`, drawn by `draw_png` unless cached; and whether it came from the cache."""
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] < self.ttl_s:
                self._entries.move_to_end(key)
                return found[1], True
        png = draw_png()  # outside the lock: other keys are served meanwhile (drawing has its own lock)
        with self._lock:
            self._entries[key] = (now, png)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return png, False


def draw(series: Series, alerts: Sequence[dict[str, Any]] = (), *, start: float | None = None,
         end: float | None = None, title: str = "") -> Figure:
    """Shares per label over time (top: stacked areas, lines where labels overlap, the mean value for regression),
    events per window (bottom), and each alert as a span over its window: red while firing, grey once resolved.

    Args:
        series: What `queries.series` returned.
        alerts: Alerts as `queries.recent_alerts` returns them; those outside the time range are left out.
        start: Left edge of the time axis (epoch seconds); default the first window.
        end: Right edge; default the end of the last window.
        title: Drawn above the chart.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.2), dpi=100, layout="constrained")
    if not series.starts:
        fig.suptitle(title or "textsift monitor", fontsize=13)
        fig.text(0.5, 0.55, "no events yet", ha="center", va="center", fontsize=26, color="#6b7280")
        fig.text(0.5, 0.42, "POST events to /v1/ingest or run `textsift monitor ingest`", ha="center", va="center",
                 fontsize=11, color="#9ca3af")
        return fig
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    x = [_time(s) for s in series.starts]
    _draw_shares(top, series)
    unit = _WIDTH_NAMES.get(series.width, f"{series.width} s")
    bottom.bar(x, series.volume, width=series.width / 86400, align="edge", color="#93c5fd", edgecolor="#3b82f6",
               linewidth=0.5)
    bottom.set_ylabel(f"events / {unit}")
    # The range, widened to whole windows: the first one may begin before it, the latest ends after its event.
    low = min(series.starts[0], start if start is not None else math.inf)
    high = max(series.starts[-1] + series.width, end if end is not None else -math.inf)
    shown = [a for a in alerts if _span(a)[0] < high and _span(a)[1] > low]
    for ax in (top, bottom):
        _mark_alerts(ax, shown, low, annotate=ax is top)
        ax.grid(True, color="#e5e7eb", linewidth=0.6)
        ax.set_axisbelow(True)
    top.set_xlim(_time(low), _time(high))
    _format_time_axis(bottom)
    top.set_title(title or f"{sum(series.volume)} events, per {unit}", fontsize=12)
    return fig


def _draw_shares(ax: Axes, series: Series) -> None:
    """Stacked shares for single-label answers; lines where shares overlap (multi-label); means for regression."""
    labels = sorted(series.shares)
    regression = not any(any(v) for v in series.shares.values())
    overlapping = any(sum(series.shares[lab][i] for lab in labels) > 1 + 1e-6 for i in range(len(series.starts)))
    colours = _colours(len(labels))
    values = series.means if regression else series.shares
    x, ys = _steps(series.starts, series.width, [values[lab] for lab in labels])
    if regression or overlapping:
        for lab, y, colour in zip(labels, ys, colours, strict=True):
            ax.plot(x, y, drawstyle="steps-post", color=colour, linewidth=1.6, label=lab)
    else:
        ax.stackplot(x, ys, labels=labels, colors=colours, alpha=0.85, step="post")
    if regression:
        ax.set_ylabel("mean value")
    else:
        ax.set(ylim=(0, 1.02 if overlapping else 1), ylabel="share of events")
    # Beside the plot, not on it: alert ids sit at the top of the plot, often at its edges.
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)


def _steps(starts: list[int], width: int, rows: list[list[float]]) -> tuple[list[float], list[list[float]]]:
    """Each window's value held across the window (for `steps-post`), and a gap (NaN) where windows without
    events are missing from the series, so a quiet night is not drawn as a slope between its neighbours."""
    x: list[float] = []
    ys: list[list[float]] = [[] for _ in rows]
    for i, begin in enumerate(starts):
        x.append(_time(begin))
        for y, row in zip(ys, rows, strict=True):
            y.append(row[i])
        if i + 1 == len(starts) or starts[i + 1] != begin + width:
            x += [_time(begin + width)] * 2  # close the run's last window, then break the line
            for y, row in zip(ys, rows, strict=True):
                y += [row[i], math.nan]
    return x, ys


def _mark_alerts(ax: Axes, alerts: Sequence[dict[str, Any]], low: float, *, annotate: bool) -> None:
    for alert in alerts:
        colour = FIRING if alert["status"] == "firing" else RESOLVED
        begin, finish = _span(alert)
        ax.axvspan(_time(begin), _time(finish), color=colour, alpha=0.14, linewidth=0)
        ax.axvline(_time(begin), color=colour, linewidth=1.4)
        if annotate:  # at the span's visible start: an episode that began before the range is labelled too
            label = ax.annotate(f"#{alert['id']}", xy=(_time(max(begin, low)), 1), xycoords=("data", "axes fraction"),
                                xytext=(3, -12), textcoords="offset points", color=colour, fontsize=9,
                                fontweight="bold")
            label.set_in_layout(False)


def _span(alert: dict[str, Any]) -> tuple[float, float]:
    """From the first window that fired to the end of the episode (its first window while still firing)."""
    return alert["window_start_ts"], alert.get("resolved_window_end_ts") or alert["window_end_ts"]


def _format_time_axis(ax: Axes) -> None:
    from matplotlib import dates

    locator = dates.AutoDateLocator(tz=UTC)
    ax.xaxis_date(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("UTC")


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(n)]


def _time(ts: float) -> float:
    """Epoch seconds as matplotlib's date number (days since its epoch)."""
    from matplotlib import dates

    return float(dates.date2num(datetime.fromtimestamp(ts, UTC)))


def shown_range(watermark: float | None, span_s: float) -> tuple[float, float] | None:
    """[start, end) of the last `span_s` seconds of the stream, counted back from its latest event (not the clock,
    so a replayed historical stream shows); None before the first event."""
    if watermark is None:
        return None
    end = watermark + 1  # rollup windows are [start, end): keep the latest event's own window
    return end - span_s, end


def highlight(text: str | None, words: Sequence[Sequence[Any]] | None, top: int = 5) -> list[dict[str, str]]:
    """`text` cut into plain runs and its `top` most attributed words, each with a background (green: towards
    the explained label, red: away) and its attribution as a title; `words` is an example's [[word, score], …]."""
    if not text:
        return [{"text": "(text not stored)", "style": "", "title": ""}]
    words = list(words or [])
    strongest = sorted((i for i, w in enumerate(words) if w[1]), key=lambda i: -abs(words[i][1]))[:top]
    scale = max((abs(words[i][1]) for i in strongest), default=1.0) or 1.0
    out, written, cursor = [], 0, 0
    for i, (word, score) in enumerate(words):
        found = text.find(word, cursor) if word else -1
        if found < 0:
            continue  # a word the text does not spell the same way (normalised): leave it plain
        cursor = found + len(word)
        if i not in strongest:
            continue
        if found > written:
            out.append({"text": text[written:found], "style": "", "title": ""})
        r, g, b = _GREEN if score > 0 else _RED
        out.append({"text": word, "style": f"background: rgba({r}, {g}, {b}, {0.25 + 0.6 * abs(score) / scale:.2f})",
                    "title": f"{score:+.3f}"})
        written = cursor
    if written < len(text):
        out.append({"text": text[written:], "style": "", "title": ""})
    return out


def render_html(template: str, **context: Any) -> str:
    """Render one of the package's templates (autoescaped) with the monitor's helpers."""
    return _environment().get_template(template).render(**context)


def render_macro(template: str, macro: str, **arguments: Any) -> str:
    """One macro of a template, rendered alone (the dashboard's alerts list, refreshed in place)."""
    return str(getattr(_environment().get_template(template).module, macro)(**arguments))


@functools.cache
def _environment() -> Any:
    jinja2 = require("jinja2", extra="monitor")
    env = jinja2.Environment(loader=jinja2.PackageLoader("textsift", "templates"), autoescape=True)
    env.globals.update(highlight=highlight, iso=iso)
    return env
