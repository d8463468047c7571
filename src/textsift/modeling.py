"""Mean-pooling sequence classifier on top of any Hugging Face encoder.

Self-contained on purpose: textsift copies this file into mean-pooled model folders as `modeling_textsift.py`, so
`AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)` loads them without textsift.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPoolingForSequenceClassification(PreTrainedModel):
    """Encoder -> mean of the token states (padding excluded) -> dropout -> linear."""

    config_class = PretrainedConfig
    base_model_prefix = "encoder"

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config)
        drop_pooler(self.encoder)
        dropout = getattr(config, "classifier_dropout", None) or getattr(config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs) -> torch.Tensor:
        """The pooled sentence vector; the frozen-backbone strategy caches exactly this."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features))

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kwargs = {k: v for k, v in kwargs.items() if k in ("token_type_ids", "position_ids", "inputs_embeds")}
        logits = self.head(self.features(input_ids, attention_mask, **kwargs))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def drop_pooler(encoder: nn.Module) -> None:
    """Remove an unused CLS pooler so its weights are neither saved nor left without gradients."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
