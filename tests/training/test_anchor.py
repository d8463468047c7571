from __future__ import annotations

import pytest
import torch

from textsift.modeling.extend import add_outputs
from textsift.training.anchor import Anchor, fisher_diagonal


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.classifier = torch.nn.Linear(2, 2)
        self.config = type("Config", (), {"initializer_range": 0.02})()


def test_the_penalty_is_zero_at_the_reference_and_half_the_squared_move_times_strength() -> None:
    model = Tiny()
    anchor = Anchor(model, strength=4.0)
    assert anchor.penalty().item() == 0.0
    with torch.no_grad():
        model.classifier.weight[0, 0] += 0.5
        model.classifier.bias[1] -= 1.0
    assert anchor.penalty().item() == pytest.approx(0.5 * 4.0 * (0.25 + 1.0))


def test_ewc_weighs_each_move_by_its_fisher_value() -> None:
    model = Tiny()
    fisher = {"classifier.weight": torch.tensor([[10.0, 0.0], [0.0, 0.0]]), "classifier.bias": torch.zeros(2)}
    anchor = Anchor(model, strength=1.0, fisher=fisher)
    with torch.no_grad():
        model.classifier.weight += 1.0  # every weight moves by 1; only the first counts
    assert anchor.penalty().item() == pytest.approx(0.5 * 10.0)


def test_a_grown_output_layer_is_anchored_on_its_old_rows_only() -> None:
    model = Tiny()
    anchor = Anchor(model, strength=1.0)
    add_outputs(model, ["a", "b"], ["c"])  # type: ignore[arg-type]
    with torch.no_grad():
        model.classifier.weight[2] += 3.0  # the new label's row is free
    assert anchor.penalty().item() == 0.0


def test_fisher_is_the_mean_squared_gradient_of_the_loss() -> None:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    x = torch.tensor([[1.0], [3.0]])

    def loss(idx: list[int]) -> torch.Tensor:  # 0.5 (w x)^2 per row: gradient w x^2
        return (0.5 * (model(x[idx]) ** 2)).mean()

    fisher = fisher_diagonal(model, loss, [[0], [1]], 2)
    assert fisher["weight"].item() == pytest.approx(((2 * 1) ** 2 + (2 * 9) ** 2) / 2)


def test_a_zero_strength_anchor_leaves_the_loss_as_it_is() -> None:
    def loss(x: torch.Tensor) -> torch.Tensor:
        return x

    assert Anchor(Tiny(), 0.0).wrap(loss) is loss
