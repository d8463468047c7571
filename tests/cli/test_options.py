"""Every CLI default and help text comes from the config dataclasses; these tests hold the generator to that."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.helpers import run_cli
from textsift import config
from textsift.cli import app as cli
from textsift.cli import data
from textsift.cli._options import Flag, field_docs, flags
from textsift.data import catalogue
from textsift.evaluation import evaluate, report
from textsift.explanation import attribution
from textsift.exporting import onnx
from textsift.inference import predict
from textsift.training import config as training_config
from textsift.training import train

COMMANDS = {verb.__name__: verb for verb in cli.VERBS} | {"fetch": data.fetch}
CONFIGS = {"train": config.TrainConfig, "distill": config.DistillConfig, "evaluate": config.EvaluateConfig,
           "predict": config.PredictConfig, "explain": config.ExplainConfig, "report": config.ReportConfig,
           "export": config.ExportConfig, "serve": config.ServeConfig, "fetch": config.FetchConfig,
           "update": training_config.UpdateConfig, "pretrain": training_config.PretrainConfig,
           "tune": training_config.TuneConfig}


def click_params(name: str) -> dict[str, Any]:
    group = typer.main.get_command(cli.app)
    command = group.commands["data"].commands[name] if name == "fetch" else group.commands[name]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def field_default(cls: type, path: tuple[str, ...]) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == path[0])
    if len(path) > 1:
        return field_default(f.default_factory, path[1:])  # type: ignore[arg-type]
    if f.default is not dataclasses.MISSING:
        return f.default
    return None if f.default_factory is not dataclasses.MISSING else "<required>"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_flag_has_its_fields_default_and_help(name: str) -> None:
    generated: list[Flag] = COMMANDS[name].config_flags  # type: ignore[attr-defined]
    params = click_params(name)
    for flag in generated:
        param = params[flag.name]
        expected = field_default(CONFIGS[name], flag.path)
        assert (param.default if not param.required else "<required>") == expected, flag.name
        assert flag.help and flag.help in (param.help or flag.help), f"{name} --{flag.name} has no help"


@pytest.mark.parametrize("cls", sorted(set(CONFIGS.values()) | {config.DataConfig, config.ModelConfig,
                                                                  config.RehearsalConfig},
                                       key=lambda c: c.__name__))
def test_every_config_field_is_documented(cls: type) -> None:
    docs = field_docs(cls)
    assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == []


def test_every_field_is_a_flag_unless_the_command_leaves_it_out() -> None:
    generated = {flag.path for flag in COMMANDS["train"].config_flags}  # type: ignore[attr-defined]
    assert generated == {flag.path for flag in flags(config.TrainConfig)}
    predict_paths = {flag.path for flag in COMMANDS["predict"].config_flags}  # type: ignore[attr-defined]
    assert ("data", "label_column") not in predict_paths and ("data", "text_column") in predict_paths


@pytest.mark.parametrize(("function", "cls"), [
    (evaluate.evaluate, config.EvaluateConfig), (predict.predict, config.PredictConfig),
    (report.report, config.ReportConfig), (onnx.export, config.ExportConfig),
    (attribution.explain, config.ExplainConfig), (catalogue.fetch, config.FetchConfig),
])
def test_python_verbs_take_their_defaults_from_the_configs(function: Any, cls: type) -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    shared = [p for p in inspect.signature(function).parameters.values() if p.name in defaults
              and p.default is not inspect.Parameter.empty]
    assert shared, f"{function.__name__} shares no option with {cls.__name__}"
    assert {p.name: p.default for p in shared} == {p.name: defaults[p.name] for p in shared}


def test_flags_build_the_nested_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[config.TrainConfig] = []
    monkeypatch.setattr(train, "train", lambda cfg: seen.append(cfg) or cfg.out)
    code = run_cli(monkeypatch, "train", str(tmp_path / "t.csv"), "--validation", str(tmp_path / "v.csv"),
                   "--text-column", "review", "--strategy", "head", "--pool-layers", "3", "--out", str(tmp_path / "m"))
    (cfg,) = seen
    assert code == 0 and cfg.validation_file == tmp_path / "v.csv" and cfg.data.text_column == "review"
    assert cfg.model.pool_layers == 3 and cfg.strategy == "head" and cfg.epochs == 30  # head's default


def test_a_repeatable_flag_fills_a_list_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from textsift.serving import app

    seen: list[config.ServeConfig] = []
    monkeypatch.setattr(app, "serve", lambda folder, cfg: seen.append(cfg))
    assert run_cli(monkeypatch, "serve", str(tmp_path), "--cors-origin", "https://a.example",
                   "--cors-origin", "https://b.example", "--port", "9001") == 0
    assert seen[0].cors_origins == ["https://a.example", "https://b.example"] and seen[0].port == 9001


def test_a_config_check_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path) -> None:
    assert run_cli(monkeypatch, "train", str(tmp_path / "t.csv"), "--strategy", "prompt") == 2
    assert capsys.readouterr().err.strip() == "error: strategy must be one of full, head, lora, fewshot, not 'prompt'"


def test_tune_takes_every_train_flag_but_resume(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from textsift.training import tune

    seen: list[training_config.TuneConfig] = []
    monkeypatch.setattr(tune, "tune", lambda cfg: seen.append(cfg) or cfg.out / "best")
    code = run_cli(monkeypatch, "tune", str(tmp_path / "t.csv"), "--validation", str(tmp_path / "v.csv"),
                   "--strategy", "lora", "--lora-r", "4", "--trials", "7", "--study", "sqlite:///tune.db")
    (cfg,) = seen
    assert code == 0 and cfg.trials == 7 and cfg.storage == "sqlite:///tune.db" and cfg.lora.lora_r == 4
    assert cfg.validation_file == tmp_path / "v.csv" and cfg.out == Path("models/tune") and cfg.epochs == 5
    tune_paths = {flag.path for flag in COMMANDS["tune"].config_flags}  # type: ignore[attr-defined]
    assert {flag.path for flag in flags(config.TrainConfig)} - tune_paths == {("resume",)}
