"""The `textsift` command: one thin module per verb, each turning flags into a config and calling the verb.

The verb modules import only typer and the configs; each imports its verb (and with it torch or
transformers) when it runs, so `textsift --help` and `textsift data list` start fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from textsift.cli import (
    data,
    distill,
    evaluate,
    explain,
    export,
    lineage,
    monitor,
    predict,
    pretrain,
    rank,
    report,
    serve,
    train,
    tune,
    update,
)
from textsift.errors import TextsiftError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Fine-tune a pretrained Transformer on a labelled file; evaluate, export, explain and serve it.")
app.add_typer(data.app, name="data")
app.add_typer(monitor.app, name="monitor")
VERBS: list[Callable[..., Any]] = [train.train, evaluate.evaluate, predict.predict, rank.rank, explain.explain,
                                   report.report, serve.serve, export.export, distill.distill, lineage.lineage,
                                   pretrain.pretrain, update.update, tune.tune]
# `predict` also runs `predict merge` (its first argument says which), so `textsift predict MODEL FILE` stays as is.
COMMAND_CLASSES = {"predict": predict.PredictCommand}
for verb in VERBS:
    app.command(verb.__name__, cls=COMMAND_CLASSES.get(verb.__name__))(verb)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    # transformers reads these when first imported (only by the commands that need it): quiet logs, no bars.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _log_to_stderr()
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
    except TextsiftError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except typer.TyperException as e:  # usage errors (click's, vendored by typer) know how to show themselves
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _log_to_stderr() -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_path=False)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler])
