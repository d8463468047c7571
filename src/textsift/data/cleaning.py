"""What is done to each text before a model reads it: normalisation, then masking of personal data.

`TextCleaner` is the one implementation: `data clean` runs it over files, training over its rows and every
backend over its inputs (through the model folder's settings), so the model never sees text cleaned differently
from the text it was trained on.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from typing import TYPE_CHECKING

from textsift.config import CleanConfig
from textsift.data.normalise import normalise

if TYPE_CHECKING:
    from textsift.data.pii import Masker


class TextCleaner:
    """Clean texts as a CleanConfig says.

    Pseudonyms (`<EMAIL_1>`) are numbered within each text unless `file_scope`: then one numbering runs over
    every text this cleaner sees, as `data clean` numbers them across a file.
    """

    def __init__(self, cfg: CleanConfig, *, file_scope: bool = False) -> None:
        self.cfg, self.file_scope = cfg, file_scope
        self.kinds: tuple[str, ...] = ()
        self._masker: Masker | None = None
        if cfg.mask_pii:
            from textsift.data.pii import Masker, parse_types

            self.kinds = parse_types(cfg.pii_types)
            self._masker = Masker(self.kinds, cfg.phone_region, cfg.pseudonymise)  # checks the region now

    def clean(self, text: str) -> tuple[str, Counter[str]]:
        """The cleaned text and what changed: normalisation steps by name, masked values as `pii:<type>`."""
        changes: Counter[str] = Counter()
        if self.cfg.normalise or self.cfg.markup:
            text, changes = normalise(text, characters=self.cfg.normalise, markup=self.cfg.markup)
        if self._masker is not None:
            text, masked = self._text_masker(self._masker).mask(text)
            changes.update({f"pii:{kind}": n for kind, n in masked.items()})
        return text, changes

    def __call__(self, text: str) -> str:
        return self.clean(text)[0]

    def _text_masker(self, shared: Masker) -> Masker:
        if not self.cfg.pseudonymise or self.file_scope:
            return shared
        from textsift.data.pii import Masker

        return Masker(self.kinds, self.cfg.phone_region, pseudonymise=True)  # numbering starts again per text


def text_cleaner(cfg: CleanConfig | None) -> TextCleaner | None:
    """The (shared, text-scoped) cleaner of a model's settings, or None when they change nothing."""
    if cfg is None or not cfg.active:
        return None
    return _cleaner(dataclasses.astuple(cfg))


@functools.cache
def _cleaner(values: tuple[object, ...]) -> TextCleaner:
    return TextCleaner(CleanConfig(*values))  # type: ignore[arg-type]
