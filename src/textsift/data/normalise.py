"""Text normalisation before masking and training: Unicode NFKC, markup to text, control characters, whitespace;
and an offline language identifier for `data clean --lang`.

Each step reports whether it changed the text, so a cleaning report can count every change by type.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections import Counter
from typing import Any

from textsift._optional import require

# Only text that looks like markup goes through the parser: a tag (<p>, </div>, <br/>, <!-- ... -->) or an entity.
_MARKUP = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?|/[A-Za-z][A-Za-z0-9-]*\s*|!--.*?--)>"
                     r"|&(?:#\d+|#x[0-9A-Fa-f]+|\w+);", re.S)
# C0/C1 controls and the format characters that hide in copied text (zero-width spaces, BOM, bidi marks); tab and
# newline are whitespace and collapse with it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")
# The elements whose content is not text a reader sees.
_INVISIBLE = ("script", "style", "head", "template", "noscript")
# Elements that break a line; their text must not run into the next word ("end</p><p>start").
_BLOCKS = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article")


def normalise(text: str, *, characters: bool = True, markup: bool = False) -> tuple[str, Counter[str]]:
    """The normalised text and which steps changed it (markup, nfkc, control, whitespace), once each.

    Args:
        text: One text.
        characters: Unicode NFKC, control and zero-width characters removed, whitespace runs made one space.
        markup: Convert HTML to its visible text first (off by default: "if a<b and c>d" is not markup).
    """
    changes: Counter[str] = Counter()
    if markup and _MARKUP.search(text):
        stripped = html_to_text(text)
        changes["markup"] += stripped != text
        text = stripped
    if characters:
        nfkc = unicodedata.normalize("NFKC", text)
        changes["nfkc"] += nfkc != text
        visible = _CONTROL.sub("", nfkc)
        changes["control"] += visible != nfkc
        text = _SPACE.sub(" ", visible).strip()
        changes["whitespace"] += text != visible
    return text, +changes


def html_to_text(text: str) -> str:
    """The visible text of an HTML fragment, with block elements separated by spaces, entities decoded."""
    bs4 = require("bs4", extra="clean")
    # html.parser is the standard library's (no compiled parser to install); lenient with broken markup.
    soup = bs4.BeautifulSoup(text, "html.parser")
    for element in soup.find_all(_INVISIBLE):
        element.decompose()
    for element in soup.find_all(_BLOCKS):
        element.insert_before(" ")
        element.insert_after(" ")
    return html.unescape(soup.get_text())


@functools.cache
def _identifier() -> Any:
    langid = require("py3langid.langid", extra="clean")
    # The package's own model file: numpy arrays in LZMA, read without pickle.
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def language(text: str) -> tuple[str, float]:
    """The text's language (ISO 639-1 code) and its probability, from py3langid's bundled model (no download)."""
    code, probability = _identifier().classify(text)
    return str(code), float(probability)
