"""What the endpoints share: the loaded model, its micro-batcher, its description, and whether it is ready."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textsift import files
from textsift.config import ServeConfig
from textsift.errors import TextsiftError
from textsift.modeling.settings import ModelSettings
from textsift.serving.explainer import Explainer
from textsift.serving.microbatch import MicroBatcher

if TYPE_CHECKING:
    from textsift.serving.http import ApiError, Metrics

log = logging.getLogger("textsift.serve")
_WARM_TEXT = "a short warm-up sentence for the model"
# Padding cost against per-pass overhead on 2 CPU cores: batches of 32 texts in arrival order ran 155 texts/s in
# one pass, 216 in passes of 16, 241 in passes of 8, 232 in passes of 4 (benchmarks/forward_batch.py).
_CPU_FORWARD_BATCH = 8


def read_api_key(path: Path | None) -> str | None:
    """The key in `path` (surrounding whitespace dropped), or None when no key file is configured."""
    if path is None:
        return None
    if not path.is_file():
        raise TextsiftError(f"{path}: no such API key file; write the key into it or drop --api-key-file")
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise TextsiftError(f"{path}: the API key file is empty; write a key into it")
    return key


@dataclass
class ModelHost:
    """What the endpoints share: the model, its batcher, its description, and whether it is ready."""

    folder: Path
    cfg: ServeConfig
    metrics: Metrics
    api_key: str | None
    classifier: Any = None
    batcher: MicroBatcher | None = None
    executor: ThreadPoolExecutor | None = None  # one thread: the model is never called concurrently
    info: dict[str, Any] = field(default_factory=dict)
    state: str = "loading"  # loading -> ready -> draining, or loading -> failed
    problem: str = ""
    explainer: Explainer | None = None  # made on the first /v1/explain

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.info.get("name", self.folder.name), "version": self.info.get("version", "")}

    def ready_batcher(self) -> MicroBatcher:
        """The batcher, or a 503 saying why the model cannot answer yet."""
        from textsift.serving.http import ApiError

        if self.state == "ready" and self.batcher is not None:
            return self.batcher
        raise self.not_ready_error(ApiError)

    def not_ready_error(self, error: type[ApiError]) -> ApiError:
        why = {"loading": "the model is still loading; retry shortly", "draining": "the server is shutting down",
               "failed": f"the model failed to load ({self.problem})"}[self.state]
        return error(503, "load_failed" if self.state == "failed" else "not_ready", why, {"Retry-After": "1"})

    async def start(self) -> None:
        """Load and warm the model off the event loop, then open the batcher; /healthz answers meanwhile."""
        # Fresh per lifespan, so an app can be started again after a shutdown (test clients do that).
        self.state, self.executor = "loading", ThreadPoolExecutor(1, thread_name_prefix="textsift-model")
        try:
            self.classifier, self.info, per_text = await asyncio.get_running_loop().run_in_executor(self.executor,
                                                                                                     self._load)
        except Exception as e:  # noqa: BLE001 - reported by /readyz and the log; the process stays up for probes
            self.state, self.problem = "failed", (str(e).strip().splitlines() or [type(e).__name__])[0]
            log.error("cannot serve %s: %s", self.folder, self.problem)
            return
        # A full collection walks the ~0.4 M objects torch and transformers leave behind (181 ms on 2 cores, seen
        # as 230 ms p95 spikes under load); frozen objects are never scanned again.
        gc.collect()
        gc.freeze()
        wait_s = self.cfg.max_wait_ms / 1000 if self.cfg.max_batch > 1 else 0.0
        self.batcher = MicroBatcher(partial(self.classifier.scores, batch_size=self.forward_batch),
                                    self.executor, max_batch=self.cfg.max_batch, max_wait_s=wait_s,
                                    on_batch=self.metrics.observe_batch, max_queued_texts=self.cfg.max_queued_texts,
                                    seconds_per_text=per_text, queue_wait_s=self.cfg.queue_wait_ms / 1000)
        self.batcher.start()
        self.metrics.queued.set_function(lambda: self.batcher.waiting if self.batcher else 0)
        self.metrics.wasted.set_function(lambda: self.batcher.wasted_s if self.batcher else 0.0)
        self.state = "ready"
        log.info("serving %s (version %s), labels %s", self.ref["name"], self.ref["version"], self.info["labels"])

    async def stop(self) -> None:
        """Answer everything already queued, cancel a running explanation, then release the model threads."""
        self.state = "draining" if self.state == "ready" else self.state
        if self.explainer is not None:
            await asyncio.to_thread(self.explainer.close)
            self.explainer = None
        if self.batcher is not None:
            await self.batcher.close()
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    def begin_shutdown(self) -> None:
        """Called from the SIGTERM handler: explanations end (the running one cancelled, new ones refused), while
        predictions already on their way are still answered."""
        self.explainer = self.explainer or Explainer(self.classifier)
        self.explainer.cancel()

    def explainer_for_model(self) -> Explainer:
        if self.explainer is None:
            self.explainer = Explainer(self.classifier)
        return self.explainer

    @property
    def forward_batch(self) -> int:
        return self.forward_batch_for(self.classifier)

    def forward_batch_for(self, classifier: Any) -> int:
        if self.cfg.forward_batch is not None:
            return self.cfg.forward_batch
        device = getattr(classifier, "device", None)  # absent on classifier-like objects passed in by callers
        return self.cfg.max_batch if getattr(device, "type", "cpu") == "cuda" else _CPU_FORWARD_BATCH

    def _load(self) -> tuple[Any, dict[str, Any], float]:
        from textsift.inference.load import load

        classifier = self.classifier if self.classifier is not None else load(self.folder, self.cfg.device)
        # The first calls pay for lazy initialisation (thread pools, kernels); keep that off the first request. The
        # second, timed, seeds the batcher's estimate of a text's cost, which admission control starts from.
        item = (_WARM_TEXT, _WARM_TEXT) if classifier.task.pairs else _WARM_TEXT
        classifier.scores([item])
        warm = [item] * min(self.cfg.max_batch, 8)
        started = time.perf_counter()
        classifier.scores(warm, batch_size=self.forward_batch_for(classifier))
        per_text = (time.perf_counter() - started) / len(warm)
        return classifier, describe_model(self.folder, classifier.settings), per_text


def describe_model(folder: Path, settings: ModelSettings) -> dict[str, Any]:
    """Name, version, labels, training facts and metrics of a model folder, without local file paths."""
    metrics = None
    if (folder / "metrics.json").is_file():
        try:
            metrics = without_paths(json.loads((folder / "metrics.json").read_text()))
        except json.JSONDecodeError:
            log.warning("%s/metrics.json is not valid JSON; /v1/models will show no metrics", folder)
    data = {split: {"sha256": fp.sha256, "rows": fp.rows, "label_counts": fp.label_counts}
            for split, fp in settings.data.items()}
    return {
        "name": folder.resolve().name, "version": fingerprint(folder), "labels": list(settings.labels),
        "task": settings.task, "inputs": ["text", "text_pair"] if settings.task.startswith("pair") else ["text"],
        "thresholds": settings.thresholds, "backbone": settings.backbone, "strategy": settings.strategy,
        "pooling": settings.pooling, "max_length": settings.max_length, "textsift_version": settings.textsift_version,
        "training_data": data, "metrics": metrics,
    }


# Keys under which textsift records local paths (data files, export sources); a client has no business with them.
PATH_KEYS = {"file", "data_file", "source", "teacher", "train_file", "validation_file", "out"}


def without_paths(value: Any) -> Any:
    """`value` with every path-valued key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items() if k not in PATH_KEYS}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return value


def fingerprint(folder: Path) -> str:
    """First 12 hex digits of the sha256 of the weight files: changes exactly when the model does."""
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.onnx")) or [folder / "textsift.json"]
    if len(weights) == 1:
        return files.sha256(weights[0])[:12]  # already hashed (and remembered) when the folder was verified
    digest = hashlib.sha256()
    for path in weights:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:12]


