"""Each detector against values worked out by hand from the formulas in textsift.monitor.detectors."""

from __future__ import annotations

import math

import pytest

from textsift.monitor.detectors import State, Window, baseline, step
from textsift.monitor.rules import parse_rule

# Four quiet windows of 100 events with 20, 20, 30 and 30 negatives: pooled p0 = 0.25.
QUIET = [[100, 20, 0.0, 0.0], [100, 20, 0.0, 0.0], [100, 30, 0.0, 0.0], [100, 30, 0.0, 0.0]]


def window(n: int, hits: int, total: float = 0.0, total2: float = 0.0) -> Window:
    return Window(0, n, hits, total, total2)


def test_baseline_pools_the_share_and_adds_between_window_variance() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, baseline 4 windows")
    p0, sigma = baseline(rule, QUIET, 50)
    smoothed = 100.5 / 401  # half an event either way
    v0 = smoothed * (1 - smoothed)
    between = (4 * 0.05**2) / 3  # window shares 0.2, 0.2, 0.3, 0.3 around 0.25
    tau2 = between - v0 / 100
    assert p0 == pytest.approx(0.25)
    assert sigma == pytest.approx(math.sqrt(v0 / 50 + tau2))


def test_baseline_of_a_mean_uses_the_within_window_variance_from_the_square_sums() -> None:
    rule = parse_rule("mean(valence) > baseline + 3 sigma over 1h")
    windows = [[10, 0, 5.0, 3.0], [10, 0, 5.0, 3.0]]  # mean 0.5, E[x^2] 0.3: variance 0.05, no between part
    p0, sigma = baseline(rule, windows, 20)
    assert p0 == pytest.approx(0.5)
    assert sigma == pytest.approx(math.sqrt(0.05 / 20))


def test_zscore_fires_on_a_doubled_share_and_keeps_that_window_out_of_the_baseline() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, min 20, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET])
    p0, sigma = baseline(rule, QUIET, 100)
    decided = step(rule, state, window(100, 50))
    assert decided is not None and decided.fired
    assert decided.z == pytest.approx((0.5 - p0) / sigma)
    assert state.baseline == QUIET  # frozen during the episode


def test_zscore_stays_quiet_inside_the_noise_and_learns_the_window() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET])
    decided = step(rule, state, window(100, 28))
    assert decided is not None and not decided.fired
    assert state.baseline[-1] == [100, 28, 0.0, 0.0] and len(state.baseline) == 4  # the oldest one left


def test_a_fall_rule_negates_z() -> None:
    rule = parse_rule("share(negative) < baseline - 3 sigma over 1h, baseline 4 windows")
    decided = step(rule, State(baseline=[list(w) for w in QUIET]), window(100, 2))
    assert decided is not None and decided.fired and decided.z is not None and decided.z > 3


def test_cusum_accumulates_z_minus_k_and_fires_past_h() -> None:
    rule = parse_rule("share(negative) > baseline by cusum(k=0.5, h=5) over 1h, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET])
    p0, sigma = baseline(rule, QUIET, 100)
    first = step(rule, state, window(100, 35))
    s1 = max(0.0, (0.35 - p0) / sigma - 0.5)
    assert first is not None and first.statistic == pytest.approx(s1) and not first.fired
    learned = [*QUIET[1:], [100, 35, 0.0, 0.0]]  # a quiet window joins the baseline, the oldest leaves
    assert state.baseline == learned
    p0, sigma = baseline(rule, learned, 100)
    second = step(rule, state, window(100, 60))
    s2 = s1 + (0.6 - p0) / sigma - 0.5
    assert second is not None and second.statistic == pytest.approx(s2) and second.fired == (s2 > 5)


def test_cusum_never_goes_below_zero_and_starts_again_after_a_signal() -> None:
    rule = parse_rule("share(negative) > baseline by cusum(k=0.5, h=5) over 1h, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET])
    assert step(rule, state, window(100, 24)).statistic == 0.0  # type: ignore[union-attr]
    p0, sigma = baseline(rule, state.baseline, 100)
    signal = step(rule, state, window(100, 90))
    assert signal is not None and signal.fired and signal.statistic == pytest.approx((0.9 - p0) / sigma - 0.5)
    assert state.statistic == 0.0


def test_no_window_joins_the_baseline_while_an_episode_is_open() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET], open_alert=7)
    decided = step(rule, state, window(100, 26))
    assert decided is not None and not decided.fired and state.baseline == QUIET


def test_ewma_smooths_z_and_fires_past_its_asymptotic_limit() -> None:
    rule = parse_rule("share(negative) > baseline by ewma(lambda=0.3, L=3) over 1h, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET])
    p0, sigma = baseline(rule, QUIET, 100)
    limit = 3 * math.sqrt(0.3 / 1.7)
    first = step(rule, state, window(100, 50))
    e1 = 0.3 * (0.5 - p0) / sigma
    assert first is not None and first.statistic == pytest.approx(e1)
    assert first.fired == (e1 > limit)
    second = step(rule, state, window(100, 50))  # a fired window stays out of the baseline: same p0 and sigma
    assert second is not None and second.statistic == pytest.approx(0.3 * (0.5 - p0) / sigma + 0.7 * e1)
    assert second.fired


def test_threshold_compares_the_share_itself() -> None:
    rule = parse_rule("share(negative) > 0.4 over 1h, min 10")
    assert step(rule, State(), window(10, 5)).fired  # type: ignore[union-attr]
    assert not step(rule, State(), window(10, 4)).fired  # type: ignore[union-attr]


def test_a_window_under_the_minimum_volume_decides_nothing_and_changes_nothing() -> None:
    rule = parse_rule("share(negative) > baseline by cusum over 1h, min 20, baseline 4 windows")
    state = State(baseline=[list(w) for w in QUIET], statistic=1.5)
    assert step(rule, state, window(19, 19)) is None
    assert state.statistic == 1.5 and state.baseline == QUIET


def test_nothing_is_decided_before_a_quarter_of_the_baseline_is_seen() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, baseline 24 windows")
    state = State()
    decisions = [step(rule, state, window(100, 90)) for _ in range(6)]
    assert [d.decided for d in decisions if d] == [False] * 6
    assert len(state.baseline) == 6
    assert step(rule, state, window(100, 90)).decided  # type: ignore[union-attr]
