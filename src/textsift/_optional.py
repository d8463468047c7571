"""Import optional heavy dependencies only where they are used, with an exact install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from textsift.errors import TextsiftError


def require(module: str, *, extra: str) -> ModuleType:
    """Import `module`, or explain which textsift extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TextsiftError(
            f"{module} is not installed; this feature needs it: pip install 'textsift[{extra}]'"
        ) from None
