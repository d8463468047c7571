"""`textsift predict MODEL [FILE]`: label texts from a file or stdin (flags: PredictConfig); `textsift predict merge
FILES... --out F`: join the outputs of `--shard i/n` runs in input order."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from textsift.cli._options import ModelDir, configured
from textsift.config import PredictConfig


@configured(skip=("label_column",))
def predict(
    model_dir: ModelDir,
    inputs: Annotated[Path | None, typer.Argument(help="CSV/TSV/JSONL/Parquet file; omit to read stdin lines.")] = None,
    *,
    cfg: PredictConfig,
) -> None:
    """Label texts with a trained model; `textsift predict merge FILES... --out F` joins --shard runs' outputs."""
    from textsift.inference.predict import predict as run

    run(model_dir, inputs, cfg.out, top_k=cfg.top_k, data=cfg.data, batch_size=cfg.batch_size, device=cfg.device,
        chunk_size=cfg.chunk_size, shard=cfg.shard)


def merge(
    shard_files: Annotated[list[Path], typer.Argument(help="The outputs of every --shard i/n run, e.g. preds-*.csv.")],
    out: Annotated[Path, typer.Option(help="The merged file; the same format as the shard files.")],
) -> None:
    """Join the outputs of `textsift predict --shard i/n` runs into one file in input order, as one run writes it."""
    from textsift.inference.merge import merge_predictions

    merge_predictions(shard_files, out)


class PredictCommand(TyperCommand):
    """`predict`, which runs `merge` instead when its first argument is `merge`: `textsift predict MODEL [FILE]`
    stays as it was (a model folder named merge is passed as ./merge) and each function keeps its own flags."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        if args[:1] != ["merge"]:
            return super().make_context(info_name, args, parent, **extra)
        merging = typer.Typer(add_completion=False)
        merging.command("merge")(merge)
        # Named "predict merge" so that its usage line and errors read `textsift predict merge ...`.
        return typer.main.get_command(merging).make_context(f"{info_name} merge", args[1:], parent, **extra)
