"""Each task end to end on a tiny real run: save, load, predict, export (fp32 and int8 parity), serve, explain."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import run_cli
from tests.serving.helpers import serving
from textsift import evaluate, explain, export, load, predict, report
from textsift.config import DataConfig
from textsift.data.batching import pad
from textsift.data.io import read_table
from textsift.inference.rank import rank
from textsift.tasks.multilabel import sigmoid


@pytest.fixture(scope="module")
def exported(multilabel_model: Path, regression_model: Path, pair_model: Path,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fp32 and int8 ONNX folders of each task's model."""
    out = tmp_path_factory.mktemp("task-exports")
    folders = {}
    for name, model in (("multi-label", multilabel_model), ("regression", regression_model), ("pair", pair_model)):
        folders[f"{name}-fp32"] = export(model, out / f"{name}-fp32")
        folders[f"{name}-int8"] = export(model, out / f"{name}-int8", quantize="int8")
    return folders


# Multi-label ------------------------------------------------------------------------------------------------------
def test_multi_label_folder_stores_tuned_thresholds_and_a_sigmoid_config(multilabel_model: Path) -> None:
    settings = json.loads((multilabel_model / "textsift.json").read_text())
    config = json.loads((multilabel_model / "config.json").read_text())
    assert settings["task"] == "multi-label" and len(settings["thresholds"]) == len(settings["labels"]) == 5
    assert settings["thresholds"] != [0.5] * 5  # tuned on the validation slice, not left at the fallback
    assert config["problem_type"] == "multi_label_classification"


def test_multi_label_predictions_are_the_labels_over_their_thresholds(multilabel_model: Path, debtags_dir: Path,
                                                                      tmp_path: Path) -> None:
    model = load(multilabel_model)
    texts = read_table(debtags_dir / "test.csv", DataConfig(label_column="tags", label_sep=";")).texts
    proba, cut = model.scores(texts), np.array(model.settings.thresholds)
    expected = [{model.labels[i] for i in np.flatnonzero(row >= cut)} for row in proba]
    assert [set(labels) for labels in model.predict(texts)] == expected
    predict(multilabel_model, debtags_dir / "test.csv", tmp_path / "p.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [set(r["labels"]) for r in rows] == expected


def test_multi_label_thresholds_are_honoured_after_export(multilabel_model: Path, exported: dict[str, Path],
                                                          debtags_dir: Path) -> None:
    texts = read_table(debtags_dir / "test.csv", DataConfig(label_column="tags", label_sep=";")).texts
    torch_model, onnx_model = load(multilabel_model), load(exported["multi-label-fp32"])
    assert onnx_model.settings.thresholds == torch_model.settings.thresholds
    assert onnx_model.predict(texts) == torch_model.predict(texts)
    parity = onnx_model.settings.parity or {}
    assert parity["fp32"]["label_agreement"] == 1.0 and parity["fp32"]["max_abs_logit_diff"] < 1e-3
    int8 = load(exported["multi-label-int8"])
    cut = np.array(torch_model.settings.thresholds)
    assert int8.settings.thresholds == torch_model.settings.thresholds
    assert [set(p) for p in int8.predict(texts)] == [{int8.labels[i] for i in np.flatnonzero(row >= cut)}
                                                     for row in int8.scores(texts)]
    assert 0.0 <= (int8.settings.parity or {})["int8"]["label_agreement"] <= 1.0


def test_multi_label_evaluate_reports_micro_macro_samples_f1_and_hamming_loss(multilabel_model: Path,
                                                                               debtags_dir: Path,
                                                                               tmp_path: Path) -> None:
    metrics = evaluate(multilabel_model, debtags_dir / "test.csv", tmp_path)
    assert {"micro", "macro", "samples", "subset_accuracy", "hamming_loss", "per_label"} <= set(metrics)
    assert 0 <= metrics["hamming_loss"] <= 1 and metrics["n"] == 20
    assert (tmp_path / "label_scores.png").stat().st_size > 0 and (tmp_path / "threshold_curve.png").is_file()


def test_plain_transformers_pipeline_applies_a_sigmoid(multilabel_model: Path, debtags_dir: Path) -> None:
    from transformers import pipeline

    text = read_table(debtags_dir / "test.csv", DataConfig(label_column="tags", label_sep=";")).texts[0]
    pipe = pipeline("text-classification", model=str(multilabel_model), trust_remote_code=True, top_k=None)
    scores = {r["label"]: r["score"] for r in pipe([text])[0]}
    model = load(multilabel_model)
    expected = sigmoid(model.logits([text]))[0]
    assert [scores[name] for name in model.labels] == pytest.approx(expected.tolist(), abs=1e-5)


def test_multi_label_serve_answers_with_the_label_set(multilabel_model: Path, debtags_dir: Path) -> None:
    model = load(multilabel_model)
    text = read_table(debtags_dir / "test.csv", DataConfig(label_column="tags", label_sep=";")).texts[0]
    with serving(multilabel_model, model) as client:
        answer = client.post("/v1/predict", json={"text": text, "top_k": 2}).json()["predictions"][0]
        assert client.get("/v1/models").json()["models"][0]["thresholds"] == model.settings.thresholds
    assert answer["labels"] == model.predict([text])[0] and len(answer["top_k"]) == 2 and "label" not in answer


# Regression -------------------------------------------------------------------------------------------------------
def test_regression_outputs_are_in_the_targets_units(regression_model: Path, data_dir: Path) -> None:
    model = load(regression_model)
    scaling = model.settings.target_scaling or {}
    valence = read_table(data_dir / "train.csv", DataConfig(label_column="valence")).labels or []
    train = np.array([float(v) for v in valence if isinstance(v, str)])
    assert scaling["mean"] == pytest.approx(train.mean()) and scaling["std"] == pytest.approx(train.std())
    texts = read_table(data_dir / "test.csv").texts
    values = np.array(model.predict(texts))
    assert values == pytest.approx(model.logits(texts)[:, 0] * scaling["std"] + scaling["mean"], abs=1e-5)
    assert scaling["std"] > 1.5  # ratings spread over -4..4: the raw outputs would be far too narrow


def test_regression_evaluate_uses_the_training_target_column(regression_model: Path, data_dir: Path,
                                                            tmp_path: Path) -> None:
    metrics = evaluate(regression_model, data_dir / "test.csv", tmp_path)  # no --label-column: valence, as trained
    assert metrics["target"] == "valence" and metrics["n"] == 30
    assert metrics["pearson"] > 0.3  # two epochs on 240 snippets already track the valence
    assert (tmp_path / "scatter.png").stat().st_size > 0


def test_regression_export_compares_values(regression_model: Path, exported: dict[str, Path],
                                           data_dir: Path) -> None:
    texts = read_table(data_dir / "test.csv").texts
    expected = np.array(load(regression_model).predict(texts))
    assert np.array(load(exported["regression-fp32"]).predict(texts)) == pytest.approx(expected, abs=1e-3)
    int8 = load(exported["regression-int8"])
    assert np.abs(np.array(int8.predict(texts)) - expected).max() < 0.5
    assert "label_agreement" in (int8.settings.parity or {})["int8"]


def test_regression_explanation_attributes_the_predicted_value(regression_model: Path) -> None:
    e = explain(regression_model, "a warm, funny and gripping film", steps=16)
    assert e.label == "valence"
    assert e.probability == pytest.approx(load(regression_model).predict(["a warm, funny and gripping film"])[0],
                                          abs=1e-4)
    assert sum(e.scores) == pytest.approx(e.logit - e.baseline_logit, abs=abs(e.delta) + 1e-3)


def test_regression_report_shows_a_scatter_and_residuals_instead_of_a_confusion_matrix(
        regression_model: Path, data_dir: Path, tmp_path: Path) -> None:
    page = report(regression_model, data_dir / "test.csv", tmp_path, errors=2, deletion_texts=4, steps=4)
    html = page.read_text()
    assert (tmp_path / "scatter.png").is_file() and (tmp_path / "length_buckets.png").is_file()
    assert not (tmp_path / "confusion_matrix.png").exists() and not (tmp_path / "reliability.png").exists()
    assert "Pearson r" in html and "mean residual" in html and "Largest errors" in html


# Pairs ------------------------------------------------------------------------------------------------------------
def test_pair_encoding_gives_token_type_ids_that_reach_the_model(pair_model: Path) -> None:
    import torch

    model: Any = load(pair_model)
    pair = ("how do I install a package?", "Use apt install followed by the package name.")
    ids = model.encode([pair])
    reference = model.tokenizer(*pair, truncation=True, max_length=model.max_length)
    batch = pad(ids, model.tokenizer.pad_token_id, model.sep_id)
    assert batch["token_type_ids"][0].tolist() == reference["token_type_ids"]
    assert 0 < batch["token_type_ids"].sum() < len(ids[0])
    with torch.inference_mode():
        inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
        with_types = model.model(**inputs).logits
        inputs["token_type_ids"] = torch.zeros_like(inputs["token_type_ids"])
        without = model.model(**inputs).logits
    assert not torch.allclose(with_types, without)
    assert model.logits([pair])[0] == pytest.approx(with_types[0].numpy(), abs=1e-5)


def test_pair_export_feeds_segments_and_keeps_parity(pair_model: Path, exported: dict[str, Path],
                                                     faq_dir: Path) -> None:
    onnx_model = load(exported["pair-fp32"])
    facts = onnx_model.settings.onnx
    assert facts is not None and facts.inputs[-1] == "token_type_ids" and facts.sep_token_id is not None
    pairs = read_table(faq_dir / "validation.csv", load(pair_model).settings.data_columns()).inputs
    assert onnx_model.logits(pairs) == pytest.approx(load(pair_model).logits(pairs), abs=1e-3)
    assert (load(exported["pair-int8"]).settings.parity or {})["int8"]["label_agreement"] >= 0.9


def test_pair_predict_reads_both_columns(pair_model: Path, faq_dir: Path, tmp_path: Path) -> None:
    predict(pair_model, faq_dir / "validation.csv", tmp_path / "p.csv")
    with (tmp_path / "p.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["text", "text_pair", "label", "score", "p_match", "p_other"]
    assert rows[0]["text_pair"].startswith(read_table(faq_dir / "validation.csv", DataConfig(
        text_column="question", text_pair_column="answer")).pairs[0][:40])  # type: ignore[index]


def test_pair_serve_answers_pairs_and_ranks(pair_model: Path) -> None:
    model = load(pair_model)
    pairs = [["how do I reset my password", "Use the forgot-password link."], ["ok", "fine"]]
    with serving(pair_model, model) as client:
        predicted = client.post("/v1/predict", json={"pairs": pairs}).json()["predictions"]
        wrong_shape = client.post("/v1/predict", json={"text": "one text"})
        ranked = client.post("/v1/rank", json={"query": "reset my password",
                                               "candidates": ["Use the forgot-password link.", "ok", "Refunds."],
                                               "top": 2}).json()["ranking"]
    assert [p["label"] for p in predicted] == model.predict([tuple(p) for p in pairs])
    assert wrong_shape.status_code == 422 and wrong_shape.json()["error"]["code"] == "wrong_input"
    scores = model.scores([("reset my password", c) for c in ["Use the forgot-password link.", "ok", "Refunds."]])
    column = model.labels.index("match")
    assert [r["index"] for r in ranked] == list(np.argsort(-scores[:, column], kind="stable")[:2])


def test_pair_explanation_covers_both_texts(pair_model: Path) -> None:
    e = explain(pair_model, "how do I install a package?", text_pair="Use apt install.", steps=8)
    assert set(e.segments) == {0, 1} and "apt" in [w for w, s in zip(e.words, e.segments, strict=True) if s == 1]


def test_rank_puts_the_known_good_candidate_first(toy_pair_model: Path, tmp_path: Path, monkeypatch,
                                                  capsys) -> None:
    candidates = ["the plot is thin and the jokes fall flat", "a gripping, beautifully acted story",
                  "an ordinary film", "tedious and far too long"]
    (tmp_path / "c.csv").write_text("text\n" + "\n".join(f'"{c}"' for c in candidates) + "\n")
    assert run_cli(monkeypatch, "rank", str(toy_pair_model), candidates[1], str(tmp_path / "c.csv"), "--top",
                   "2") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["candidate"] == candidates[1] and rows[0]["line"] == 3 and len(rows) == 2
    assert rank(toy_pair_model, candidates[1], tmp_path / "c.csv", top=1)[0]["candidate"] == candidates[1]


@pytest.fixture(scope="module")
def toy_pair_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pair model taught to recognise a text paired with itself (real snippets, a toy task with a known
    answer): each training snippet with itself (match) and with another snippet (other)."""
    import csv
    import random

    from tests.helpers import small_config
    from textsift import train

    texts = read_table(data_dir / "train.csv").texts
    rng = random.Random(0)
    out = tmp_path_factory.mktemp("toy-pairs")
    for split, part in (("train", texts[:200]), ("validation", texts[200:])):
        with (out / f"{split}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["a", "b", "label"])
            for text in part:
                writer.writerow([text, text, "match"])
                writer.writerow([text, rng.choice([t for t in part if t != text]), "other"])
    cfg = small_config(out, out / "model", task="pair", epochs=3,
                       data=DataConfig(text_column="a", text_pair_column="b"))
    return train(cfg)


def test_multi_label_explanation_attributes_the_most_probable_label(multilabel_model: Path) -> None:
    model = load(multilabel_model)
    text = "Command-line tool to convert and edit images"
    e = explain(multilabel_model, text, steps=8)
    scores = model.scores([text])[0]
    assert e.label == model.labels[int(np.argmax(scores))] and e.probability == pytest.approx(scores.max(), abs=1e-5)
    assert explain(multilabel_model, text, steps=4, target="use::editing").label == "use::editing"


def test_regression_serve_answers_with_values(regression_model: Path) -> None:
    model = load(regression_model)
    with serving(regression_model, model) as client:
        answers = client.post("/v1/predict", json={"texts": ["a fine film", "dull"]}).json()["predictions"]
        not_a_pair_model = client.post("/v1/rank", json={"query": "q", "candidates": ["a"]})
    assert [a["value"] for a in answers] == pytest.approx(model.predict(["a fine film", "dull"]), abs=1e-5)
    assert set(answers[0]) == {"value"}
    assert not_a_pair_model.status_code == 400 and not_a_pair_model.json()["error"]["code"] == "rank_unsupported"


def test_pair_regression_predicts_values_and_ranks_by_them(data_dir: Path, tmp_path: Path) -> None:
    # Real snippets as (snippet, snippet) pairs whose target is the snippet's valence: a pair task with a number.
    import csv

    from tests.helpers import small_config
    from textsift import train

    table = read_table(data_dir / "train.csv", DataConfig(label_column="valence"))
    for split, part in (("train", slice(0, 200)), ("validation", slice(200, 240))):
        with (tmp_path / f"{split}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["query", "item", "relevance"])
            writer.writerows([t, t, v] for t, v in zip(table.texts[part], (table.labels or [])[part], strict=True))
    folder = train(small_config(tmp_path, tmp_path / "m", task="pair-regression", strategy="head", epochs=3,
                                learning_rate=None, data=DataConfig(text_column="query", text_pair_column="item",
                                                                    label_column="relevance")))
    model = load(folder)
    candidates = ["a gripping, beautifully acted story", "dull and far too long"]
    values = model.predict([("a gripping, beautifully acted story", c) for c in candidates])
    assert all(isinstance(v, float) for v in values) and model.settings.task == "pair-regression"
    ranked = rank(folder, "a gripping, beautifully acted story", _lines(tmp_path, candidates))
    best_first = [c for _, c in sorted(zip(values, candidates, strict=True), reverse=True)]
    assert [r["candidate"] for r in ranked] == best_first


def _lines(folder: Path, texts: list[str]) -> Path:
    path = folder / "candidates.csv"
    path.write_text("text\n" + "\n".join(f'"{t}"' for t in texts) + "\n")
    return path


def test_multi_label_report_shows_the_label_table_and_threshold_curve(multilabel_model: Path, debtags_dir: Path,
                                                                      tmp_path: Path) -> None:
    page = report(multilabel_model, debtags_dir / "test.csv", tmp_path, errors=2, deletion_texts=4, steps=4)
    html = page.read_text()
    assert (tmp_path / "threshold_curve.png").is_file() and (tmp_path / "label_scores.png").is_file()
    assert "threshold" in html and "Hamming loss" in html and "interface::graphical" in html
    assert not (tmp_path / "reliability.png").exists()
