"""Training on several processes with torch.distributed: the same loop, each rank on its share of every batch.

torchrun (or Slurm, or a Kubernetes operator running it) starts the processes and sets RANK, WORLD_SIZE and
LOCAL_RANK; `textsift train --nproc N` starts them through torchrun's own engine (torch.distributed.elastic). The
loop then asks this module four things: which rank am I (`current`), which rows of this global batch are mine
(`share`), what is the loss of the whole batch (`mean_loss`), and what did rank 0 decide (`from_main`).
Gradients are averaged by DistributedDataParallel; gloo carries them on CPU, NCCL on GPUs.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from textsift.errors import TextsiftError
from textsift.inference.torch_backend import resolve_device

log = logging.getLogger("textsift")
T = TypeVar("T")
# A collective that waits longer than this means a rank is stuck (not dead: a dead rank's sockets close at once,
# and the launcher stops the others within seconds); torch's default of 30 minutes would look like a hang.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run; one process is rank 0 of 1."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0 writes the model folder, the checkpoints and TensorBoard; the others only train."""
        return self.rank == 0


def launched() -> bool:
    """Whether torchrun (or the --nproc launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def current() -> Ranks:
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size())


def start(device_name: str) -> torch.device:
    """Join the run's process group when launched as one of several processes (once per process), and pick this
    rank's device: cuda:LOCAL_RANK with NCCL when there are GPUs, the CPU with gloo otherwise."""
    if not launched():
        return resolve_device(device_name)
    device = resolve_device(device_name)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        join(backend)
        if dist.get_rank() != 0:  # one log of the run, rank 0's; the others still print warnings and errors
            log.setLevel(logging.WARNING)
        log.info("training on %d processes (%s)", dist.get_world_size(), backend)
    return device


def join(backend: str) -> None:
    """init_process_group, and one line when a restarted rank cannot reach its peers: torchrun's agent shares its
    store with the ranks by default, and a restarted round can read the previous round's addresses from it
    (pytorch/pytorch#135712); a store per round (TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1) avoids that."""
    try:
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    except RuntimeError as e:
        shared = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
        if not (shared and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"a restarted rank could not reach the others ({first[:120]}): torchrun's shared store "
                            "kept the last round's addresses; start torchrun with TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1"
                            ) from None


def threads(requested: int) -> int:
    """CPU threads for this rank: what was asked, at most this machine's cores shared by its ranks."""
    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, min(requested, (os.cpu_count() or 1) // ranks))


def single_process(verb: str) -> None:
    """Verbs whose writes are not yet rank-aware refuse to run as several processes instead of racing."""
    if launched():
        raise TextsiftError(f"{verb} runs in one process; start it without torchrun (`textsift train` trains on "
                            "several)")


def share(batch: Sequence[T], ranks: Ranks) -> tuple[list[T], float]:
    """This rank's rows of a global batch (every world-th, so a length-sorted batch is split evenly by length) and
    the weight of its loss: ranks' mean losses averaged by DDP equal the whole batch's mean loss when each is
    weighted by its share of the rows. A rank left without rows (a short last batch) runs one row at weight 0, so
    it still joins the gradient all-reduce."""
    if ranks.world == 1:
        return list(batch), 1.0
    mine = list(batch[ranks.rank :: ranks.world])
    if not mine:
        return list(batch[:1]), 0.0
    return mine, len(mine) * ranks.world / len(batch)


def mean_loss(loss: torch.Tensor, ranks: Ranks) -> float:
    """The whole batch's loss from this rank's weighted one (logged, not differentiated)."""
    if ranks.world == 1:
        return loss.item()
    total = loss.detach().float().clone()
    dist.all_reduce(total)
    return total.item() / ranks.world


def from_main(compute: Callable[[], T], ranks: Ranks) -> T:
    """Run `compute` on rank 0 only and hand its (picklable) result to every rank, so every rank takes the same
    decision on it (the best epoch, early stopping) and none waits for a collective the others skipped."""
    if ranks.world == 1:
        return compute()
    box: list[Any] = [compute() if ranks.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gathered(value: T, ranks: Ranks) -> list[T]:
    """Every rank's `value`, in rank order, on every rank."""
    if ranks.world == 1:
        return [value]
    out: list[Any] = [None] * ranks.world
    dist.all_gather_object(out, value)
    return out


def finish() -> None:
    """Leave the process group once rank 0 has written the folder, so no rank exits while another still needs it."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class LossModule(torch.nn.Module):
    """An objective's loss as a module's forward. DistributedDataParallel averages gradients of what runs inside its
    forward; wrapping the loss (whatever the objective does with the model: a full pass, a head on cached features,
    a pair of embeddings) keeps every objective unchanged and every strategy distributed the same way."""

    def __init__(self, model: torch.nn.Module, loss: Callable[[list[Any]], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.batch_loss = loss

    def forward(self, batch: list[Any], weight: float) -> torch.Tensor:
        return self.batch_loss(batch) * weight


def parallel(model: torch.nn.Module, loss: Callable[[list[Any]], torch.Tensor], device: torch.device,
             ranks: Ranks) -> Callable[[list[Any], float], torch.Tensor]:
    """The weighted loss of a batch, its gradients averaged over the ranks. Wrapping broadcasts rank 0's weights,
    so every rank starts (or resumes) from the same ones. A static graph: every step uses the same parameters, and
    DDP finds those that get no gradient (layers after the pooled ones) once, in the first step, not every step."""
    module = LossModule(model, loss)
    if ranks.world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, static_graph=True)
