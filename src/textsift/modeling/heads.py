"""Mean-pooling sequence classifier on top of any Hugging Face encoder.

Self-contained on purpose: textsift copies this file into mean-pooled model folders as `modeling_textsift.py`, so
`AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)` loads them without textsift.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPoolingForSequenceClassification(PreTrainedModel):
    """Encoder -> mean of the token states (padding excluded) -> dropout -> [MLP] -> linear.

    Two optional config attributes widen the head for a frozen backbone: `pool_layers` concatenates the mean
    pools of the last k hidden layers, and `head_hidden_size` > 0 adds a GELU hidden layer of that size.
    """

    config_class = PretrainedConfig
    base_model_prefix = "encoder"

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config)
        drop_pooler(self.encoder)
        dropout = float(getattr(config, "classifier_dropout", 0) or getattr(config, "hidden_dropout_prob", 0.1))
        self.pool_layers = getattr(config, "pool_layers", 1)
        self.feature_size = config.hidden_size * self.pool_layers
        hidden = getattr(config, "head_hidden_size", 0)
        self.dropout = nn.Dropout(dropout)
        self.hidden = (
            nn.Sequential(nn.Linear(self.feature_size, hidden), nn.GELU(), nn.Dropout(dropout)) if hidden else None
        )
        self.classifier = nn.Linear(hidden or self.feature_size, int(config.num_labels or 2))
        self.post_init()

    def features(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """The pooled sentence vector; the frozen-backbone strategy caches exactly this."""
        out = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=self.pool_layers > 1, **kwargs
        )
        layers = out.hidden_states[-self.pool_layers :][::-1] if self.pool_layers > 1 else (out.last_hidden_state,)
        mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
        count = mask.sum(1).clamp(min=1e-9)
        return torch.cat([(states * mask).sum(1) / count for states in layers], dim=-1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features)
        return self.classifier(self.hidden(x) if self.hidden is not None else x)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            if input_ids is None:
                raise ValueError("pass input_ids, or an attention_mask with inputs_embeds")
            attention_mask = torch.ones_like(input_ids)
        kwargs = {k: v for k, v in kwargs.items() if k in ("token_type_ids", "position_ids", "inputs_embeds")}
        logits = self.head(self.features(input_ids, attention_mask, **kwargs))
        return SequenceClassifierOutput(loss=self.loss(logits, labels) if labels is not None else None, logits=logits)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss config.problem_type names, as transformers' own classifiers compute it."""
        problem = getattr(self.config, "problem_type", None)
        if problem == "regression":
            return nn.functional.mse_loss(logits.squeeze(-1), labels.float().view(-1))
        if problem == "multi_label_classification":
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
        return nn.functional.cross_entropy(logits, labels)


def drop_pooler(encoder: nn.Module) -> None:
    """Remove an unused CLS pooler so its weights are neither saved nor left without gradients."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.register_module("pooler", None)
