"""textsift: a pretrained Transformer and a labelled file in, a production text classifier out."""

from __future__ import annotations

__version__ = "0.1.0"

from textsift.config import DataConfig, ModelConfig, TrainConfig  # noqa: E402
from textsift.errors import DataError, TextsiftError  # noqa: E402
from textsift.evaluate import evaluate  # noqa: E402
from textsift.model import Classifier, load  # noqa: E402
from textsift.predict import predict  # noqa: E402
from textsift.train import train  # noqa: E402

__all__ = [
    "Classifier", "DataConfig", "DataError", "ModelConfig", "TextsiftError", "TrainConfig",
    "evaluate", "load", "predict", "train", "__version__",
]
