"""Which folder the monitor scores with: given a torch model folder, its int8 ONNX export, found or made once.

Decision: a torch folder does not record its exports, but every export records its torch folder (`source` in its
textsift.json). So, in this order:
  1. an ONNX folder given as MODEL_DIR is used as it is;
  2. an int8 export beside the torch folder (a sibling folder whose textsift.json says onnx, int8, and `source`
     = this torch folder, written after the torch folder's own textsift.json, so not an export of older weights);
  3. an int8 export in the textsift cache ($TEXTSIFT_CACHE, else the user cache dir) under monitor-int8/, named
     after the torch folder and the sha256 of its textsift.json (which lists the sha256 of every weight file, so
     retrained weights never meet an old export), exported there on first use;
  4. the torch folder itself, with a warning, when the export cannot be made (no onnx extra, or parity failed).
`--no-int8` keeps the torch folder. The cache is not put beside the store: a PostgreSQL store has no "beside", and
one export serves every store and worker on the machine. Word attributions still come from the torch folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from textsift.errors import TextsiftError
from textsift.modeling.settings import SETTINGS_FILE, ModelSettings, read_settings

log = logging.getLogger("textsift")
SIBLINGS = 200  # folders beside the torch folder looked at, at most: a model folder's parent is rarely a big one


def scoring_folder(model_dir: Path, int8: bool = True) -> tuple[Path, str]:
    """The folder to score with, and one line saying which model that is and why."""
    settings = read_settings(model_dir)
    if settings.backend == "onnx":
        return model_dir, f"{model_dir} (ONNX{' int8' if settings.quantize else ''}, as given)"
    if not int8:
        return model_dir, f"{model_dir} (torch, as given with --no-int8)"
    if settings.task.startswith("pair"):
        return model_dir, f"{model_dir} (torch)"  # refused by the pipeline anyway: one text per event
    beside = export_beside(model_dir)
    if beside is not None:
        return beside, f"{beside} (int8 ONNX export of {model_dir}, found beside it)"
    cached = cache_folder(model_dir)
    if _is_export_of(cached, model_dir):
        return cached, f"{cached} (int8 ONNX export of {model_dir}, from the cache)"
    try:
        made = _export(model_dir, cached)
    except (TextsiftError, ImportError, OSError) as e:
        log.warning("scoring with the torch folder %s: no int8 export of it could be made (%s); "
                    "`textsift export %s --quantize int8` makes one, --no-int8 silences this", model_dir,
                    str(e).splitlines()[0], model_dir)
        return model_dir, f"{model_dir} (torch; the int8 export failed)"
    return made, f"{made} (int8 ONNX export of {model_dir}, made now into the cache)"


def export_beside(model_dir: Path) -> Path | None:
    """The newest int8 export of `model_dir` among its sibling folders, if one is not older than it."""
    found = []
    try:
        siblings = sorted(model_dir.resolve().parent.iterdir())[:SIBLINGS]
    except OSError:
        return None
    for folder in siblings:
        if folder != model_dir.resolve() and _is_export_of(folder, model_dir):
            found.append(folder)
    return max(found, key=lambda f: (f / SETTINGS_FILE).stat().st_mtime, default=None)


def cache_folder(model_dir: Path) -> Path:
    from platformdirs import user_cache_dir

    root = Path(os.environ.get("TEXTSIFT_CACHE") or user_cache_dir("textsift"))
    digest = hashlib.sha256((model_dir / SETTINGS_FILE).read_bytes()).hexdigest()[:12]
    return root / "monitor-int8" / f"{model_dir.resolve().name}-{digest}"


def _is_export_of(folder: Path, model_dir: Path) -> bool:
    settings = _settings(folder)
    if settings is None or settings.backend != "onnx" or settings.quantize != "int8" or not settings.source:
        return False
    if Path(settings.source).resolve() != model_dir.resolve():
        return False
    return (folder / SETTINGS_FILE).stat().st_mtime >= (model_dir / SETTINGS_FILE).stat().st_mtime


def _settings(folder: Path) -> ModelSettings | None:
    if not (folder / SETTINGS_FILE).is_file():
        return None
    try:
        return read_settings(folder)
    except TextsiftError:
        return None  # a broken folder beside the model is not ours to judge


def _export(model_dir: Path, out: Path) -> Path:
    from textsift.exporting.onnx import export

    log.warning("exporting %s to int8 ONNX once, into %s (a minute or so; later runs reuse it)", model_dir, out)
    try:
        return export(model_dir.resolve(), out, quantize="int8")  # absolute: its `source` must find the folder
    except TextsiftError:
        if _is_export_of(out, model_dir):  # another process exported it meanwhile
            return out
        raise
