from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import copy_model, run_cli
from textsift import Classifier, TextsiftError, explain, load
from textsift.data.io import read_table
from textsift.explanation.attribution import deletion_test, remove_words, words_from_pieces
from textsift.modeling.settings import update_settings


@pytest.fixture(scope="module")
def clf(full_model: Path) -> Classifier:
    return load(full_model)


def test_attributions_sum_to_the_logit_change_from_the_pad_baseline(clf: Classifier) -> None:
    text = "the plot is thin but the acting is superb"
    e = explain(clf, text, steps=32)
    # Recompute both ends of the path independently: the text, and its tokens with every word piece set to [PAD].
    ids = clf.encode([text])[0]
    pad = clf.tokenizer.pad_token_id
    baseline = [ids[0]] + [pad] * (len(ids) - 2) + [ids[-1]]
    t = clf.labels.index(e.label)
    logit, baseline_logit = clf.logits_from_ids([ids, baseline])[:, t]
    assert e.logit == pytest.approx(logit, abs=1e-4) and e.baseline_logit == pytest.approx(baseline_logit, abs=1e-4)
    change = float(logit - baseline_logit)
    assert sum(e.scores) == pytest.approx(change, abs=0.02 * abs(change) + 1e-3)
    assert abs(e.delta) < 0.02 * abs(change) + 1e-3


def test_word_pieces_are_summed_into_words(clf: Classifier) -> None:
    tokenizer = clf.tokenizer
    text = "Unbelievably, the cinematography isn't bad."
    enc = tokenizer(text)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    assert pieces[1:6] == ["un", "##bel", "##ie", "##va", "##bly"]  # one word, five pieces
    token_scores = np.arange(len(pieces), dtype=float)  # score of a piece = its position
    n_words = max(w for w in enc.word_ids() if w is not None) + 1
    spans, scores = words_from_pieces(enc.word_ids(), [enc.word_to_chars(w) for w in range(n_words)], token_scores)
    assert [text[a:b] for a, b in spans] == ["Unbelievably", ",", "the", "cinematography", "isn", "'", "t", "bad", "."]
    assert scores[:3] == [1 + 2 + 3 + 4 + 5, 6, 7]  # [CLS] (position 0) and [SEP] belong to no word
    assert len(scores) == n_words and sum(scores) == sum(range(1, len(pieces) - 1))


def test_words_are_substrings_of_the_text_the_model_read(clf: Classifier) -> None:
    e = explain(clf, "  A DAZZLING,  heart-felt   film!", steps=2)
    assert e.text == "A DAZZLING, heart-felt film!"  # as the folder's cleaning left it: spaces normalised
    assert e.words == ["A", "DAZZLING", ",", "heart", "-", "felt", "film", "!"]
    assert all(e.text[a:b] == w for (a, b), w in zip(e.spans, e.words, strict=True)) and len(e.scores) == len(e.words)


def test_an_unnormalised_folder_explains_the_text_as_given(clf: Classifier) -> None:
    import dataclasses

    clf = dataclasses.replace(clf, settings=dataclasses.replace(clf.settings, cleaning=None))
    text = "  A DAZZLING,  heart-felt   film!"
    e = explain(clf, text, steps=2)
    assert e.text == text and all(text[a:b] == w for (a, b), w in zip(e.spans, e.words, strict=True))


def test_target_class_can_be_chosen_and_its_probability_uses_the_temperature(full_model: Path) -> None:
    clf = load(full_model)
    clf.settings.temperature = 0.5
    text = "a tedious, overlong mess"
    proba = clf.predict_proba([text])[0]
    for i, label in enumerate(clf.labels):
        e = explain(clf, text, steps=2, target=label)
        assert e.label == label and e.probability == pytest.approx(float(proba[i]), abs=1e-5)


def test_unknown_target_class_is_refused(clf: Classifier) -> None:
    with pytest.raises(TextsiftError, match="unknown target class 'neutral'; the model's classes are negative, posit"):
        explain(clf, "a tedious, overlong mess", steps=2, target="neutral")


def test_explanation_to_dict_is_json_safe(clf: Classifier) -> None:
    e = explain(clf, "fine", steps=2)
    back = json.loads(json.dumps(e.to_dict()))
    assert back["words"] == ["fine"] and back["label"] == e.label and back["spans"] == [[0, 4]]
    assert set(back) >= {"text", "words", "scores", "label", "probability", "delta"}


def test_onnx_model_folder_is_refused_with_a_pointer_to_the_torch_folder(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "onnx")
    update_settings(folder, backend="onnx")
    with pytest.raises(TextsiftError, match="ONNX model folder .*pass the torch model folder"):
        explain(folder, "a fine film")


def test_loaded_onnx_classifier_is_refused() -> None:
    from types import SimpleNamespace

    onnx_like = SimpleNamespace(session=object(), labels=["a", "b"], settings={"backend": "onnx"})
    with pytest.raises(TextsiftError, match="ONNX model has not; load the torch model folder"):
        explain(onnx_like, "a fine film")  # type: ignore[arg-type]


def test_deleting_top_attributed_words_hurts_more_than_deleting_random_words(head_model: Path, data_dir: Path) -> None:
    clf = load(head_model)  # the trained head (~80% accurate); the 1-epoch full model is barely better than chance
    texts = read_table(data_dir / "validation.csv").texts[:12]
    result = deletion_test(clf, [explain(clf, t, steps=8) for t in texts], k=3, seed=0)
    assert result["n"] == 12
    assert result["top_drop"] > 0.02 and result["top_drop"] > result["random_drop"] + 0.02


def test_remove_words_cuts_exact_words_and_collapses_spaces(clf: Classifier) -> None:
    e = explain(clf, "not bad , really good", steps=2)
    assert remove_words(e, [0, 2]) == "bad really good"


def test_cli_explain_prints_the_words_and_writes_html(full_model: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    html = tmp_path / "out.html"
    assert run_cli(monkeypatch, "explain", str(full_model), "the acting is <superb>", "--html", str(html),
                   "--steps", "4") == 0
    out = capsys.readouterr().out
    assert "the acting is <superb>" in out and "4 steps" in out and "delta" in out
    page = html.read_text()
    assert "&lt;" in page and "<superb>" not in page  # the text is escaped, not injected
    assert page.count('title="') == 6 and "rgba(" in page  # one hover score per word: the acting is < superb >
