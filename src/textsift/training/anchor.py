"""Anchor penalties that hold an updated model near the weights it started from.

l2:  strength/2 * sum_i (theta_i - theta*_i)^2, the plain pull towards the previous weights theta*.
ewc: strength/2 * sum_i F_i (theta_i - theta*_i)^2 (Kirkpatrick et al. 2017, elastic weight consolidation), where
     F_i is the diagonal Fisher information of weight i on the old data: weights the old task relied on move
     little, the rest are free. F is estimated on the rehearsal rows as the mean squared gradient of the task's loss
     over mini-batches, times the batch size (the mean of per-row squared gradients, up to the cross terms of a
     batch; per-row backward passes would cost a batch size's worth more).

The reference weights are taken before the head grows for new labels; a grown output layer is compared on its old
rows only, so the new labels' rows start free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from tqdm import tqdm


class Anchor:
    """The penalty towards a model's current trainable weights."""

    def __init__(self, model: torch.nn.Module, strength: float, fisher: dict[str, torch.Tensor] | None = None):
        self.model, self.strength = model, strength
        self.reference = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
        self.weight = fisher

    def penalty(self) -> torch.Tensor:
        """The penalty for the model's weights now (differentiable)."""
        total = torch.zeros((), device=next(iter(self.reference.values())).device)
        for name, p in self.model.named_parameters():
            ref = self.reference.get(name)
            if ref is None or not p.requires_grad:
                continue
            moved = (p[: ref.shape[0]] if p.shape != ref.shape else p) - ref
            squared = moved.float().pow(2)
            total = total + (squared * self.weight[name] if self.weight is not None else squared).sum()
        return 0.5 * self.strength * total

    def wrap(self, loss: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        """`loss` with the penalty added."""
        if self.strength == 0:
            return loss
        return lambda *args: loss(*args) + self.penalty()


def fisher_diagonal(model: torch.nn.Module, batch_loss: Callable[[list[int]], torch.Tensor],
                    batches: Iterable[list[int]], total: int) -> dict[str, torch.Tensor]:
    """Diagonal Fisher estimate of every trainable weight from the losses of `batches` (index lists of `total`
    rows), in eval mode so dropout does not add noise to the estimate."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    fisher = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params.items()}
    was_training, seen = model.training, 0
    model.eval()
    with tqdm(total=total, desc="fisher", unit="text", leave=False, disable=None) as bar:
        for idx in batches:
            model.zero_grad(set_to_none=True)
            batch_loss(idx).backward()
            for name, p in params.items():
                if p.grad is not None:
                    fisher[name] += p.grad.detach().float().pow(2) * len(idx) * len(idx)
            seen += len(idx)
            bar.update(len(idx))
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {name: f / max(seen, 1) for name, f in fisher.items()}
