"""`load(folder)`: the folder's textsift.json picks the backend; torch is imported only for a torch folder."""

from __future__ import annotations

import logging
from pathlib import Path

from textsift.inference.predictor import Predictor
from textsift.modeling.integrity import verify
from textsift.modeling.settings import read_settings

log = logging.getLogger("textsift")


def load(folder: Path | str, device: str = "cpu", *, num_threads: int | None = None) -> Predictor:
    """Load a model folder written by textsift; refuses foreign or damaged folders with a clear message.

    `device` is "cpu", "cuda", "cuda:1" … or "auto" (a GPU when there is one); ONNX folders always run on CPU.
    `num_threads` caps the CPU threads of inference (None: torch's own default, ONNX every core this process may
    use); for torch it is the whole process's setting (`torch.set_num_threads`), as several processes sharing the
    cores need (the Dask recipe's workers). A torch folder gives a `Classifier`, an exported one an
    `OnnxClassifier`; both predict alike.
    """
    folder = Path(folder)
    settings = read_settings(folder)
    verify(folder, settings)  # whole, unaltered, and labelled as its weights were saved
    if settings.backend == "onnx":  # written by `textsift export`; same interface, ONNX Runtime inside
        from textsift.inference.onnx_backend import load_onnx

        if device not in ("auto", "cpu"):
            log.warning("%s is an ONNX folder, which runs on the CPU; ignoring device %r", folder, device)
        return load_onnx(folder, settings, num_threads)
    from textsift.inference.torch_backend import load_torch

    return load_torch(folder, settings, device, num_threads)
