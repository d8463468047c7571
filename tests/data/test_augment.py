"""EDA-style augmentation on real movie snippets, with Debian's WordNet (wordnet-base; CI installs it)."""

from __future__ import annotations

import csv
import os
import random
import string
from collections import Counter
from pathlib import Path

import pytest

from textsift.data.augment import OPS, Augmenter, parse_ops
from textsift.data.placeholders import PLACEHOLDER
from textsift.data.wordnet import WORDNET_ENV, find_wordnet, read_synsets, synonyms
from textsift.errors import TextsiftError


@pytest.fixture(scope="module")
def wordnet() -> Path:
    """The installed WordNet; the test skips without it, except in CI, where a missing package is a broken setup."""
    try:
        return find_wordnet()
    except TextsiftError as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def lexicon(wordnet: Path) -> dict[str, tuple[str, ...]]:
    return synonyms(wordnet)


@pytest.fixture(scope="module")
def augmenter(wordnet: Path) -> Augmenter:
    return Augmenter(seed=1, wordnet=wordnet)


@pytest.fixture(scope="module")
def snippets(data_dir: Path) -> list[str]:
    """The training snippets of at least five words (all but a handful of the 240)."""
    with (data_dir / "train.csv").open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f) if len(row["text"].split()) >= 5]


def words(text_or_tokens: str | list[str]) -> list[str]:
    """The tokens without their surrounding punctuation (which the ops leave in place), non-empty ones."""
    tokens = text_or_tokens.split() if isinstance(text_or_tokens, str) else text_or_tokens
    return [w for w in (t.strip(string.punctuation + "“”’") for t in tokens) if w]


def is_subsequence(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(item in rest for item in short)


def placeholders(text: str) -> list[str]:
    return [token for token in text.split() if PLACEHOLDER.search(token)]


def test_swap_keeps_the_words_and_changes_their_order(snippets: list[str]) -> None:
    swapper = Augmenter(ops=["swap"])
    for k, text in enumerate(snippets[:40]):
        swapped = swapper.apply("swap", text.split(), random.Random(k))
        assert Counter(words(swapped)) == Counter(words(text))
        assert len(swapped) == len(text.split())
    moved = [swapper.apply("swap", t.split(), random.Random(k)) != t.split() for k, t in enumerate(snippets[:40])]
    assert sum(moved) >= 38  # only a swap of two equal words ("a" and "a") changes nothing


def test_delete_removes_some_words_in_order_and_never_all(snippets: list[str]) -> None:
    deleter = Augmenter(ops=["delete"])
    for k, text in enumerate(snippets[:40]):
        kept = words(deleter.apply("delete", text.split(), random.Random(k)))
        assert 1 <= len(kept) < len(words(text))
        assert is_subsequence(kept, words(text))


def test_delete_of_a_short_snippet_keeps_at_least_one_word() -> None:
    deleter = Augmenter(ops=["delete"], alpha=1.0)  # every word drawn for deletion
    kept = [deleter.apply("delete", "A dreary movie.".split(), random.Random(seed)) for seed in range(30)]
    assert all(len(tokens) == 1 for tokens in kept)
    assert {" ".join(tokens) for tokens in kept} <= {"A.", "dreary.", "movie."}  # the full stop stays


def test_swap_and_delete_leave_a_one_word_text_unchanged() -> None:
    editor = Augmenter(ops=["swap", "delete"])
    assert editor.apply("swap", ["Dreadful."], random.Random(0)) == ["Dreadful."]
    assert editor.apply("delete", ["Dreadful."], random.Random(0)) == ["Dreadful."]
    assert editor.variants("Dreadful.", 3, row=0) == ["Dreadful."] * 3


def test_synonym_replaces_words_with_their_wordnet_synonyms(
        augmenter: Augmenter, lexicon: dict[str, tuple[str, ...]], snippets: list[str]) -> None:
    replaced = 0
    for k, text in enumerate(snippets[:40]):
        before, after = text.split(), augmenter.apply("synonym", text.split(), random.Random(k))
        assert len(after) == len(before)
        for old, new in zip(words(before), words(after), strict=True):
            if old != new:
                assert new.lower() in lexicon[old.lower()], (old, new)
                replaced += 1
    assert replaced >= 40  # at least one word per snippet (α = 0.1 of ~20 words)


def test_insert_adds_synonyms_of_words_of_the_text(
        augmenter: Augmenter, lexicon: dict[str, tuple[str, ...]], snippets: list[str]) -> None:
    for k, text in enumerate(snippets[:40]):
        before, after = text.split(), augmenter.apply("insert", text.split(), random.Random(k))
        assert len(after) == len(before) + max(1, int(0.1 * len(words(text))))
        assert is_subsequence(before, after)
        added = list((Counter(after) - Counter(before)).elements())
        related = {s for w in words(text) for s in lexicon.get(w.lower(), ())}
        assert added and all(word in related for word in added), (text, added)


def test_each_op_is_used_once_per_row_when_the_factor_is_the_number_of_ops(
        augmenter: Augmenter, snippets: list[str]) -> None:
    text = snippets[3]
    copies = augmenter.variants(text, 4, row=7)
    lengths = sorted(len(copy.split()) - len(text.split()) for copy in copies)
    assert lengths[0] < 0 and lengths[-1] > 0 and lengths[1:3] == [0, 0]  # delete, swap + synonym, insert
    assert len(set(copies)) == 4 and text not in copies


def test_variants_depend_on_seed_and_row_not_on_the_order_rows_come_in(
        wordnet: Path, snippets: list[str]) -> None:
    rows = list(enumerate(snippets[:30]))
    forward = {row: Augmenter(seed=5, wordnet=wordnet).variants(text, 2, row) for row, text in rows}
    streaming = Augmenter(seed=5, wordnet=wordnet)
    backward = {row: streaming.variants(text, 2, row) for row, text in reversed(rows)}
    assert forward == backward
    assert [streaming.variants(text, 4, row)[:2] for row, text in rows] == [forward[row] for row, _ in rows]


def test_different_seeds_give_different_copies(wordnet: Path, snippets: list[str]) -> None:
    first = [Augmenter(seed=1, wordnet=wordnet).variants(text, 2, row) for row, text in enumerate(snippets[:20])]
    second = [Augmenter(seed=2, wordnet=wordnet).variants(text, 2, row) for row, text in enumerate(snippets[:20])]
    assert sum(a != b for a, b in zip(first, second, strict=True)) >= 15


def test_placeholders_are_never_edited_moved_split_or_dropped(wordnet: Path) -> None:
    text = ("<NAME_1> wrote to <EMAIL>: a sentimental mess (<PHONE_3>), that never rings true; "
            "call <PHONE_12> or <NAME_1>. An excellent romp <URL>")
    heavy = Augmenter(alpha=0.5, wordnet=wordnet)  # half the words edited, to give the placeholders every chance
    for row in range(200):
        for copy in heavy.variants(text, 4, row):
            assert placeholders(copy) == placeholders(text)
            assert Counter(PLACEHOLDER.findall(copy)) == Counter(PLACEHOLDER.findall(text))


def test_a_text_of_only_placeholders_comes_back_unchanged(augmenter: Augmenter) -> None:
    assert augmenter.variants("<EMAIL>, <PHONE_3> (<NAME_2>)", 4, row=0) == ["<EMAIL>, <PHONE_3> (<NAME_2>)"] * 4


def test_parse_ops_reads_a_list_in_order_or_all() -> None:
    assert parse_ops("swap, synonym") == ("swap", "synonym")
    assert parse_ops("all") == OPS == ("synonym", "swap", "delete", "insert")


def test_an_unknown_op_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(TextsiftError, match=r"unknown augmentation op 'shuffle'; known: synonym, swap, delete"):
        parse_ops("swap,shuffle")


def test_only_synonym_and_insert_need_wordnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORDNET_ENV, raising=False)
    assert Augmenter(ops=["swap", "delete"], wordnet=tmp_path).variants("A dreary movie.", 1, row=0) != [
        "A dreary movie."]
    with pytest.raises(TextsiftError, match="WordNet not found"):
        Augmenter(ops=["insert"], wordnet=tmp_path)


def test_find_wordnet_names_the_fix_for_a_folder_without_wordnet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORDNET_ENV, raising=False)
    with pytest.raises(TextsiftError) as error:
        find_wordnet(tmp_path)
    assert str(tmp_path) in str(error.value)
    assert "apt install wordnet-base" in str(error.value) and "--wordnet DIR" in str(error.value)


def test_find_wordnet_takes_the_folder_in_the_environment_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data.noun").write_text("")
    monkeypatch.setenv(WORDNET_ENV, str(tmp_path))
    assert find_wordnet() == tmp_path


# Two licence lines, then: 12 words (w_cnt 0c, which read as decimal would fail), a multi-word lemma, a name, an
# adjective marker; the pointers and gloss after the words must not be read as words.
DATA_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
00001740 03 n 02 film 0 movie 0 001 @ 00001930 n 0000 | a form of entertainment
00002137 03 n 0c picture 0 pic 0 motion_picture 0 moving_picture 0 flick 0 movie 1 film 2 photoplay 0 \
flicks 0 show 0 Hollywood 0 cinema 0 002 @ 00001740 n 0000 ~ 00002452 n 0000 | a film; "they went to a movie"
00002452 03 n 01 thing 0 000 | a separate entity
"""
DATA_ADJ = "00014358 00 s 02 abounding 0 galore(ip) 0 001 & 00013887 a 0000 | existing in abundance\n"


def fake_wordnet(folder: Path) -> Path:
    folder.mkdir()
    (folder / "data.noun").write_text(DATA_NOUN)
    (folder / "data.adj").write_text(DATA_ADJ)
    for pos in ("verb", "adv"):
        (folder / f"data.{pos}").write_text("  1 licence header only\n")
    return folder


def test_the_reader_parses_hex_word_counts_multiword_lemmas_and_adjective_markers(tmp_path: Path) -> None:
    folder = fake_wordnet(tmp_path / "dict")
    assert list(read_synsets(folder / "data.noun")) == [
        ["film", "movie"],
        ["picture", "pic", "motion picture", "moving picture", "flick", "movie", "film", "photoplay", "flicks",
         "show", "Hollywood", "cinema"],
        ["thing"],
    ]
    assert list(read_synsets(folder / "data.adj")) == [["abounding", "galore"]]


def test_synonyms_are_the_sorted_single_word_lower_case_lemmas_of_shared_synsets(tmp_path: Path) -> None:
    lexicon = synonyms(fake_wordnet(tmp_path / "dict"))
    assert lexicon["movie"] == ("cinema", "film", "flick", "flicks", "photoplay", "pic", "picture", "show")
    assert lexicon["galore"] == ("abounding",)
    assert "thing" not in lexicon and "hollywood" not in lexicon and "motion picture" not in lexicon


def test_a_line_that_is_not_wordnet_is_reported_with_its_place(tmp_path: Path) -> None:
    (tmp_path / "data.noun").write_text("00001740 03 n zz film 0\n")
    with pytest.raises(TextsiftError, match=r"data.noun:1: not a WordNet data line"):
        list(read_synsets(tmp_path / "data.noun"))


def test_the_augment_command_writes_each_row_then_its_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    from tests.helpers import run_cli

    source = tmp_path / "few.csv"
    source.write_text("text,label\n\"Call <PHONE> now, the film was a wonderful surprise\",positive\n"
                      "\"A dull and tedious story with flat acting\",negative\n")
    code = run_cli(monkeypatch, "data", "augment", str(source), "--out", str(tmp_path / "aug.csv"), "--factor", "3",
                   "--ops", "swap,delete", "--seed", "4")
    assert code == 0 and "2 rows and 4 augmented copies written" in capsys.readouterr().out
    with (tmp_path / "aug.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["label"] for r in rows] == ["positive"] * 3 + ["negative"] * 3
    assert rows[0]["text"] == "Call <PHONE> now, the film was a wonderful surprise"
    assert all("<PHONE>" in r["text"] for r in rows[:3]) and len({r["text"] for r in rows}) == 6


def test_an_empty_text_stops_the_augment_command_with_its_line(tmp_path: Path) -> None:
    from textsift.data.augment import augment_file
    from textsift.data.config import AugmentConfig
    from textsift.errors import DataError

    source = tmp_path / "few.csv"
    source.write_text("text,label\nA dull and tedious story,negative\n,positive\n")
    with pytest.raises(DataError, match=r"few.csv:3: empty text in column 'text'"):
        augment_file(AugmentConfig(input=source, out=tmp_path / "aug.csv", ops="swap"))
    report = augment_file(AugmentConfig(input=source, out=tmp_path / "aug.csv", ops="swap", on_error="skip"))
    assert report.rows_read == 1 and report.skipped == [f"{source}:3"]
