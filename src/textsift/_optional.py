"""Import optional heavy dependencies only where they are used, with an exact install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from textsift.errors import MissingExtraError


def require(module: str, *, extra: str) -> ModuleType:
    """Import `module`, or raise `MissingExtraError` naming the textsift extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None
