"""The placeholders masked personal data is replaced with: `<EMAIL>`, or `<EMAIL_3>` when pseudonymised.

One pattern for every module that must recognise them (masking writes them, augmentation never edits them).
"""

from __future__ import annotations

import re

# An upper-case type name in angle brackets, maybe numbered: <EMAIL>, <PHONE_12>, <IBAN_1>.
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9]*(?:_\d+)?>")


def placeholder(kind: str, number: int | None = None) -> str:
    """The placeholder for a PII type (`email` -> `<EMAIL>`), numbered when `number` is given (`<EMAIL_3>`)."""
    name = kind.upper()
    return f"<{name}>" if number is None else f"<{name}_{number}>"
