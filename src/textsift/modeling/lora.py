"""LoRA adapters (Hu et al., 2021, through PEFT) for `--strategy lora`: the backbone's weights stay frozen, low-rank
updates of the named projections and the whole classification head train.

A saved folder is an ordinary textsift folder whose weights are the adapters merged into the backbone, so loading
it needs neither PEFT nor the adapter (plain transformers, ONNX export); the adapter itself is kept beside them in
PEFT's format in `adapter/`, to apply again to the weights training started from.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, cast

from torch import nn
from transformers import PreTrainedModel

from textsift._optional import require
from textsift.config import LoraConfig
from textsift.errors import TextsiftError
from textsift.modeling.folder import save_folder

if TYPE_CHECKING:
    from peft import PeftModel

    from textsift.inference.torch_backend import Classifier

ADAPTER = "adapter"  # the folder's subfolder holding the adapter (settings.adapter)
# Head modules beside `classifier` (PEFT's sequence-classification task trains that one itself): the mean-pooling
# head's optional hidden layer, and BERT's CLS pooler (dense + tanh before the classifier), which full fine-tuning
# trains and a sentence-embedding backbone never did: frozen, it would be a fixed random-ish layer in the head.
EXTRA_HEAD_MODULES = ("hidden", "pooler")


def attach(classifier: Classifier, cfg: LoraConfig) -> None:
    """Wrap `classifier.model` in LoRA adapters on the backbone modules `cfg.targets` names; everything else of the
    backbone is frozen, the head (`classifier`, and `hidden` of a mean-pooling head) trains in full."""
    peft = require("peft", extra="lora")
    model = classifier.model
    check_targets(model, cfg.targets)
    present = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if module is not None}
    head = [name for name in EXTRA_HEAD_MODULES if name in present]
    config = peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=cfg.targets, modules_to_save=head or None,
    )
    # A PeftModel is no PreTrainedModel, but it forwards the attributes textsift reads (config, forward) to the
    # model it wraps; Classifier.pooling looks through it.
    classifier.model = cast(PreTrainedModel, peft.get_peft_model(model, config))


def check_targets(model: PreTrainedModel, targets: list[str]) -> None:
    """Every target must name linear layers of the backbone (by their name or a dotted tail of it, as PEFT matches
    them); PEFT itself only complains when none of them matches anything."""
    backbone = model.base_model
    linear = [name for name, module in backbone.named_modules() if isinstance(module, nn.Linear)]
    for target in targets:
        if not any(name == target or name.endswith(f".{target}") for name in linear):
            known = sorted({name.rsplit(".", 1)[-1] for name in linear})
            raise TextsiftError(f"--lora-targets: {target!r} names no linear layer of the backbone; its linear "
                                f"layers are named {', '.join(known)} (e.g. --lora-targets query,value)")


def save(classifier: Classifier, folder: Path | str) -> Path:
    """Write `folder` as an ordinary model folder of the merged weights, with the adapter in `adapter/`; both are
    listed in textsift.json. Merging happens on a copy, so training goes on with the unmerged adapters."""
    peft_model = wrapped(classifier)
    merged = copy.deepcopy(peft_model).merge_and_unload()  # holds a second copy of the weights while saving
    settings = dataclasses.replace(classifier.settings, pooling=classifier.pooling, strategy="lora", adapter=ADAPTER)

    def write_adapter(stage: Path) -> None:
        peft_model.save_pretrained(str(stage / ADAPTER), safe_serialization=True)

    return save_folder(merged, classifier.tokenizer, settings, folder, extra=write_adapter)


def wrapped(classifier: Classifier) -> PeftModel:
    """The classifier's network as the PEFT model `attach` made of it."""
    from peft import PeftModel

    model: object = classifier.model  # typed as the PreTrainedModel it stands in for (see attach)
    if not isinstance(model, PeftModel):
        raise TextsiftError("this model has no LoRA adapters to save; train it with --strategy lora")
    return model
