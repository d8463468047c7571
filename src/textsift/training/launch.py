"""`textsift train --nproc N`: N training processes on this machine, started by torchrun's own engine
(torch.distributed.elastic), not a scheduler of ours. Multi-node runs use torchrun itself (README, "Train on
several processes"); both end in the same loop, which reads the ranks torchrun sets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from textsift.config import TrainConfig
from textsift.errors import TextsiftError
from textsift.training.loop import CHECKPOINT

# How often the agent checks its processes: a rank that dies is noticed, and the others stopped, this soon.
MONITOR_INTERVAL_S = 0.5


def processes(train: Callable[[TrainConfig], Path], cfg: TrainConfig) -> Path:
    """Run `train(cfg)` on `cfg.nproc` processes (rendezvous on a free loopback port); a rank that fails stops the
    others and comes back as one line: its own error when it had one, else how it died."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=cfg.nproc, run_id=uuid.uuid4().hex,
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0,
                          monitor_interval=MONITOR_INTERVAL_S, start_method="spawn")
    with tempfile.TemporaryDirectory(prefix="textsift-ranks-") as errors, quiet_agent():
        try:
            elastic_launch(config, one_process)(train, dataclasses.replace(cfg, nproc=1), errors)
        except ChildFailedError as e:
            raise TextsiftError(failure_line(e, Path(errors), cfg)) from None
    return cfg.out


@contextlib.contextmanager
def quiet_agent() -> Iterator[None]:
    """The agent logs a failed rank as a traceback of its own internals; the one line `processes` raises says it."""
    loggers = [logging.getLogger(name) for name in ("torch.distributed.elastic", "torch.multiprocessing")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def one_process(train: Callable[[TrainConfig], Path], cfg: TrainConfig, errors: str) -> None:
    """One rank (a fresh interpreter): log like the CLI and train; a user error is left for the launcher to show
    once, rather than printed by every rank."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        train(cfg)
    except TextsiftError as e:
        Path(errors, f"rank-{os.environ.get('RANK', '0')}.txt").write_text(str(e))
        sys.exit(2)


def failure_line(error: Any, errors: Path, cfg: TrainConfig) -> str:
    """A rank's own error (the lowest rank that wrote one), else which rank died and how."""
    written = sorted(errors.glob("rank-*.txt"), key=lambda p: int(p.stem.split("-")[1]))
    if written:
        return written[0].read_text()
    rank, failure = error.get_first_failure()
    how = f"signal {failure.signal_name()}" if failure.exitcode < 0 else f"exit code {failure.exitcode}"
    again = ("again with --resume to go on from the last checkpoint" if (cfg.out / CHECKPOINT / "state.json").is_file()
             else "again")
    return f"training process {rank} of {cfg.nproc} died ({how}); the others were stopped. Run the command {again}"
