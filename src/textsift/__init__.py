"""textsift: a pretrained Transformer and a labelled file in, a production text classifier out."""

from __future__ import annotations

__version__ = "0.1.0"

from textsift.config import DataConfig, DistillConfig, ModelConfig, TrainConfig  # noqa: E402
from textsift.distill import distill  # noqa: E402
from textsift.errors import DataError, TextsiftError  # noqa: E402
from textsift.evaluate import evaluate  # noqa: E402
from textsift.explain import explain  # noqa: E402 - captum and jinja2 are imported only when called
from textsift.export import export  # noqa: E402
from textsift.model import Classifier, load  # noqa: E402
from textsift.predict import predict  # noqa: E402
from textsift.report import report  # noqa: E402
from textsift.serve import serve  # noqa: E402 - builds its server lazily; fastapi is only needed to call it
from textsift.train import train  # noqa: E402

__all__ = [
    "Classifier", "DataConfig", "DataError", "DistillConfig", "ModelConfig", "TextsiftError", "TrainConfig",
    "distill", "evaluate", "explain", "export", "load", "predict", "report", "serve", "train", "__version__",
]
