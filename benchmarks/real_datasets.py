"""Build two real labelled benchmark sets from Debian's package archive (no invented or synthetic text).

Reproduce (as root, on a machine that reaches Debian's mirror; the apt indexes and .deb files are cached under
benchmarks/out/sources/ and every file is checked against a sha256 before use):

    .venv/bin/python benchmarks/real_datasets.py multilabel --out benchmarks/out/multilabel
    .venv/bin/python benchmarks/real_datasets.py pairs --out benchmarks/out/pairs

multilabel: Debian 12 "bookworm" (point release 12.15, InRelease dated 2026-07-11), component main, amd64.
    Source files: dists/bookworm/main/binary-amd64/Packages and dists/bookworm/main/i18n/Translation-en, fetched
    with `apt-get update` into a private lists folder (the system's lists are left alone; Docker images switch
    Translation-en off, so the script asks for it with -o Acquire::Languages=en). Their uncompressed sha256 are
    checked against the SHA256 list of the signed InRelease that apt verified. The text of a row is a package's
    description as its maintainer wrote it (Description-en of Translation-en: synopsis + long description, Debian's
    " ." paragraph lines and leading spaces removed, whitespace collapsed). Its labels are the package's debtags
    (the `Tag:` field of Packages, from the Debian debtags database, which people assign and review through the
    debtags editor, with some tags added by rules; role::, implemented-in:: and devel:: are not used here): the
    16 most frequent tags of the facets use::, works-with:: and interface::, joined with ';'. Binary packages that
    share a description are kept once (labels: the union over those packages); rows with none of the 16 tags are
    dropped. Split 70/15/15 in a seeded random order, then capped at 4000/800/800 rows. Licence: each description
    is part of its package's debian/control and carries that package's licence (DFSG-free, main component); the
    debtags data is public Debian project data.

pairs: the question/answer sections of two FAQ documents shipped as HTML in Debian packages, both pinned:
    python3.11-doc 3.11.2-6+deb12u8 (bookworm main): /usr/share/doc/python3.11/html/faq/*.html, the official
        Python FAQ (general, programming, design, library, extending, windows, gui, installed). Licence: PSF
        License Version 2 (Python documentation; see /usr/share/doc/python3.11-doc/copyright).
    debian-faq 11.1 (bookworm main): /usr/share/doc/debian/FAQ/*.en.html, the Debian GNU/Linux FAQ. Licence:
        verbatim and modified copying permitted by Software in the Public Interest, with the notice kept (see
        /usr/share/doc/debian-faq/copyright).
    Both are fetched with `apt-get download NAME=VERSION` and unpacked with `dpkg-deb -x` (nothing is installed).
    A Q&A is a section that has at least 30 characters of its own text before the next heading and whose heading
    is a question: every such section of the Python FAQ (a few are phrased as statements, e.g. "My class defines
    __del__ but it is not called when I delete the object."), and those of the Debian FAQ whose heading holds a
    "?" (its other sections, e.g. "8.1.1. dpkg", describe rather than answer). The leading section number is
    dropped; the answer is the section's text as plain text, cut at a word boundary to at most 1000 characters.
    Questions are split 60/20/20 per source in a seeded random order. train/validation.csv hold, per question, its
    answer (label "match") and 1-3 answers of other questions of the same split and source (label "other");
    test.jsonl holds, per test question, its answer and 9 other answers of the same source's test pool, shuffled:
    {"query", "candidates", "answer_index", "source"}.

Every output folder gets a meta.json with the source packages and versions, sha256 of the source files, row counts
and label counts. The same sources and --seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import html.parser
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
INDEX_FILES = {"packages": "main/binary-amd64/Packages", "translation": "main/i18n/Translation-en"}
LIST_PREFIX = "deb.debian.org_debian_dists_bookworm_"
FACETS = ("use", "works-with", "interface")
TOP_K = 16
ML_FRACTIONS = (0.70, 0.15, 0.15)
ML_CAPS = (4000, 800, 800)
PAIR_FRACTIONS = (0.60, 0.20, 0.20)
MAX_ANSWER_CHARS = 1000
MIN_ANSWER_CHARS = 30
N_CANDIDATES = 10


@dataclass(frozen=True)
class DebSource:
    """A pinned Debian package and the HTML files of it that hold one FAQ."""

    name: str
    version: str
    sha256: str
    glob: str
    exclude: tuple[str, ...]
    licence: str
    every_section_is_a_question: bool


FAQ_SOURCES = {
    "python-faq": DebSource(
        "python3.11-doc", "3.11.2-6+deb12u8", "50eb63e7f636c4281e9ce1b8f10386f1def42159eddce34fc1f41c46261df71b",
        "usr/share/doc/python3.11/html/faq/*.html", ("index.html",), "PSF License Version 2", True),
    "debian-faq": DebSource(
        "debian-faq", "11.1", "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0",
        "usr/share/doc/debian/FAQ/*.en.html", ("index.en.html",),
        "copying permitted by Software in the Public Interest (verbatim and modified, with the notice)", False),
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def run(cmd: Sequence[str], cwd: Path | None = None) -> bytes:
    """Run a command, fail loudly with its stderr."""
    done = subprocess.run(list(cmd), cwd=cwd, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout


# ---------------------------------------------------------------------------------------------- Debian indexes


def fetch_lists(lists: Path) -> None:
    """apt-get update of bookworm main (Packages + Translation-en) into a private lists folder."""
    lists = lists.resolve()  # apt reads relative Dir:: paths against its own folders
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    source_list = lists.parent / "bookworm-main.list"
    source_list.write_text(f"deb [signed-by={KEYRING}] {MIRROR} {SUITE} main\n")
    cache = lists.parent / "apt-cache"
    cache.mkdir(exist_ok=True)
    run(["apt-get", "update", "-q", f"-o=Dir::State::Lists={lists}", f"-o=Dir::Etc::SourceList={source_list}",
         "-o=Dir::Etc::SourceParts=/nonexistent", f"-o=Dir::Cache={cache}", "-o=Acquire::Languages=en"])


def find_index(lists: Path, key: str) -> Path:
    stem = LIST_PREFIX + INDEX_FILES[key].replace("/", "_")
    found = sorted(p for p in lists.glob(stem + "*") if p.name == stem or p.name.startswith(stem + "."))
    if not found:
        sys.exit(f"no {stem}* in {lists}; run without --lists to fetch it")
    return found[0]


def release_hashes(lists: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The SHA256 section of InRelease ({path: sha256}) and its Version/Date/Codename fields."""
    text = (lists / (LIST_PREFIX + "InRelease")).read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    hashes: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("-----BEGIN PGP SIGNATURE"):
            break
        if not line.startswith(" "):
            key, _, value = line.partition(":")
            section = key
            if value.strip():
                fields[key] = value.strip()
        elif section == "SHA256":
            digest, _size, path = line.split()
            hashes[path] = digest
    return hashes, {k: fields[k] for k in ("Origin", "Codename", "Version", "Date") if k in fields}


def read_index(lists: Path, key: str, hashes: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Decompress one index with apt's own helper and check it against the signed InRelease."""
    path = find_index(lists, key)
    raw = run(["/usr/lib/apt/apt-helper", "cat-file", str(path)])
    digest = sha256_bytes(raw)
    if hashes.get(INDEX_FILES[key]) != digest:
        sys.exit(f"{path}: sha256 {digest} is not the one InRelease lists for {INDEX_FILES[key]}")
    info = {"file": f"dists/{SUITE}/{INDEX_FILES[key]}", "sha256": digest, "stored_as": path.name,
            "stored_sha256": sha256_file(path)}
    return raw.decode("utf-8"), info


def paragraphs(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs; continuation lines are kept with their newlines."""
    record: dict[str, str] = {}
    key = ""
    for line in text.split("\n"):
        if not line.strip():
            if record:
                yield record
            record, key = {}, ""
        elif line[0] in " \t":
            record[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            record[key] = value.strip()
    if record:
        yield record


def clean_description(description: str) -> str:
    """Synopsis + long description as one line of prose, without Debian's " ." paragraph markers."""
    synopsis, _, body = description.partition("\n")
    lines = [line[1:] if line.startswith(" ") else line for line in body.split("\n")]
    lines = [line for line in lines if line.strip() != "."]
    long_text = " ".join(" ".join(lines).split())
    synopsis = " ".join(synopsis.split())
    if not long_text:
        return synopsis
    joiner = " " if synopsis.endswith((".", "!", "?", ":")) else ". "
    return synopsis + joiner + long_text


def parse_tags(field: str) -> set[str]:
    return {tag.strip() for tag in field.replace("\n", " ").split(",") if tag.strip()}


def unique_texts(packages: str, translation: str) -> tuple[dict[str, set[str]], dict[str, str], int]:
    """{clean text: union of tags} and {clean text: first package name}, over tagged packages."""
    descriptions = {r["Description-md5"]: r["Description-en"] for r in paragraphs(translation)
                    if "Description-md5" in r and "Description-en" in r}
    tags: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    tagged = 0
    for record in sorted(paragraphs(packages), key=lambda r: (r["Package"], r.get("Version", ""))):
        description = descriptions.get(record.get("Description-md5", ""))
        if "Tag" not in record or description is None:
            continue
        tagged += 1
        text = clean_description(description)
        tags.setdefault(text, set()).update(parse_tags(record["Tag"]))
        first.setdefault(text, record["Package"])
    return tags, first, tagged


def seeded_split(items: list[str], fractions: tuple[float, float, float], seed: int) -> list[list[str]]:
    """Shuffle a sorted copy with the seed and cut it into train/validation/test."""
    order = sorted(items)
    random.Random(seed).shuffle(order)
    n_train = round(len(order) * fractions[0])
    n_val = round(len(order) * fractions[1])
    return [order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def build_multilabel(out: Path, lists: Path | None, cache: Path, seed: int) -> dict[str, object]:
    if lists is None:
        lists = cache / "apt-lists"
        fetch_lists(lists)
    hashes, release = release_hashes(lists)
    packages, packages_info = read_index(lists, "packages", hashes)
    translation, translation_info = read_index(lists, "translation", hashes)
    tags, first, tagged = unique_texts(packages, translation)
    counts = collections.Counter(t for ts in tags.values() for t in ts if t.split("::")[0] in FACETS
                                 and not t.endswith("::TODO"))
    labels = sorted(t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K])
    chosen = {text: sorted(ts & set(labels)) for text, ts in tags.items() if ts & set(labels)}
    out.mkdir(parents=True, exist_ok=True)
    split_counts: dict[str, dict[str, object]] = {}
    for name, part, cap in zip(("train", "validation", "test"), seeded_split(list(chosen), ML_FRACTIONS, seed),
                               ML_CAPS, strict=True):
        part = part[:cap]
        write_csv(out / f"{name}.csv", ("text", "label", "package"),
                  [(text, ";".join(chosen[text]), first[text]) for text in part])
        per_label = collections.Counter(t for text in part for t in chosen[text])
        split_counts[name] = {"rows": len(part),
                              "labels_per_row": round(sum(per_label.values()) / max(len(part), 1), 3),
                              "label_counts": {label: per_label[label] for label in labels}}
    meta = {
        "dataset": "debian-debtags-multilabel",
        "source": {"archive": MIRROR, "release": release, "component": "main", "architecture": "amd64",
                   "files": [packages_info, translation_info],
                   "licence": "package descriptions: each package's own DFSG-free licence; debtags: Debian project "
                              "data"},
        "columns": {"text": "cleaned Description-en", "label": "debtags joined with ';'", "package": "first "
                    "binary package (by name) with that description"},
        "seed": seed, "facets": list(FACETS), "labels": labels,
        "tagged_packages": tagged, "unique_tagged_texts": len(tags), "texts_with_a_chosen_label": len(chosen),
        "label_counts_all": {label: counts[label] for label in labels}, "splits": split_counts,
    }
    write_json(out / "meta.json", meta)
    return meta


# ---------------------------------------------------------------------------------------------------- FAQs


SKIP_CLASSES = {"sphinxsidebar", "related", "footer", "headerlink", "contents", "toc", "navheader", "navfooter",
                "mobile-nav", "menu-wrapper"}
VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class SectionParser(html.parser.HTMLParser):
    """Cuts a page into (heading, text up to the next heading), ignoring navigation, sidebars and tables of contents."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.sections: list[tuple[str, list[str]]] = []
        self.heading: list[str] | None = None

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_TAGS:
            return
        classes = set((dict(attrs).get("class") or "").split())
        skip = self.skipping or tag in {"script", "style", "head"} or bool(classes & SKIP_CLASSES)
        self.stack.append((tag, skip))
        if tag in HEADINGS and not skip:
            self.heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS or all(t != tag for t, _ in self.stack):
            return
        while self.stack:
            popped, _ = self.stack.pop()
            if popped in HEADINGS and self.heading is not None:
                self.sections.append(("".join(self.heading), []))
                self.heading = None
            if popped == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.heading is not None:
            self.heading.append(data)
        elif self.sections:
            self.sections[-1][1].append(data)


def squash(text: str) -> str:
    return " ".join(text.split())


def truncate(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0]
    return cut if cut else text[:limit]


def faq_pairs(page: Path, every_section: bool) -> list[tuple[str, str]]:
    """(question, answer) of each section of one HTML page with a question for heading (or every section)."""
    parser = SectionParser()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    pairs = []
    for heading, parts in parser.sections:
        question = re.sub(r"^(Chapter\s+)?\d+(\.\d+)*\.?\s+", "", squash(heading))
        answer = squash("".join(parts))
        if (every_section or "?" in question) and len(answer) >= MIN_ANSWER_CHARS:
            pairs.append((question, truncate(answer)))
    return pairs


def fetch_deb(source: DebSource, cache: Path) -> Path:
    """apt-get download NAME=VERSION into the cache (once) and check the pinned sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"{source.name}_*_all.deb"
    found = [p for p in cache.glob(pattern) if sha256_file(p) == source.sha256]
    if not found:
        run(["apt-get", "download", "-q", f"{source.name}={source.version}"], cwd=cache)
        found = [p for p in cache.glob(pattern) if sha256_file(p) == source.sha256]
    if not found:
        sys.exit(f"{source.name} {source.version}: no .deb in {cache} with sha256 {source.sha256}")
    return found[0]


def load_faq(key: str, source: DebSource, cache: Path) -> tuple[list[tuple[str, str]], dict[str, object]]:
    deb = fetch_deb(source, cache)
    files: list[dict[str, object]] = []
    pairs: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        run(["dpkg-deb", "-x", str(deb), tmp])
        for page in sorted(Path(tmp).glob(source.glob)):
            if page.name in source.exclude:
                continue
            found = faq_pairs(page, source.every_section_is_a_question)
            pairs.extend(found)
            files.append({"path": "/" + str(page.relative_to(tmp)), "sha256": sha256_file(page),
                          "qa": len(found)})
    info = {"faq": key, "package": source.name, "version": source.version, "deb": deb.name,
            "deb_sha256": source.sha256, "licence": source.licence, "files": files, "qa": len(pairs)}
    return pairs, info


def labelled_pairs(items: list[tuple[str, str, str]], rng: random.Random) -> list[tuple[str, str, str]]:
    """Each (question, answer, source) as a "match" row and 1-3 "other" rows from the same source's pool."""
    rows = []
    for question, answer, source in items:
        pool = sorted({a for _q, a, s in items if s == source and a != answer})
        rows.append((question, answer, "match"))
        for other in rng.sample(pool, min(len(pool), rng.randint(1, 3))):
            rows.append((question, other, "other"))
    return rows


def ranking_rows(items: list[tuple[str, str, str]], rng: random.Random) -> list[dict[str, object]]:
    """Each test question with its answer and 9 other answers of the same source's test pool, shuffled."""
    rows: list[dict[str, object]] = []
    for question, answer, source in items:
        pool = sorted({a for _q, a, s in items if s == source and a != answer})
        if len(pool) < N_CANDIDATES - 1:
            pool = sorted({a for _q, a, _s in items if a != answer})
        candidates = [answer, *rng.sample(pool, N_CANDIDATES - 1)]
        rng.shuffle(candidates)
        rows.append({"query": question, "candidates": candidates, "answer_index": candidates.index(answer),
                     "source": source})
    return rows


def split_faqs(faqs: dict[str, list[tuple[str, str]]], seed: int) -> dict[str, list[tuple[str, str, str]]]:
    """Per source, unique questions cut 60/20/20 in a seeded order; returns {split: [(q, a, source)]}."""
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "validation": [], "test": []}
    seen: set[str] = set()
    for key in sorted(faqs):
        answers: dict[str, str] = {}
        for question, answer in faqs[key]:
            if question not in seen:
                seen.add(question)
                answers[question] = answer
        for name, part in zip(splits, seeded_split(list(answers), PAIR_FRACTIONS, seed), strict=True):
            splits[name].extend((q, answers[q], key) for q in part)
    return splits


def build_pairs(out: Path, cache: Path, seed: int) -> dict[str, object]:
    faqs: dict[str, list[tuple[str, str]]] = {}
    infos = []
    for key, source in FAQ_SOURCES.items():
        faqs[key], info = load_faq(key, source, cache)
        infos.append(info)
    splits = split_faqs(faqs, seed)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, object] = {}
    for name in ("train", "validation"):
        rows = labelled_pairs(splits[name], rng)
        write_csv(out / f"{name}.csv", ("question", "answer", "label"), rows)
        counts[name] = {"questions": len(splits[name]), "rows": len(rows),
                        "label_counts": dict(sorted(collections.Counter(r[2] for r in rows).items())),
                        "per_source": dict(sorted(collections.Counter(s for *_x, s in splits[name]).items()))}
    test = ranking_rows(splits["test"], rng)
    with (out / "test.jsonl").open("w", encoding="utf-8") as handle:
        for row in test:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts["test"] = {"queries": len(test), "candidates_per_query": N_CANDIDATES,
                      "per_source": dict(sorted(collections.Counter(str(r["source"]) for r in test).items()))}
    write_csv(out / "all_qa.csv", ("question", "answer", "source", "split"),
              [(q, a, s, name) for name, items in splits.items() for q, a, s in items])
    meta = {"dataset": "faq-answer-matching", "sources": infos, "seed": seed,
            "qa_total": sum(len(v) for v in splits.values()), "splits": counts,
            "negatives": "1-3 answers of other questions of the same split and FAQ (train/validation); 9 of the "
                         "same FAQ's test pool (test)"}
    write_json(out / "meta.json", meta)
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dataset", choices=("multilabel", "pairs"))
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/out/sources"),
                        help="where the downloaded indexes and .deb files are kept")
    parser.add_argument("--lists", type=Path, default=None,
                        help="multilabel: an apt lists folder that already holds bookworm main's InRelease, "
                             "Packages and Translation-en (skips apt-get update)")
    args = parser.parse_args(argv)
    if args.dataset == "multilabel":
        meta = build_multilabel(args.out, args.lists, args.cache, args.seed)
    else:
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            sys.exit("pairs needs apt-get and dpkg-deb (Debian's apt and dpkg)")
        meta = build_pairs(args.out, args.cache, args.seed)
    print(json.dumps({k: v for k, v in meta.items() if k in ("splits", "labels", "qa_total")}, indent=2))


if __name__ == "__main__":
    main()
