"""Which words drove a prediction: Layer Integrated Gradients on the input embeddings, summed per word.

The baseline is the same sequence with every non-special token replaced by the pad token, so an attribution says
how much a word moved the explained output away from "an empty text of this length". The output is the task's:
a class's logit, a label's logit (multi-label) or the predicted value (regression, in standardised units). For a
pair model both texts are attributed; each word records which text it is in.
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
from textsift.data.io import Item
from textsift.errors import Cancelled, TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier
from textsift.modeling.settings import read_settings

# Time grows linearly with steps and with length; BENCHMARKS.md ("Explain") measures both and the error |delta|.
DEFAULT_STEPS = ExplainConfig.steps


@dataclass
class Explanation:
    """Per-word attributions of one text (or pair) towards one output.

    `scores[i]` belongs to `words[i]`, the substring `spans[i]` of `text`, or of `text_pair` when `segments[i]` is
    1; positive scores push towards `label`. Their sum approximates `logit - baseline_logit` (IG completeness);
    `delta` is Captum's error of it. `probability` is the task's score of `label` (a regression's predicted value).
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
    text_pair: str | None = None
    segments: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (spans become lists)."""
        out = asdict(self)
        out["spans"] = [list(s) for s in self.spans]
        return out


def explain(
    model: Classifier | Path | str, text: str, *, steps: int = DEFAULT_STEPS, target: str | None = ExplainConfig.target,
    stop: Callable[[], bool] | None = None, chunk: int | None = None, text_pair: str | None = None,
) -> Explanation:
    """Attribute the prediction for `text` (or the label `target`) to its words.

    Args:
        model: a loaded torch `Classifier` or a model folder written by `textsift train`.
        text: the text to explain; only its first `max_length` tokens are seen by the model.
        steps: integration steps; more steps shrink `delta` and cost proportionally more time.
        target: label to explain; default the predicted one (a regression has one output).
        stop: asked before each chunk of steps; when it returns True the work ends with `Cancelled`.
        chunk: integration steps per forward pass (default all at once); with `stop`, how often it is asked.
        text_pair: the second text, for a pair model.
    """
    classifier = torch_classifier(model)
    if steps < 1:
        raise TextsiftError(f"steps must be at least 1, not {steps}")
    if not text.strip() or (text_pair is not None and not text_pair.strip()):
        raise TextsiftError("nothing to explain: the text is empty")
    if (text_pair is not None) != classifier.task.pairs:
        raise TextsiftError("a pair model explains two texts; pass the second one as well" if classifier.task.pairs
                            else "this model reads one text; drop the second text")
    require("captum", extra="explain")
    started = time.perf_counter()
    # The text as the model reads it (cleaned, personal data masked): the attributions are of those tokens.
    item = classifier.prepare([text if text_pair is None else (text, text_pair)])[0]
    text, text_pair = (item, None) if isinstance(item, str) else item
    enc = classifier.tokenizer(text, text_pair, truncation=True, max_length=classifier.max_length)
    ids = list(enc["input_ids"])
    words = word_keys(enc.sequence_ids(), enc.word_ids())
    base = [i if w is None else classifier.tokenizer.pad_token_id for i, w in zip(ids, words, strict=True)]
    logits = classifier.logits_from_ids([ids, base])
    # The same scores as Classifier.scores (temperature, thresholds, scaling included), without a second pass.
    scores = classifier.task.activate(logits[:1], classifier.settings)[0]
    t = classifier.task.explain_target(scores, classifier.settings, target)

    token_scores, delta = _integrate(classifier, ids, base, t, steps, stop, chunk)
    keys = list(dict.fromkeys(w for w in words if w is not None))
    spans, sums = words_from_pieces([None if w is None else keys.index(w) for w in words],
                                    [enc.word_to_chars(w, sequence_index=seg) for seg, w in keys], token_scores)
    sources = [text if seg == 0 else text_pair or "" for seg, _ in keys]
    return Explanation(
        text=text, words=[src[a:b] for src, (a, b) in zip(sources, spans, strict=True)], scores=sums,
        label=classifier.labels[t], probability=float(scores[t]), delta=delta, spans=spans,
        logit=float(logits[0, t]), baseline_logit=float(logits[1, t]), steps=steps,
        seconds=time.perf_counter() - started, text_pair=text_pair, segments=[seg for seg, _ in keys],
    )


def word_keys(sequence_ids: list[int | None], word_ids: list[int | None]) -> list[tuple[int, int] | None]:
    """(text, word) per token, None for special tokens: a pair's word ids restart in its second text."""
    return [None if w is None or s is None else (s, w) for s, w in zip(sequence_ids, word_ids, strict=True)]


def _integrate(classifier: Classifier, ids: list[int], base: list[int], target: int, steps: int,
               stop: Callable[[], bool] | None = None, chunk: int | None = None) -> tuple[np.ndarray, float]:
    """Per-token Layer IG attributions (summed over the embedding dimension) and Captum's convergence delta."""
    from captum.attr import LayerIntegratedGradients

    from textsift.inference.torch_backend import collate

    model = classifier.model.eval()
    device = classifier.device

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor, *segments: torch.Tensor) -> torch.Tensor:
        if stop is not None and stop():  # Captum calls this once per chunk of steps
            raise Cancelled("the explanation was cancelled")
        extra = {"token_type_ids": segments[0]} if segments else {}
        return model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    # The baseline keeps the attention mask (and segments) of the input: only word identity changes.
    inputs = {k: v.to(device) for k, v in collate([ids], classifier.tokenizer.pad_token_id, classifier.sep_id).items()}
    extra_args = (inputs["attention_mask"],) + ((inputs["token_type_ids"],) if "token_type_ids" in inputs else ())
    attributions, delta = LayerIntegratedGradients(forward, model.get_input_embeddings()).attribute(
        inputs["input_ids"], baselines=torch.tensor([base], device=device), target=target,
        additional_forward_args=extra_args, n_steps=steps, return_convergence_delta=True, internal_batch_size=chunk,
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
    seeded generator, and measure the drop in the explained output's score (probability, or value). Texts with `k`
    words or fewer are skipped. Returns the mean drops and how many texts were used.
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
    p_top = classifier.scores(top)[np.arange(len(used)), cols]
    p_rand = classifier.scores(rand)[np.arange(len(used)), cols]
    return {"k": k, "n": len(used), "top_drop": float((before - p_top).mean()),
            "random_drop": float((before - p_rand).mean())}


def remove_words(explanation: Explanation, indices: list[int]) -> Item:
    """The text (or pair) with the given words cut out, whitespace collapsed."""
    sources = [explanation.text] + ([explanation.text_pair] if explanation.text_pair is not None else [])
    segments = explanation.segments or [0] * len(explanation.spans)
    out = []
    for seg, source in enumerate(sources):
        parts, start = [], 0
        for i, (a, b) in enumerate(explanation.spans):
            if i in indices and segments[i] == seg:
                parts.append(source[start:a])
                start = b
        parts.append(source[start:])
        out.append(" ".join("".join(parts).split()))
    return out[0] if len(out) == 1 else (out[0], out[1])


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
