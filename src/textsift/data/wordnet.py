"""Synonyms from WordNet 3.0, read straight from its `data.<pos>` files (the wndb(5WN) format).

Debian's `wordnet-base` installs them in /usr/share/wordnet; nltk's `corpora/wordnet` folder holds the same files.
nltk's own reader is not used: it wants a `lexnames` file Debian does not ship, and the format is simple enough.
"""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from textsift.errors import TextsiftError

WORDNET_ENV = "TEXTSIFT_WORDNET"
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")
DEFAULT_FOLDERS = (
    Path("/usr/share/wordnet"),
    Path.home() / "nltk_data" / "corpora" / "wordnet",
    Path("/usr/share/nltk_data/corpora/wordnet"),
)
# A plain lower-case word, maybe hyphenated or with an apostrophe ("well-made", "o'clock"). Capitalised lemmas are
# names ("Paris", "Einstein") and multi-word ones ("physical_entity") would split one token into several.
SINGLE_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
# An adjective's syntactic marker, glued to the lemma: "galore(ip)", "outback(a)", "ready_to_hand(p)".
ADJECTIVE_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def find_wordnet(explicit: Path | None = None) -> Path:
    """The WordNet dict folder: the first of `explicit`, $TEXTSIFT_WORDNET and the usual install places that holds
    a `data.noun` file.

    Args:
        explicit: a folder the user named (`--wordnet DIR`); when given, only it and $TEXTSIFT_WORDNET are tried.

    Raises:
        TextsiftError: no folder holds WordNet; the message says how to install it or point at it.
    """
    env = os.environ.get(WORDNET_ENV)
    named = [Path(p) for p in (explicit, env) if p]
    for folder in named or DEFAULT_FOLDERS:
        if (folder / "data.noun").is_file():
            return folder
    tried = ", ".join(str(p) for p in named or DEFAULT_FOLDERS)
    raise TextsiftError(f"WordNet not found (no data.noun in {tried}); install it with `apt install wordnet-base` "
                        f"or pass --wordnet DIR (or set ${WORDNET_ENV}) to a folder holding data.noun, data.verb ...")


@functools.cache
def synonyms(folder: Path) -> dict[str, tuple[str, ...]]:
    """Every single-word lower-case lemma of WordNet mapped to its synonyms: the other single-word lemmas of all the
    synsets (any part of speech) it belongs to, sorted, so a seeded choice among them is reproducible.

    Read once per folder (0.7 s and a 30 MB peak on WordNet 3.0, keeping ~10 MB for the 44k words that have a
    synonym); words without one are left out.

    Args:
        folder: a WordNet dict folder, as `find_wordnet` returns.

    Raises:
        TextsiftError: a `data.<pos>` file is missing or not in the WordNet format.
    """
    related: defaultdict[str, set[str]] = defaultdict(set)
    for pos in PARTS_OF_SPEECH:
        for lemmas in read_synsets(folder / f"data.{pos}"):
            words = {w for w in lemmas if SINGLE_WORD.fullmatch(w)}
            if len(words) < 2:
                continue
            for word in words:
                related[word].update(words)
    return {word: tuple(sorted(others - {word})) for word, others in sorted(related.items())}


def read_synsets(path: Path) -> Iterator[list[str]]:
    """The lemmas of each synset in one `data.<pos>` file, in file order, with `_` turned back into spaces and
    adjective markers dropped (`ready_to_hand(p)` -> `ready to hand`); case is kept as WordNet has it.

    A line is `synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt ...`, w_cnt being two
    hexadecimal digits; lines starting with two spaces are the licence header.
    """
    if not path.is_file():
        raise TextsiftError(f"{path}: missing; a WordNet folder holds data.noun, data.verb, data.adj and data.adv "
                            "(`apt install wordnet-base`)")
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith("  ") or not line.strip():
                continue
            yield _lemmas(path, number, line)


def _lemmas(path: Path, number: int, line: str) -> list[str]:
    # Split off only the fields we need: the pointers and gloss after the words can be most of a long line.
    head = line.split(" ", 4)
    try:
        count = int(head[3], 16)
        fields = head[4].split(" ", 2 * count)
    except (IndexError, ValueError):
        raise TextsiftError(f"{path}:{number}: not a WordNet data line (expected 'offset lex_filenum ss_type "
                            "w_cnt word lex_id ...'); point --wordnet at a WordNet 3.0 dict folder") from None
    if len(fields) <= 2 * count - 1:
        raise TextsiftError(f"{path}:{number}: the line promises {count} words but has fewer; the file is truncated")
    return [ADJECTIVE_MARKER.sub("", word).replace("_", " ") for word in fields[0:2 * count:2]]
