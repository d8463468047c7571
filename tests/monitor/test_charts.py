"""The monitor's chart: what each kind of model's series is drawn as, alerts on the timeline, empty data."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from matplotlib import colors
from matplotlib.collections import PolyCollection

from textsift.monitor.charts import FIRING, RESOLVED, chart_png, draw, highlight, shown_range
from textsift.monitor.queries import Series

T0 = 1_772_323_200  # 2026-03-01T00:00:00Z


def binary_series() -> Series:
    """Three hours of a negative/positive model: shares sum to 1 in each window."""
    return Series(3600, [T0, T0 + 3600, T0 + 7200], [10, 20, 5],
                  {"negative": [0.2, 0.5, 0.8], "positive": [0.8, 0.5, 0.2]},
                  {"negative": [0.25, 0.5, 0.7], "positive": [0.75, 0.5, 0.3]})


def alert(alert_id: int, status: str, start: int, end: int, resolved: int | None = None) -> dict[str, Any]:
    return {"id": alert_id, "status": status, "window_start_ts": start, "window_end_ts": end,
            "resolved_window_end_ts": resolved}


def held(line: Any) -> list[float]:
    return [v for v in line.get_ydata() if not math.isnan(v)]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])  # the IHDR chunk: width, height


def test_chart_png_is_a_1000_by_520_png() -> None:
    assert png_size(chart_png(binary_series())) == (1000, 520)


def test_single_label_shares_are_stacked_areas_one_per_label() -> None:
    top = draw(binary_series()).axes[0]
    areas = [c for c in top.collections if isinstance(c, PolyCollection)]
    assert len(areas) == 2
    assert top.get_ylim() == (0, 1)
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["negative", "positive"]


def test_multi_label_shares_that_overlap_are_lines_not_stacked() -> None:
    shares = {"bug": [0.7, 0.6], "ui": [0.5, 0.9], "docs": [0.1, 0.0]}  # sums over 1: labels overlap
    top = draw(Series(3600, [T0, T0 + 3600], [10, 10], shares, shares)).axes[0]
    assert not [c for c in top.collections if isinstance(c, PolyCollection)]
    # Each window's share held across the window: one value per window start, the last repeated at its end.
    assert {line.get_label(): held(line) for line in top.get_lines()} == {
        "bug": [0.7, 0.6, 0.6], "docs": [0.1, 0.0, 0.0], "ui": [0.5, 0.9, 0.9]}


def test_regression_draws_the_mean_value() -> None:
    shown = Series(3600, [T0, T0 + 3600], [4, 6], {"valence": [0.0, 0.0]}, {"valence": [1.25, -0.5]})
    top = draw(shown).axes[0]
    (line,) = top.get_lines()
    assert held(line) == [1.25, -0.5, -0.5]
    assert top.get_ylabel() == "mean value"


def test_windows_without_events_break_the_line() -> None:
    shares = {"bug": [0.7, 0.6], "ui": [0.5, 0.9]}
    (line, _) = draw(Series(3600, [T0, T0 + 3 * 3600], [10, 10], shares, shares)).axes[0].get_lines()
    y = list(line.get_ydata())
    assert y[:2] == [0.7, 0.7] and math.isnan(y[2]) and y[3:5] == [0.6, 0.6]


def test_volume_bars_have_the_series_volume() -> None:
    bottom = draw(binary_series()).axes[1]
    assert [bar.get_height() for bar in bottom.patches] == [10, 20, 5]
    assert bottom.get_ylabel() == "events / hour"


def test_alerts_are_marked_with_their_id_in_their_status_colour() -> None:
    alerts = [alert(7, "firing", T0 + 7200, T0 + 10800), alert(3, "resolved", T0, T0 + 3600, T0 + 7200)]
    top = draw(binary_series(), alerts).axes[0]
    marks = {t.get_text(): colors.to_hex(t.get_color()) for t in top.texts}
    assert marks == {"#7": FIRING, "#3": RESOLVED}


def test_alerts_outside_the_time_range_are_left_out() -> None:
    alerts = [alert(1, "resolved", T0 - 86400, T0 - 82800, T0 - 79200), alert(2, "firing", T0, T0 + 3600)]
    top = draw(binary_series(), alerts, start=T0, end=T0 + 10800).axes[0]
    assert [t.get_text() for t in top.texts] == ["#2"]


def test_an_empty_series_draws_no_events_yet() -> None:
    empty = Series(3600, [], [], {}, {})
    fig = draw(empty)
    assert "no events yet" in [t.get_text() for t in fig.texts]
    assert not fig.axes
    assert png_size(chart_png(empty)) == (1000, 520)


def test_range_counts_back_from_the_latest_event() -> None:
    assert shown_range(None, 3600) is None
    assert shown_range(T0 + 100.5, 3600) == (T0 + 101.5 - 3600, T0 + 101.5)


def test_highlight_marks_the_most_attributed_words_and_keeps_the_text() -> None:
    text = "A dull, dreary film."
    words = [["A", 0.01], ["dull,", 0.9], ["dreary", 0.6], ["film.", -0.3]]
    parts = highlight(text, words, top=2)
    assert "".join(p["text"] for p in parts) == text
    assert [(p["text"], p["title"]) for p in parts if p["style"]] == [("dull,", "+0.900"), ("dreary", "+0.600")]


@pytest.mark.parametrize("words", [None, []])
def test_highlight_without_attributions_is_the_plain_text(words: Any) -> None:
    assert highlight("A dull film.", words) == [{"text": "A dull film.", "style": "", "title": ""}]
