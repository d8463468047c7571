"""textsift: a pretrained Transformer and a labelled file in, a production text model out (classes, label sets,
values; single texts or pairs).

The public API is imported lazily (PEP 562): `import textsift` loads neither torch nor transformers, and
`textsift.train` imports the training code on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "DataConfig": "textsift.config",
    "DistillConfig": "textsift.config",
    "ModelConfig": "textsift.config",
    "ServeConfig": "textsift.config",
    "TrainConfig": "textsift.config",
    "DataError": "textsift.errors",
    "MissingExtraError": "textsift.errors",
    "TextsiftError": "textsift.errors",
    "ModelSettings": "textsift.modeling.settings",
    "Classifier": "textsift.inference.torch_backend",
    "load": "textsift.inference.load",
    "PartitionPredictor": "textsift.inference.partitions",
    "predict": "textsift.inference.predict",
    "merge_predictions": "textsift.inference.merge",
    "rank": "textsift.inference.rank",
    "get_task": "textsift.tasks.registry",
    "train": "textsift.training.train",
    "distill": "textsift.training.distill",
    "pretrain": "textsift.training.pretrain",
    "update": "textsift.training.update",
    "tune": "textsift.training.tune",
    "UpdateConfig": "textsift.training.config",
    "PretrainConfig": "textsift.training.config",
    "TuneConfig": "textsift.training.config",
    "LoraConfig": "textsift.config",
    "FewshotConfig": "textsift.config",
    "evaluate": "textsift.evaluation.evaluate",
    "evaluate_files": "textsift.evaluation.evaluate",
    "report": "textsift.evaluation.report",
    "export": "textsift.exporting.onnx",
    "explain": "textsift.explanation.attribution",
    "serve": "textsift.serving.app",
    "lineage": "textsift.modeling.lineage",
    "CleanConfig": "textsift.config",
    "DataCleanConfig": "textsift.data.config",
    "LeaksConfig": "textsift.data.config",
    "AugmentConfig": "textsift.data.config",
    "clean_file": "textsift.data.clean",
    "file_leaks": "textsift.data.leaks",
    "augment_file": "textsift.data.augment",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'textsift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from textsift.config import (
        CleanConfig,
        DataConfig,
        DistillConfig,
        FewshotConfig,
        LoraConfig,
        ModelConfig,
        ServeConfig,
        TrainConfig,
    )
    from textsift.data.augment import augment_file
    from textsift.data.clean import clean_file
    from textsift.data.config import AugmentConfig, DataCleanConfig, LeaksConfig
    from textsift.data.leaks import file_leaks
    from textsift.errors import DataError, MissingExtraError, TextsiftError
    from textsift.evaluation.evaluate import evaluate, evaluate_files
    from textsift.evaluation.report import report
    from textsift.explanation.attribution import explain
    from textsift.exporting.onnx import export
    from textsift.inference.load import load
    from textsift.inference.merge import merge_predictions
    from textsift.inference.partitions import PartitionPredictor
    from textsift.inference.predict import predict
    from textsift.inference.rank import rank
    from textsift.inference.torch_backend import Classifier
    from textsift.modeling.lineage import lineage
    from textsift.modeling.settings import ModelSettings
    from textsift.serving.app import serve
    from textsift.tasks.registry import get_task
    from textsift.training.config import PretrainConfig, TuneConfig, UpdateConfig
    from textsift.training.distill import distill
    from textsift.training.pretrain import pretrain
    from textsift.training.train import train
    from textsift.training.tune import tune
    from textsift.training.update import update
