from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from textsift import evaluate
from textsift.config import RehearsalConfig
from textsift.modeling.lineage import folder_hash
from textsift.modeling.settings import read_settings
from textsift.training import replay
from textsift.training.config import UpdateConfig
from textsift.training.update import UpdateResult, update


def config(model: Path, data: Path, out: Path, **overrides: Any) -> UpdateConfig:
    """A quick update on a small slice: one epoch, batch 16, two threads, no gate unless asked."""
    settings: dict[str, Any] = dict(model_dir=model, train_file=data / "train.csv",
                                    validation_file=data / "validation.csv", out=out, epochs=1, batch_size=16,
                                    num_threads=2, max_forgetting=None)
    settings.update(overrides)
    return UpdateConfig(**settings)


def relabelled(source: Path, out: Path, change: dict[str, str], rows: int | None = None) -> Path:
    """A copy of a labelled CSV with labels renamed (the first `rows` rows only, when given)."""
    with source.open(newline="") as f:
        table = list(csv.DictReader(f))
    for n, row in enumerate(table):
        if rows is None or n < rows:
            row["label"] = change.get(row["label"], row["label"])
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return out


@pytest.fixture(scope="module")
def updated(full_model: Path, amazon_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> UpdateResult:
    """The full movie model updated on amazon snippets with rehearsal and an EWC anchor."""
    return update(config(full_model, amazon_dir, tmp_path_factory.mktemp("update") / "mr+amazon", anchor="ewc"))


def test_an_update_measures_the_old_data_before_and_after(updated: UpdateResult, full_model: Path,
                                                         data_dir: Path) -> None:
    parent_accuracy = evaluate(full_model, data_dir / "validation.csv", out=updated.folder / "eval-parent")["accuracy"]
    saved = json.loads((updated.folder / "metrics.json").read_text())["forgetting"]
    assert saved["metric"] == "accuracy" and saved["old_before"] == pytest.approx(parent_accuracy, abs=1e-4)
    assert saved["backward_transfer"] == pytest.approx(100 * (saved["old_after"] - saved["old_before"]), abs=0.01)
    assert set(saved["labels"]) == {"negative", "positive"} and saved["accepted"] is True


def test_an_update_records_its_parent_and_data_in_the_lineage(updated: UpdateResult, full_model: Path,
                                                              amazon_dir: Path) -> None:
    steps = read_settings(updated.folder).lineage
    assert [(s["step"], s["verb"]) for s in steps] == [(1, "train"), (2, "update")]
    assert steps[1]["parent"]["sha256"] == folder_hash(full_model)
    assert steps[1]["data"]["train"]["file"] == str(amazon_dir / "train.csv")
    assert steps[1]["config"]["anchor"] == "ewc" and steps[1]["status"] == "accepted"


def test_the_updated_folder_keeps_old_and_new_rows(updated: UpdateResult, data_dir: Path, amazon_dir: Path) -> None:
    kept = replay.read(updated.folder, replay.TRAIN_ROWS)
    assert kept is not None
    texts = {row.text for row in kept.rows}
    with (data_dir / "train.csv").open() as movie, (amazon_dir / "train.csv").open() as amazon:
        old, new = {r["text"] for r in csv.DictReader(movie)}, {r["text"] for r in csv.DictReader(amazon)}
    assert texts == old | new  # both fit in the default bound of 2,000 rows


def test_lineage_is_recorded_across_two_updates(updated: UpdateResult, amazon_dir: Path, tmp_path: Path) -> None:
    second = update(config(updated.folder, amazon_dir, tmp_path / "again", replay=0.5))
    steps = read_settings(second.folder).lineage
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert steps[2]["parent"] == {"folder": str(updated.folder), "sha256": folder_hash(updated.folder)}


def test_the_gate_moves_an_update_that_forgets_too_much_aside(head_model: Path, data_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Constructed forgetting: the old data with its two classes swapped, a high rate and no rehearsal.
    flipped = relabelled(data_dir / "train.csv", tmp_path / "flipped.csv", {"negative": "positive",
                                                                              "positive": "negative"})
    code = run_cli(monkeypatch, "update", str(head_model), str(flipped), "--validation", str(data_dir / "test.csv"),
                   "--out", str(tmp_path / "bad"), "--replay", "0", "--epochs", "3", "--learning-rate", "0.01",
                   "--max-forgetting", "1", "--num-threads", "2")
    assert code == 3 and not (tmp_path / "bad").exists()
    steps = read_settings(tmp_path / "bad.rejected").lineage
    assert steps[-1]["status"] == "rejected" and steps[-1]["metrics"]["backward_transfer"] < -1


def test_new_labels_grow_the_head_when_allowed(head_model: Path, amazon_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "three"
    data.mkdir()
    for split in ("train", "validation"):
        relabelled(amazon_dir / f"{split}.csv", data / f"{split}.csv", {"negative": "neutral"}, rows=10)
    result = update(config(head_model, data, tmp_path / "grown", new_labels="allow"))
    assert read_settings(result.folder).labels == ["negative", "positive", "neutral"]
    assert result.forgetting.labels["neutral"]["old_before"] is None


def test_new_data_of_one_new_class_is_enough_for_an_update(head_model: Path, amazon_dir: Path,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "neutral"
    data.mkdir()
    for split in ("train", "validation"):
        relabelled(amazon_dir / f"{split}.csv", data / f"{split}.csv", {"negative": "neutral", "positive": "neutral"})
    result = update(config(head_model, data, tmp_path / "grown", new_labels="allow", replay=0.5))
    assert read_settings(result.folder).labels == ["negative", "positive", "neutral"]
    assert result.forgetting.labels["neutral"]["new_after"] is not None


def test_a_head_model_updates_without_keeping_any_text(head_model: Path, amazon_dir: Path, tmp_path: Path) -> None:
    first = update(config(head_model, amazon_dir, tmp_path / "private", rehearsal=RehearsalConfig(keep_texts=False)))
    for name in (replay.TRAIN_ROWS, replay.CHECK_ROWS):
        assert '"text"' not in (first.folder / "replay" / f"{name}.jsonl").read_text()
    kept = replay.read(first.folder, replay.TRAIN_ROWS)
    assert kept is not None and kept.features is not None and kept.features.shape[1] == 384 * 2  # two layers
    second = update(config(first.folder, amazon_dir, tmp_path / "private-2", anchor="ewc"))
    assert second.accepted and replay.read(second.folder, replay.TRAIN_ROWS).features is not None  # type: ignore


def test_a_multi_label_model_updates(multilabel_model: Path, debtags_dir: Path, tmp_path: Path) -> None:
    result = update(config(multilabel_model, debtags_dir, tmp_path / "ml", epochs=2))
    assert result.forgetting.metric == "micro_f1" and 0 < result.forgetting.old_after <= 1
    assert len(read_settings(result.folder).thresholds or []) == 5


def test_a_pair_model_updates(pair_model: Path, faq_dir: Path, tmp_path: Path) -> None:
    result = update(config(pair_model, faq_dir, tmp_path / "pairs", anchor="l2"))
    kept = replay.read(result.folder, replay.TRAIN_ROWS)
    assert kept is not None and all(row.pair for row in kept.rows)  # both texts of each pair are kept
    assert result.forgetting.metric == "accuracy" and set(result.forgetting.labels) == {"match", "other"}


def test_a_regression_model_updates_in_its_own_units(regression_model: Path, amazon_dir: Path,
                                                     tmp_path: Path) -> None:
    result = update(config(regression_model, amazon_dir, tmp_path / "reg", anchor="l2"))
    assert result.forgetting.metric == "pearson" and result.forgetting.labels == {}
    assert read_settings(result.folder).target_scaling == read_settings(regression_model).target_scaling


@pytest.mark.parametrize(("case", "expected"), [
    ("not a model folder", "not a textsift model folder"),
    ("onnx folder", "an ONNX folder cannot be updated"),
    ("empty new data", "no rows; the file has a header but no data"),
    ("unknown labels", "labels the model does not know: neutral"),
    ("out is the model", "is the model folder itself"),
    ("no texts, full model", "which a fully fine-tuned model does not have"),
])
def test_bad_update_input_is_one_line_and_exit_2(case: str, expected: str, full_model: Path, int8_model: Path,
                                                 amazon_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model, data, extra = full_model, amazon_dir / "train.csv", ["--out", str(tmp_path / "out")]
    if case == "not a model folder":
        model = tmp_path
    elif case == "onnx folder":
        model = int8_model
    elif case == "empty new data":
        data = tmp_path / "empty.csv"
        data.write_text("text,label\n")
    elif case == "unknown labels":
        data = relabelled(amazon_dir / "train.csv", tmp_path / "n.csv", {"negative": "neutral"}, rows=60)
    elif case == "out is the model":
        extra = ["--out", str(full_model)]
    else:
        extra.append("--no-keep-texts")
    code = run_cli(monkeypatch, "update", str(model), str(data), *extra)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and expected in err, err
    assert len(err.splitlines()) == 1
