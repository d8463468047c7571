"""The exceptions users see (the CLI prints their message as a single line and exits non-zero), and Cancelled."""

from __future__ import annotations

from pathlib import Path


class TextsiftError(Exception):
    """A problem the user can fix: the message says where and what to do."""


class DataError(TextsiftError):
    """Bad input data, located by file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str, fix: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}; {fix}")
        self.path, self.line = Path(path), line


class MissingExtraError(TextsiftError):
    """An optional dependency is not installed; the message gives the exact pip command that brings it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed; this feature needs it: pip install 'textsift[{extra}]'")
        self.module, self.extra = module, extra


class Cancelled(Exception):
    """Work stopped part-way because its caller asked (a timeout, a client gone, a shutdown)."""
