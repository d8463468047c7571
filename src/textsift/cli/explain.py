"""`textsift explain MODEL TEXT`: which words pushed a prediction which way (flags: ExplainConfig)."""

from __future__ import annotations

from typing import Annotated

import typer

from textsift.cli._options import TorchModelDir, configured
from textsift.config import ExplainConfig


@configured()
def explain(
    model_dir: TorchModelDir,
    text: Annotated[str, typer.Argument(help="The text to explain.")],
    cfg: ExplainConfig,
) -> None:
    """Which words pushed the prediction which way (Integrated Gradients)."""
    from textsift.explanation.attribution import explain as run
    from textsift.explanation.render import print_explanation, write_html

    explanation = run(model_dir, text, steps=cfg.steps, target=cfg.target, text_pair=cfg.text_pair)
    print_explanation(explanation)
    if cfg.html is not None:
        typer.echo(f"wrote {write_html([explanation], cfg.html)}")
