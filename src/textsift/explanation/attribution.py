"""Which words drove a prediction: Layer Integrated Gradients on the input embeddings, summed per word.

The baseline is the same sequence with every non-special token replaced by the pad token, so an attribution says
how much a word moved the explained class's logit away from "an empty text of this length".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textsift._optional import require
from textsift.config import ExplainConfig
from textsift.errors import Cancelled, TextsiftError
from textsift.inference.load import load
from textsift.inference.predictor import softmax
from textsift.inference.torch_backend import Classifier
from textsift.modeling.settings import read_settings

# Time grows linearly with steps and with length; BENCHMARKS.md ("Explain") measures both and the error |delta|.
DEFAULT_STEPS = ExplainConfig.steps


@dataclass
class Explanation:
    """Per-word attributions of one text towards one class.

    `scores[i]` belongs to `words[i]`, the substring `text[spans[i][0]:spans[i][1]]`; positive scores push towards
    `label`. Their sum approximates `logit - baseline_logit` (IG completeness); `delta` is Captum's error of it.
    """

    text: str
    words: list[str]
    scores: list[float]
    label: str
    probability: float
    delta: float
    spans: list[tuple[int, int]] = field(default_factory=list)
    logit: float = 0.0
    baseline_logit: float = 0.0
    steps: int = DEFAULT_STEPS
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (spans become lists)."""
        out = asdict(self)
        out["spans"] = [list(s) for s in self.spans]
        return out


def explain(
    model: Classifier | Path | str, text: str, *, steps: int = DEFAULT_STEPS, target: str | None = ExplainConfig.target,
    stop: Callable[[], bool] | None = None, chunk: int | None = None,
) -> Explanation:
    """Attribute the prediction for `text` (or the class `target`) to its words.

    Args:
        model: a loaded torch `Classifier` or a model folder written by `textsift train`.
        text: the text to explain; only its first `max_length` tokens are seen by the model.
        steps: integration steps; more steps shrink `delta` and cost proportionally more time.
        target: class name to explain; default the predicted class.
        stop: asked before each chunk of steps; when it returns True the work ends with `Cancelled`.
        chunk: integration steps per forward pass (default all at once); with `stop`, how often it is asked.
    """
    classifier = torch_classifier(model)
    if steps < 1:
        raise TextsiftError(f"steps must be at least 1, not {steps}")
    if not text.strip():
        raise TextsiftError("nothing to explain: the text is empty")
    require("captum", extra="explain")
    started = time.perf_counter()
    enc = classifier.tokenizer(text, truncation=True, max_length=classifier.max_length)
    word_ids = enc.word_ids()
    ids = list(enc["input_ids"])
    base = [i if w is None else classifier.tokenizer.pad_token_id for i, w in zip(ids, word_ids, strict=True)]
    logits = classifier.logits_from_ids([ids, base])
    # Same probabilities as Classifier.predict_proba (temperature included), without a second forward pass.
    probs = softmax(logits[:1], classifier.settings.temperature)[0]
    t = _target_index(classifier, target, int(probs.argmax()))

    token_scores, delta = _integrate(classifier, ids, base, t, steps, stop, chunk)
    spans, scores = words_from_pieces(word_ids, [enc.word_to_chars(w) for w in range(_n_words(word_ids))],
                                      token_scores)
    return Explanation(
        text=text, words=[text[a:b] for a, b in spans], scores=scores, label=classifier.labels[t],
        probability=float(probs[t]), delta=delta, spans=spans, logit=float(logits[0, t]),
        baseline_logit=float(logits[1, t]), steps=steps, seconds=time.perf_counter() - started,
    )


def _integrate(classifier: Classifier, ids: list[int], base: list[int], target: int, steps: int,
               stop: Callable[[], bool] | None = None, chunk: int | None = None) -> tuple[np.ndarray, float]:
    """Per-token Layer IG attributions (summed over the embedding dimension) and Captum's convergence delta."""
    from captum.attr import LayerIntegratedGradients

    model = classifier.model.eval()
    device = classifier.device

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if stop is not None and stop():  # Captum calls this once per chunk of steps
            raise Cancelled("the explanation was cancelled")
        return model(input_ids=input_ids, attention_mask=attention_mask).logits

    # The baseline keeps the attention mask of the input: pads are attended, so only word identity changes.
    input_ids = torch.tensor([ids], device=device)
    attributions, delta = LayerIntegratedGradients(forward, model.get_input_embeddings()).attribute(
        input_ids, baselines=torch.tensor([base], device=device), target=target,
        additional_forward_args=(torch.ones_like(input_ids),), n_steps=steps, return_convergence_delta=True,
        internal_batch_size=chunk,
    )
    return attributions.sum(-1)[0].detach().float().cpu().numpy(), float(delta.item())


def words_from_pieces(
    word_ids: list[int | None], word_spans: list[Any], token_scores: np.ndarray
) -> tuple[list[tuple[int, int]], list[float]]:
    """Sum word-piece scores into words; special tokens (word id None) are dropped.

    `word_spans[w]` is the character span of word `w` (a tokenizers CharSpan or a (start, end) pair).
    """
    sums = [0.0] * len(word_spans)
    for w, score in zip(word_ids, token_scores, strict=True):
        if w is not None:
            sums[w] += float(score)
    return [(int(s[0]), int(s[1])) for s in word_spans], sums


def deletion_test(classifier: Classifier, explanations: list[Explanation], *, k: int = 3,
                  seed: int = 0) -> dict[str, float]:
    """Sanity check that attributions are not noise.

    For each explanation, delete its `k` highest-scoring words, then (separately) `k` words drawn at random with a
    seeded generator, and measure the drop in the explained class's probability. Texts with `k` words or fewer are
    skipped. Returns the mean drops and how many texts were used.
    """
    rng = random.Random(seed)
    used = [e for e in explanations if len(e.words) > k]
    if not used:
        return {"k": k, "n": 0, "top_drop": float("nan"), "random_drop": float("nan")}
    top, rand = [], []
    for e in used:
        best = sorted(range(len(e.words)), key=lambda i: -e.scores[i])[:k]
        top.append(remove_words(e, best))
        rand.append(remove_words(e, rng.sample(range(len(e.words)), k)))
    # One batched pass per variant; the drop is measured on the class each explanation explains.
    cols = [classifier.labels.index(e.label) for e in used]
    before = np.array([e.probability for e in used])
    p_top = classifier.predict_proba(top)[np.arange(len(used)), cols]
    p_rand = classifier.predict_proba(rand)[np.arange(len(used)), cols]
    return {"k": k, "n": len(used), "top_drop": float((before - p_top).mean()),
            "random_drop": float((before - p_rand).mean())}


def remove_words(explanation: Explanation, indices: list[int]) -> str:
    """The text with the given words cut out, whitespace collapsed."""
    drop = set(indices)
    parts, start = [], 0
    for i, (a, b) in enumerate(explanation.spans):
        if i in drop:
            parts.append(explanation.text[start:a])
            start = b
    parts.append(explanation.text[start:])
    return " ".join("".join(parts).split())


def torch_classifier(model: Classifier | Path | str) -> Classifier:
    """A loaded torch Classifier (loading a folder if needed); ONNX models are refused, they have no gradients."""
    if isinstance(model, str | Path):
        folder = Path(model)
        loaded = load(folder) if read_settings(folder).backend == "torch" else None
        if not isinstance(loaded, Classifier):
            raise TextsiftError(f"{folder}: explain needs gradients, which an ONNX model folder has not; "
                                "pass the torch model folder it was exported from")
        return loaded
    if not isinstance(model, Classifier) or not isinstance(model.model, torch.nn.Module):
        raise TextsiftError("explain needs gradients, which an ONNX model has not; load the torch model folder")
    return model


def _target_index(classifier: Classifier, target: str | None, predicted: int) -> int:
    if target is None:
        return predicted
    if target not in classifier.labels:
        raise TextsiftError(f"unknown target class {target!r}; the model's classes are {', '.join(classifier.labels)}")
    return classifier.labels.index(target)


def _n_words(word_ids: list[int | None]) -> int:
    return max((w for w in word_ids if w is not None), default=-1) + 1
