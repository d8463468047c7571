"""distill(cfg) -> a shallower model folder trained on a fine-tuned teacher's soft labels.

The student is the teacher's architecture with fewer encoder layers, initialised from evenly spaced teacher layers
(the last one always kept, so the classifier head keeps reading states like those it was trained on; DistilBERT
initialised from every other layer for the same reason). Loss = alpha * T^2 * KL(teacher_T || student_T)
+ (1 - alpha) * CE(student, labels), as in Hinton et al. (2015). The output is a normal textsift model folder.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import torch
from torch.nn import functional as F
from transformers import PreTrainedModel

from textsift import __version__
from textsift.config import DistillConfig, to_jsonable
from textsift.data.checks import read_training_data
from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, to_device
from textsift.modeling.settings import ModelSettings
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.strategies import BatchLoss, encode, fine_tune

log = logging.getLogger("textsift")


def distill(cfg: DistillConfig) -> Path:
    """Train a `cfg.layers`-layer student on the teacher's soft labels; the best by validation macro-F1 lands in
    `cfg.out`. It runs through the same loop as `train`, so TensorBoard, checkpoints and `resume` work alike."""
    started = time.perf_counter()
    device = prepare(cfg)
    teacher = load(cfg.teacher, str(device))  # its one pass over the training set runs where training does
    if not isinstance(teacher, Classifier):
        raise TextsiftError(f"{cfg.teacher}: an ONNX folder cannot teach; distil from the torch model folder")
    train_table, val_table = read_training_data(cfg)
    data = encode(teacher, train_table, val_table)
    student = Classifier(shrink(teacher.model, cfg.layers), teacher.tokenizer,
                         _settings(teacher, cfg, train_table, val_table))
    # Hidden cost: one teacher pass over the training set, once; soft targets never change between epochs.
    log.info("teacher logits for %d training texts", len(data.ids_train))
    soft_targets = torch.from_numpy(teacher.logits_from_ids(data.ids_train, 128))
    to_device(student.model, device)
    objective = fine_tune(student, data, device, _soft_and_hard_loss(soft_targets, data.y_train, cfg, device),
                          lambda: student.save(cfg.out))
    state = fit(objective, cfg, device)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    return cfg.out


def _soft_and_hard_loss(soft_targets: torch.Tensor, y: torch.Tensor, cfg: DistillConfig,
                        device: torch.device) -> BatchLoss:
    def loss(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
        return distillation_loss(logits, soft_targets[idx].to(device), y[idx].to(device), cfg.temperature, cfg.alpha)

    return loss


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, labels).

    The T^2 factor keeps the soft-target gradients on the same scale as the hard-label ones when T changes.
    """
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.log_softmax(teacher_logits / temperature, dim=-1), reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def pick_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced teacher layer indices ending with the last layer, e.g. 6 -> 3 gives [1, 3, 5]."""
    if not 1 <= student_layers < teacher_layers:
        raise TextsiftError(f"the student needs between 1 and {teacher_layers - 1} layers (the teacher has "
                            f"{teacher_layers}), not {student_layers}; pass another --layers")
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def shrink(teacher: PreTrainedModel, layers: int) -> PreTrainedModel:
    """A copy of the teacher with `layers` encoder layers taken from it; embeddings and head copied as they are.

    Works for any architecture whose encoder layers sit in one ModuleList of `num_hidden_layers` blocks: the stock
    CLS classifiers (BertForSequenceClassification, ...) and textsift's mean-pooling model alike.
    """
    keep = pick_layers(teacher.config.num_hidden_layers, layers)
    path = _layer_list_path(teacher, teacher.config.num_hidden_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = layers
    student = type(teacher)(config)
    # Everything outside the layer list has the same shape in both; layers beyond `layers` are simply not used.
    student.load_state_dict(teacher.state_dict(), strict=False)
    teacher_layers, student_layers = teacher.get_submodule(path), student.get_submodule(path)
    assert isinstance(teacher_layers, torch.nn.ModuleList) and isinstance(student_layers, torch.nn.ModuleList)
    for i, j in enumerate(keep):
        student_layers[i].load_state_dict(teacher_layers[j].state_dict())
    log.info("student: %d layers initialised from teacher layers %s", layers, keep)
    return student


def _layer_list_path(model: torch.nn.Module, n_layers: int) -> str:
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return name
    raise TextsiftError(f"cannot find the {n_layers} encoder layers of {type(model).__name__}; distillation "
                        "supports encoders that keep their layers in one list (BERT, RoBERTa, MiniLM, ...)")


def _settings(teacher: Classifier, cfg: DistillConfig, train_table: Table, val_table: Table) -> ModelSettings:
    return ModelSettings(
        labels=teacher.labels, max_length=teacher.max_length, pooling=teacher.settings.pooling,
        task=teacher.settings.task, backbone=teacher.settings.backbone, strategy="distill",
        textsift_version=__version__, teacher=str(cfg.teacher), distill_config=to_jsonable(cfg),
        data={"train": train_table.fingerprint(), "validation": val_table.fingerprint()},
    )
