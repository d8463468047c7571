"""EDA-style text augmentation (Wei & Zou, 2019): synonym replacement, random swap, deletion and insertion.

A text is split on whitespace; a token's surrounding punctuation stays where it is ("movie." swapped with "A" gives
"movie" and "A." in each other's place) and the text is joined back with single spaces. Only word tokens (letters,
maybe hyphens or apostrophes, punctuation around them) are edited; numbers, symbols and every token holding a masked
placeholder (`<EMAIL>`, `<PHONE_3>`, also "(<EMAIL>),") are never replaced, deleted, moved or used as a source of
synonyms, and insertions go between tokens, so none is ever split. Each row draws from its own random generator,
seeded from (seed, row), so a file gives the same copies however it is streamed or split.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textsift.data.config import AugmentConfig
from textsift.data.placeholders import PLACEHOLDER
from textsift.data.rows import RowWriter, columns_of, read_rows
from textsift.data.wordnet import find_wordnet, synonyms
from textsift.errors import DataError, TextsiftError

OPS = ("synonym", "swap", "delete", "insert")
NEEDS_WORDNET = frozenset({"synonym", "insert"})
# Punctuation, a word (letters of any script, maybe joined by - or an apostrophe), punctuation.
WORD_TOKEN = re.compile(r"(\W*)([^\W\d_]+(?:[-'’][^\W\d_]+)*)(\W*)")
# Function words EDA leaves alone when picking words to replace or to draw insertions from: their WordNet
# "synonyms" are mostly other senses ("can" -> "bottom", "will" -> "testament"). Negations are here for the same
# reason and because a sentiment label hangs on them.
STOP_WORDS = frozenset("""
a about above after again against ain't all also am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
either else even ever every few for from further get gets got had hadn't has hasn't have haven't having he her here
hers herself him himself his how however i if in into is isn't it it's its itself just let me more most much must
my myself neither never no nor not now of off on once one only or other our ours ourselves out over own quite
rather really same shall she should shouldn't so some such than that that's the their theirs them themselves then
there these they this those though through thus to too under until up upon us very was wasn't we were weren't what
when where whether which while who whom whose why will with won't would wouldn't yet you your yours yourself
yourselves
""".split())


def parse_ops(spec: str) -> tuple[str, ...]:
    """The ops named in a `--ops` value: a comma-separated list (`synonym,swap`) or `all`, in the order given.

    Raises:
        TextsiftError: an op is unknown, or none is named; the message lists the known ones.
    """
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    if names == ["all"]:
        return OPS
    return _checked(names)


def _checked(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in names if name not in OPS]
    if unknown or not names:
        problem = f"unknown augmentation op {', '.join(map(repr, unknown))}" if unknown else "no augmentation op"
        raise TextsiftError(f"{problem}; known: {', '.join(OPS)} (comma-separated), or all")
    return tuple(dict.fromkeys(names))  # a repeated op would only skew the rotation


class Augmenter:
    """Makes augmented copies of texts, one op per copy, reproducibly.

    Args:
        ops: the ops to rotate through (`OPS` or some of them).
        alpha: the share of a text's words each op changes (EDA's α): synonym, swap and insert edit
            max(1, α × words) of them, delete drops each word with probability α.
        seed: with the row number, fixes every choice.
        wordnet: the WordNet folder (see `find_wordnet`); only looked for when synonym or insert is among the ops.

    Raises:
        TextsiftError: an unknown op, α outside (0, 1], or WordNet needed but not found.
    """

    def __init__(self, ops: Sequence[str] = OPS, alpha: float = 0.1, seed: int = 1,
                 wordnet: Path | None = None) -> None:
        if not 0 < alpha <= 1:
            raise TextsiftError(f"alpha {alpha}: the share of words changed must be in (0, 1], e.g. 0.1")
        self.ops, self.alpha, self.seed = _checked(ops), alpha, seed
        # Found now so a missing WordNet fails before any row is read; its ~0.7 s load waits for the first use.
        self._wordnet = find_wordnet(wordnet) if NEEDS_WORDNET & set(self.ops) else None

    def variants(self, text: str, n: int, row: int) -> list[str]:
        """n augmented copies of `text`, deterministic given (seed, row, text) whatever order rows come in.

        Copy i applies the op after copy i-1's in `ops` (the first one drawn at random), so with factor = len(ops)
        each op is used once per row. An op that cannot change the text (too few words: swap and delete need two,
        synonym and insert a word WordNet knows) gives way to the next; a copy no op could change is `text` as is.
        """
        rng = random.Random(f"textsift-augment:{self.seed}:{row}")  # str seeds hash with SHA-512: stable across runs
        tokens = text.split()
        start = rng.randrange(len(self.ops))
        copies = []
        for copy in range(n):
            for step in range(len(self.ops)):
                changed = self.apply(self.ops[(start + copy + step) % len(self.ops)], tokens, rng)
                if changed != tokens:
                    break
            copies.append(" ".join(changed) if changed != tokens else text)
        return copies

    def apply(self, op: str, tokens: list[str], rng: random.Random) -> list[str]:
        """One op on a whitespace-split text; a new list, equal to `tokens` when the op cannot change it.

        Raises:
            TextsiftError: `op` is not one of this augmenter's ops.
        """
        if op not in self.ops:
            raise TextsiftError(f"op {op!r} is not one of this augmenter's ops ({', '.join(self.ops)})")
        words = [i for i, token in enumerate(tokens) if _split(token)]
        edits = max(1, int(self.alpha * len(words)))
        if op == "swap":
            return _swap(tokens, words, edits, rng)
        if op == "delete":
            return _delete(tokens, words, self.alpha, rng)
        lexicon = synonyms(self._wordnet) if self._wordnet else {}
        sources = [i for i in words if _key(tokens[i]) in lexicon and _key(tokens[i]) not in STOP_WORDS]
        if op == "synonym":
            return _replace(tokens, sources, edits, lexicon, rng)
        return _insert(tokens, sources, edits, lexicon, rng)


@dataclass
class AugmentReport:
    """What `data augment` wrote: every input row, then its copies; a copy an op could not change is not written
    (it would only repeat the row), and unreadable rows skipped under --on-error skip are listed by line."""

    input: str
    output: str
    rows_read: int = 0
    copies: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        skipped = f"; {len(self.skipped)} unreadable rows skipped: {', '.join(self.skipped)}" if self.skipped else ""
        return (f"{self.rows_read} rows and {self.copies} augmented copies written to {self.output} in "
                f"{self.seconds:.1f} s ({self.unchanged} copies no op could change left out){skipped}")


def augment_file(cfg: AugmentConfig) -> AugmentReport:
    """Write each row of `cfg.input` and `cfg.factor - 1` augmented copies of it to `cfg.out`, streamed."""
    from tqdm import tqdm

    started = time.perf_counter()
    augmenter = Augmenter(parse_ops(cfg.ops), cfg.alpha, cfg.seed, cfg.wordnet)
    report, column = AugmentReport(str(cfg.input), str(cfg.out)), cfg.data.text_column
    errors: list[Any] | None = [] if cfg.on_error == "skip" else None
    template = cfg.input if cfg.input.suffix.lower() == ".parquet" else None
    with RowWriter(cfg.out, columns_of(cfg.input), template) as writer, \
            tqdm(desc="augment", unit="row", disable=None) as bar:
        for line, row in read_rows(cfg.input, [column], errors):
            text = str(row[column]) if row[column] is not None else ""
            if not text.strip():
                error = DataError(cfg.input, line, f"empty text in column {column!r}", "fill it in or remove the row")
                if errors is None:
                    raise error
                errors.append(error)
                continue
            writer.write(row)
            report.rows_read += 1
            for copy in augmenter.variants(text, cfg.factor - 1, line):
                if copy == text:
                    report.unchanged += 1
                    continue
                writer.write({**row, column: copy})
                report.copies += 1
            bar.update()
    report.skipped = [f"{e.path}:{e.line}" for e in sorted(errors or [], key=lambda e: e.line or 0)]
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _replace(tokens: list[str], sources: list[int], edits: int, lexicon: dict[str, tuple[str, ...]],
             rng: random.Random) -> list[str]:
    """`edits` of the source words (distinct ones) each replaced by one of its synonyms, cased like it."""
    out = list(tokens)
    for i in rng.sample(sources, min(edits, len(sources))):
        prefix, word, suffix = _parts(tokens[i])
        out[i] = prefix + _same_case(rng.choice(lexicon[word.lower()]), word) + suffix
    return out


def _insert(tokens: list[str], sources: list[int], edits: int, lexicon: dict[str, tuple[str, ...]],
            rng: random.Random) -> list[str]:
    """`edits` times: a synonym of a random source word, put in a random gap between tokens (or at either end)."""
    out = list(tokens)
    for _ in range(edits if sources else 0):
        synonym = rng.choice(lexicon[_key(tokens[rng.choice(sources)])])
        out.insert(rng.randint(0, len(out)), synonym)  # between whole tokens, so no placeholder is split
    return out


def _swap(tokens: list[str], words: list[int], edits: int, rng: random.Random) -> list[str]:
    """`edits` times: two words trade places, each leaving its punctuation behind; needs two words."""
    out = list(tokens)
    for _ in range(edits if len(words) >= 2 else 0):
        i, j = rng.sample(words, 2)
        (before_i, word_i, after_i), (before_j, word_j, after_j) = _parts(out[i]), _parts(out[j])
        out[i], out[j] = before_i + word_j + after_i, before_j + word_i + after_j
    return out


def _delete(tokens: list[str], words: list[int], alpha: float, rng: random.Random) -> list[str]:
    """Each word dropped with probability `alpha`, at least one and never all of them; needs two words."""
    if len(words) < 2:
        return list(tokens)
    doomed = {i for i in words if rng.random() < alpha}
    if not doomed:  # else most short texts would come back unchanged at alpha = 0.1
        doomed = {rng.choice(words)}
    if len(doomed) == len(words):  # EDA keeps one at random
        doomed.discard(rng.choice(words))
    return _without(tokens, doomed)


def _without(tokens: list[str], doomed: set[int]) -> list[str]:
    """`tokens` less the doomed words, whose punctuation moves to a neighbour that is not a placeholder:
    "a dreary movie." -> "a dreary.", "(a dull film)" -> "(dull film)"."""
    out: list[str] = []
    carried = ""  # leading punctuation of deleted words, waiting for the next editable token
    for i, token in enumerate(tokens):
        if i in doomed:
            before, _, after = _parts(token)
            if after and out and not PLACEHOLDER.search(out[-1]):
                out[-1] += after
            carried += before
        elif carried and not PLACEHOLDER.search(token):
            out.append(carried + token)
            carried = ""
        else:
            out.append(token)
    return out


def _split(token: str) -> tuple[str, str, str] | None:
    """(leading punctuation, word, trailing punctuation), or None for a token that is not to be edited."""
    if PLACEHOLDER.search(token):
        return None
    match = WORD_TOKEN.fullmatch(token)
    return (match[1], match[2], match[3]) if match else None


def _parts(word_token: str) -> tuple[str, str, str]:
    """`_split` of a token already known to be a word."""
    parts = _split(word_token)
    assert parts is not None, word_token
    return parts


def _key(word_token: str) -> str:
    """The lexicon key of a word token: its word, lower-cased."""
    return _parts(word_token)[1].lower()


def _same_case(word: str, like: str) -> str:
    """`word` cased like the word it replaces: "Movie" -> "Film", "MOVIE" -> "FILM"."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word
