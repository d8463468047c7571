"""The tests a rule runs on each closed window, against a rolling baseline of earlier windows.

Every detector sees the window's metric x (a label's share, or its mean score) and, except the threshold, its
z-score against the baseline: the last B windows that were quiet (windows of an episode stay out of it, so a long
surge never becomes the new normal) and had at least the rule's minimum volume.

    p0     = pooled baseline metric: sum(hits) / sum(n) for a share, sum(total) / sum(n) for a mean
    v0     = per-event variance: p0 (1 - p0) for a share, sum(total2) / sum(n) - p0^2 for a mean
    tau^2  = max(0, var(baseline x) - mean(v0 / n_b)): how much more windows differ than sampling explains
    sigma  = sqrt(v0 / n + tau^2), n the window's volume
    z      = (x - p0) / sigma, negated for a rule watching for a fall

    zscore      fires when z > K
    cusum(k,h)  S = max(0, S + z - k), fires when S > h and then starts again from 0 (so a surge that goes on
                keeps firing every window or two, and one that ends lets the episode resolve at once); k is half
                the shift (in sigmas) it is tuned to catch fastest, h sets the false-alarm rate (k=0.5, h=5: one
                false alarm in about 900 quiet windows of a normal z)
    ewma(l,L)   E = l z + (1 - l) E, fires when E > L sqrt(l / (2 - l)), the asymptotic sigma of E
    threshold   fires when x passes the rule's number; no baseline

While an episode is open, no window joins the baseline, whether it fires or not: the surge's calmer windows
would otherwise teach the baseline the surge. A window under the minimum volume is skipped: it neither fires, nor
moves a statistic, nor joins the baseline. A detector decides nothing until a quarter of its baseline (two windows
at least) has been seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from textsift.monitor.rules import Rule

_TINY = 1e-12


@dataclass
class Window:
    """A closed window's rollup for the rule's scope: events, events with the label, score sums."""

    start: int
    n: int
    hits: int
    total: float
    total2: float


@dataclass
class Step:
    """What a detector made of one window."""

    fired: bool
    value: float  # the window's metric
    statistic: float  # threshold: the metric; zscore: z; cusum: S; ewma: E
    baseline: float | None = None
    sigma: float | None = None
    z: float | None = None
    decided: bool = True  # False while the baseline is still warming up


@dataclass
class State:
    """What a rule carries from window to window (stored as JSON with the rule)."""

    baseline: list[list[float]] = field(default_factory=list)  # [n, hits, total, total2] of quiet windows
    statistic: float = 0.0
    open_alert: int | None = None
    quiet_until: int = 0  # cool-down: no new alert for windows starting before this
    quiet_windows: int = 0  # quiet windows in a row while an episode is open

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "statistic": self.statistic, "open_alert": self.open_alert,
                "quiet_until": self.quiet_until, "quiet_windows": self.quiet_windows}


def metric(rule: Rule, n: float, hits: float, total: float) -> float:
    return (hits if rule.metric == "share" else total) / n


def step(rule: Rule, state: State, window: Window) -> Step | None:
    """Run the rule's detector on a closed window, updating `state`; None for a window under the minimum volume."""
    if window.n < rule.min_volume:
        return None
    x = metric(rule, window.n, window.hits, window.total)
    if rule.detector == "threshold":
        assert rule.threshold is not None
        return Step(fired=x > rule.threshold if rule.rising else x < rule.threshold, value=x, statistic=x)
    if len(state.baseline) < max(2, rule.baseline_windows // 4):
        _remember(rule, state, window)
        return Step(fired=False, value=x, statistic=state.statistic, decided=False)
    p0, sigma = baseline(rule, state.baseline, window.n)
    z = (x - p0) / sigma * (1 if rule.rising else -1)
    fired, statistic = _decide(rule, state, z)
    if not fired and state.open_alert is None:
        _remember(rule, state, window)
    return Step(fired=fired, value=x, statistic=statistic, baseline=p0, sigma=sigma, z=z)


def baseline(rule: Rule, windows: list[list[float]], n: int) -> tuple[float, float]:
    """The pooled baseline metric p0 and the sigma of a window of `n` events around it (see the module doc)."""
    total_n = sum(w[0] for w in windows)
    if rule.metric == "share":
        p0 = sum(w[1] for w in windows) / total_n
        # Half an event either way keeps a label never (or always) seen from having zero variance.
        smoothed = (sum(w[1] for w in windows) + 0.5) / (total_n + 1)
        v0 = smoothed * (1 - smoothed)
    else:
        p0 = sum(w[2] for w in windows) / total_n
        v0 = max(sum(w[3] for w in windows) / total_n - p0 * p0, _TINY)
    xs = [metric(rule, w[0], w[1], w[2]) for w in windows]
    mean_x = sum(xs) / len(xs)
    between = sum((x - mean_x) ** 2 for x in xs) / (len(xs) - 1)
    tau2 = max(0.0, between - sum(v0 / w[0] for w in windows) / len(windows))
    return p0, math.sqrt(v0 / n + tau2)


def _decide(rule: Rule, state: State, z: float) -> tuple[bool, float]:
    if rule.detector == "zscore":
        assert rule.threshold is not None
        return z > rule.threshold, z
    if rule.detector == "cusum":
        k, h = rule.params["k"], rule.params["h"]
        statistic = max(0.0, state.statistic + z - k)
        state.statistic = 0.0 if statistic > h else statistic  # restart after a signal
        return statistic > h, statistic
    lam, width = rule.params["lambda"], rule.params["L"]
    state.statistic = lam * z + (1 - lam) * state.statistic
    return state.statistic > width * math.sqrt(lam / (2 - lam)), state.statistic


def _remember(rule: Rule, state: State, window: Window) -> None:
    state.baseline.append([window.n, window.hits, window.total, window.total2])
    del state.baseline[:-rule.baseline_windows]
