"""The torch model folder: a plain Hugging Face folder (config.json, model.safetensors, tokenizer files) plus
textsift.json. A mean-pooled folder also carries its model class as `modeling_textsift.py`, so plain transformers
loads it with `trust_remote_code=True`; textsift itself never runs code from a folder.
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from textsift import files
from textsift.errors import TextsiftError
from textsift.modeling import heads, integrity
from textsift.modeling.settings import REMOTE_CODE_FILE, ModelSettings, read_settings, write_settings


def save_folder(model: PreTrainedModel, tokenizer: Any, settings: ModelSettings, folder: Path | str,
                extra: Callable[[Path], None] | None = None) -> Path:
    """Write a folder that both textsift and plain transformers can load, never leaving it half-written.

    Everything is written into a staging folder inside `folder` first; then each file is renamed into place and
    textsift.json, listing every file's sha256, comes last. Until then the folder's previous contents stay
    consistent with its previous textsift.json; a crash in between leaves files that `load` sees do not match.
    `extra` writes more into the staging folder (LoRA: the adapter's subfolder); its files are listed too.
    """
    folder = Path(folder)
    files.writable_dir(folder)
    with tempfile.TemporaryDirectory(prefix=".saving-", dir=folder) as tmp:
        stage = Path(tmp)
        if settings.pooling == "mean":
            model.config.auto_map = {
                "AutoModelForSequenceClassification": f"{REMOTE_CODE_FILE[:-3]}.MeanPoolingForSequenceClassification"
            }
            _write_remote_code(stage, type(model.config).__name__)
        model.save_pretrained(stage, safe_serialization=True)
        tokenizer.save_pretrained(stage)
        if extra is not None:
            extra(stage)
        written = _manifest(stage)
        for name in written:
            (folder / name).parent.mkdir(exist_ok=True)
            files.publish(stage / name, folder / name)
    for stale in set(_listed_files(folder)) - set(written):  # e.g. the model code of an earlier mean-pooled run
        (folder / stale).unlink(missing_ok=True)
    write_settings(folder, dataclasses.replace(settings, files=written))
    return folder


def _manifest(stage: Path) -> dict[str, str]:
    # The files at the top and, by their relative path, those one subfolder down (a LoRA adapter's).
    listed = integrity.manifest(stage)
    for sub in sorted(p for p in stage.iterdir() if p.is_dir()):
        listed |= {f"{sub.name}/{name}": digest for name, digest in integrity.manifest(sub).items()}
    return listed


def _listed_files(folder: Path) -> dict[str, str]:
    try:
        return read_settings(folder).files
    except TextsiftError:
        return {}


def load_weights(folder: Path, settings: ModelSettings) -> tuple[PreTrainedModel, Any]:
    """The network (on CPU, in eval mode) and tokenizer of a torch folder; a damaged folder is one clear line."""
    for needed in ("config.json", "model.safetensors"):
        if not (folder / needed).is_file():
            raise TextsiftError(f"{folder}: {needed} is missing; the folder is incomplete, train or export it again")
    try:
        model: PreTrainedModel
        if settings.pooling == "mean":
            # textsift's own class, never the folder's copy of it: no code from a model folder runs here.
            config = AutoConfig.from_pretrained(folder)
            model = heads.MeanPoolingForSequenceClassification.from_pretrained(
                folder, config=config, use_safetensors=True
            )
        else:
            model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001 - any failure here means a damaged folder; say so in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextsiftError(f"{folder}: cannot load the model ({first}); the files are damaged, retrain") from None
    return model.eval(), tokenizer


def _write_remote_code(folder: Path, config_class: str) -> None:
    # Plain transformers checks that a remote model class names the config class it was loaded with.
    source = inspect.getsource(heads)
    source += "\n\nimport transformers as _t  # noqa: E402\n\n"
    source += f"MeanPoolingForSequenceClassification.config_class = _t.{config_class}\n"
    files.write_text(folder / REMOTE_CODE_FILE, source)
