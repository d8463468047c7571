"""Is a model folder whole, and does it say what its weights do? Checked on every load, without torch.

textsift.json lists the sha256 of every file written with it and is written last, so a folder left half-written by
a crash, or changed by hand (a planted `modeling_textsift.py` included), no longer matches and is refused. The labels
in textsift.json must equal the `id2label` of config.json, which the weights were saved with: a wrong count or two
swapped names would otherwise mislabel every prediction without a word.
"""

from __future__ import annotations

import json
from pathlib import Path

from textsift import files
from textsift.errors import TextsiftError
from textsift.modeling.settings import SETTINGS_FILE, ModelSettings


def verify(folder: Path, settings: ModelSettings) -> None:
    """Refuse, with one line, a folder whose files or labels do not match its textsift.json."""
    check_files(folder, settings)
    check_labels(folder, settings)


# Rewritten after the weights (history, card) and read by no loader, so not part of what must match.
NOT_LISTED = {SETTINGS_FILE, "metrics.json", "README.md"}


def manifest(folder: Path) -> dict[str, str]:
    """sha256 of each file directly in `folder` that a loader reads, by name."""
    return {p.name: files.sha256(p) for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in NOT_LISTED and not p.name.startswith(".")}


def check_files(folder: Path, settings: ModelSettings) -> None:
    for name, expected in settings.files.items():
        path = folder / name
        if not path.is_file():
            raise TextsiftError(f"{folder}: {name} is missing; the folder is incomplete, train or export it again")
        if files.sha256(path) != expected:
            raise TextsiftError(f"{path}: differs from the sha256 recorded in textsift.json; the folder was changed "
                                "or half-written, train or export it again")


def check_labels(folder: Path, settings: ModelSettings) -> None:
    path = folder / "config.json"
    if not path.is_file():
        return  # the backends say that config.json is missing
    try:
        id2label = json.loads(path.read_text(encoding="utf-8")).get("id2label")
        if not isinstance(id2label, dict):
            return  # not written by textsift's builders; nothing to compare
        names = [str(id2label[k]) for k in sorted(id2label, key=int)]
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ValueError):
        raise TextsiftError(f"{path}: not a valid model config; train or export the folder again") from None
    if names == settings.labels:
        return
    if sorted(names) == sorted(settings.labels):
        raise TextsiftError(f"{folder}: textsift.json orders the labels {settings.labels} but the weights were saved "
                            f"with {names}; every prediction would be mislabelled, restore textsift.json")
    raise TextsiftError(f"{folder}: textsift.json has {len(settings.labels)} labels {settings.labels} but the weights "
                        f"were saved with {len(names)}: {names}; restore textsift.json or train again")
