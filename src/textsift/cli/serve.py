"""`textsift serve MODEL`: the model behind an HTTP API with a playground page (flags: ServeConfig)."""

from __future__ import annotations

from textsift.cli._options import ModelDir, configured
from textsift.config import ServeConfig


@configured(rename={"cors_origins": "cors_origin"})
def serve(
    model_dir: ModelDir,
    cfg: ServeConfig,
) -> None:
    """Serve a model over HTTP: /v1/predict, /v1/models, /metrics, a playground page at /."""
    from textsift.serving.app import serve as run

    run(model_dir, cfg)
