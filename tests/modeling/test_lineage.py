from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import copy_model
from textsift.cli.app import app
from textsift.modeling.card import write_card
from textsift.modeling.lineage import extended, folder_hash, step
from textsift.modeling.settings import SETTINGS_FILE, read_settings, update_settings
from textsift.tasks.registry import get_task


def validation_summary(folder: Path) -> dict[str, float]:
    settings = read_settings(folder)
    return get_task(settings.task).summary(json.loads((folder / "metrics.json").read_text())["validation"])


@pytest.fixture
def two_steps(full_model: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A trained parent (one step) and a child updated from it (two steps), as the training verbs record them."""
    parent, child = copy_model(full_model, tmp_path / "parent"), copy_model(full_model, tmp_path / "child")
    settings = read_settings(parent)
    first = step("train", folder=parent, settings=settings, config=settings.train_config,
                 metrics={"validation": validation_summary(parent)})
    update_settings(parent, lineage=extended([], first))
    second = step("update", folder=child, settings=read_settings(child), parent=parent, config={"epochs": 1},
                  metrics={"validation": {"macro_f1": 0.5}, "forgetting": {"backward_transfer": -0.02}},
                  status="rejected")
    update_settings(child, lineage=extended(read_settings(parent).lineage, second))
    return parent, child


def test_folder_hash_is_the_sha256_of_textsift_json_and_follows_it(full_model: Path, tmp_path: Path) -> None:
    model = copy_model(full_model, tmp_path / "model")
    before = folder_hash(model)
    assert before == hashlib.sha256((model / SETTINGS_FILE).read_bytes()).hexdigest()
    update_settings(model, temperature=2.0)
    assert folder_hash(model) != before


def test_steps_are_numbered_in_order_and_the_child_names_its_parent(two_steps: tuple[Path, Path]) -> None:
    parent, child = two_steps
    lineage = read_settings(child).lineage
    assert [(e["step"], e["verb"], e["status"]) for e in lineage] == [(1, "train", "accepted"),
                                                                       (2, "update", "rejected")]
    assert lineage[0]["parent"] is None
    assert lineage[0]["backbone"] == {"name": read_settings(child).backbone, "pretrain": None}
    assert lineage[1]["parent"] == {"folder": str(parent), "sha256": folder_hash(parent)}
    assert lineage[0]["data"]["train"]["rows"] == 240 and lineage[0]["config"]["epochs"] == 1


def test_a_backbone_folder_from_pretrain_is_recorded_with_its_pretrain_record(full_model: Path,
                                                                              tmp_path: Path) -> None:
    backbone = tmp_path / "backbone"
    backbone.mkdir()
    (backbone / "textsift-pretrain.json").write_text('{"steps": 100, "corpus": {"rows": 5000}}')
    entry = step("train", folder=tmp_path / "m", settings=read_settings(full_model), backbone=str(backbone),
                 config={}, metrics={})
    assert entry["backbone"] == {"name": str(backbone), "pretrain": {"steps": 100, "corpus": {"rows": 5000}}}


def test_lineage_prints_both_steps_and_the_parent_hash(two_steps: tuple[Path, Path]) -> None:
    parent, child = two_steps
    result = CliRunner().invoke(app, ["lineage", str(child)])
    accuracy = read_settings(child).lineage[0]["metrics"]["validation"]["accuracy"]
    assert result.exit_code == 0, result.output
    assert "train" in result.stdout and "update" in result.stdout and "rejected" in result.stdout
    assert folder_hash(parent)[:12] in result.stdout and f"accuracy {accuracy:.4f}" in result.stdout
    assert "train.csv, 240 rows" in result.stdout and "backward_transfer -0.0200" in result.stdout


def test_lineage_json_round_trips(two_steps: tuple[Path, Path]) -> None:
    _, child = two_steps
    result = CliRunner().invoke(app, ["lineage", str(child), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == read_settings(child).lineage


def test_the_model_card_tables_the_lineage(two_steps: tuple[Path, Path]) -> None:
    parent, child = two_steps
    card = write_card(child).read_text()
    assert "## Lineage" in card and "| step | verb | when (UTC) | parent | data | metrics | status |" in card
    assert f"| 2 | update | {read_settings(child).lineage[1]['at'][:10]}" in card
    assert f"| {folder_hash(parent)[:12]} | train: train.csv, 240 rows" in card and "| rejected |" in card


def test_a_folder_without_lineage_prints_where_its_settings_say_it_came_from(full_model: Path,
                                                                            tmp_path: Path) -> None:
    old = copy_model(full_model, tmp_path / "old")
    settings = update_settings(old, lineage=[])  # as written before textsift recorded lineage
    result = CliRunner().invoke(app, ["lineage", str(old)])
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"{old}: no lineage recorded (written before textsift kept one); it was trained with the full "
        f"strategy from {settings.backbone} on train.csv (240 rows, sha256 {settings.data['train'].sha256[:12]})")
