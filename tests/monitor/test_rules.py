"""The one-line rule language: what each form means, and one clear error for each malformed rule."""

from __future__ import annotations

import re

import pytest

from textsift.errors import TextsiftError
from textsift.monitor.rules import parse_rule


def test_the_issues_zscore_rule_reads_as_a_rise_of_three_sigmas_over_an_hour() -> None:
    rule = parse_rule("share(negative) > baseline + 3 sigma over 1h, min 20")
    assert (rule.metric, rule.label, rule.rising, rule.detector, rule.threshold) == ("share", "negative", True,
                                                                                      "zscore", 3.0)
    assert (rule.window, rule.min_volume, rule.source, rule.baseline_windows) == (3600, 20, None, 24)


def test_options_set_cooldown_source_baseline_and_clear() -> None:
    rule = parse_rule("mean(positive) < baseline - 2.5 sigma over 30m, min 5, cooldown 2h, source reuters, "
                      "baseline 48 windows, clear 3 windows")
    assert (rule.metric, rule.rising, rule.window, rule.cooldown) == ("mean", False, 1800, 7200)
    assert (rule.source, rule.baseline_windows, rule.clear_windows, rule.min_volume) == ("reuters", 48, 3, 5)


def test_sequential_detectors_take_their_parameters_or_documented_defaults() -> None:
    assert parse_rule("share(neg) > baseline by cusum over 1h").params == {"k": 0.5, "h": 5.0}
    assert parse_rule("share(neg) > baseline by cusum(h=8) over 1h").params == {"k": 0.5, "h": 8.0}
    assert parse_rule("share(neg) > baseline by ewma(lambda=0.2, L=2.8) over 1d").params == {"lambda": 0.2, "L": 2.8}
    assert parse_rule("share(neg) > baseline by ewma over 1h").params == {"lambda": 0.4, "L": 3.054}


def test_a_number_bound_is_a_threshold_without_baseline() -> None:
    rule = parse_rule("share(negative) > 0.4 over 1h")
    assert (rule.detector, rule.threshold, rule.needs_baseline) == ("threshold", 0.4, False)


@pytest.mark.parametrize(("text", "says"), [
    ("negative > 0.4 over 1h", "expected METRIC(LABEL)"),
    ("share(negative) > 0.4", "expected METRIC(LABEL)"),
    ("share(negative) > baseline - 3 sigma over 1h", "a rise is"),
    ("share(negative) > baseline by cusum(q=1) over 1h", "cusum takes"),
    ("share(negative) > banana over 1h", "unknown bound"),
    ("share(negative) > 0.4 over 90s", "whole number of minutes"),
    ("share(negative) > 0.4 over 0h", "not a duration"),
    ("share(negative) > 0.4 over 1h, loud", "unknown option"),
    ("share(negative) > baseline by ewma(lambda=2) over 1h", "lambda must be"),
])
def test_a_malformed_rule_is_one_line_naming_the_problem(text: str, says: str) -> None:
    with pytest.raises(TextsiftError, match=re.escape(says)) as caught:
        parse_rule(text)
    assert "\n" not in str(caught.value) and "e.g." in str(caught.value)
