"""Normalisation: NFKC, markup, control characters, whitespace, each counted; the offline language identifier."""

from __future__ import annotations

from textsift.data.normalise import language, normalise


def test_nfkc_folds_compatibility_characters() -> None:
    text, changes = normalise("ﬁne ＡＢＣ ①")
    assert text == "fine ABC 1"
    assert changes == {"nfkc": 1}


def test_zero_width_and_control_characters_are_removed() -> None:
    text, changes = normalise("pay\u200bment\x07 due\ufeff")
    assert text == "payment due"
    assert changes == {"control": 1}


def test_whitespace_runs_become_one_space() -> None:
    assert normalise("  a\t\tb \n\n c  ") == ("a b c", {"whitespace": 1})


def test_markup_becomes_its_visible_text() -> None:
    text, changes = normalise("<p>Great <b>film</b>.</p><p>Loved it &amp; more</p><script>x=1</script>",
                              markup=True)
    assert text == "Great film. Loved it & more"
    assert changes["markup"] == 1


def test_markup_is_left_alone_unless_asked() -> None:
    assert normalise("<p>hi</p>")[0] == "<p>hi</p>"


def test_a_clean_text_reports_no_change() -> None:
    assert normalise("Nothing to do here.", markup=True) == ("Nothing to do here.", {})


def test_characters_off_keeps_the_text_as_it_is() -> None:
    assert normalise("a  ｂ", characters=False) == ("a  ｂ", {})


def test_language_is_identified_offline() -> None:
    assert language("The service was quick and the staff were friendly.")[0] == "en"
    assert language("Der Service war schnell und das Personal war freundlich.")[0] == "de"
    code, probability = language("Le service était rapide et le personnel aimable.")
    assert code == "fr" and 0.5 < probability <= 1.0
