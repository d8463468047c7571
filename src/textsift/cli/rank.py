"""`textsift rank MODEL QUERY [CANDIDATES]`: candidates ordered by a pair model (flags: RankConfig)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textsift.cli._options import ModelDir, configured
from textsift.config import RankConfig


@configured()
def rank(
    model_dir: ModelDir,
    query: Annotated[str, typer.Argument(help="The text to find the best candidates for.")],
    candidates: Annotated[Path | None, typer.Argument(help="CSV/TSV/JSONL/Parquet file; omit to read stdin lines.")]
    = None,
    *,
    cfg: RankConfig,
) -> None:
    """Order candidate texts by how well each goes with a query (pair models); JSON lines, best first."""
    from textsift.inference.rank import rank as run

    run(model_dir, query, candidates, top=cfg.top, column=cfg.column, batch_size=cfg.batch_size, device=cfg.device)
