"""PII detection quality: per-type precision and recall of textsift and of Presidio's analyzer, in the same run.

    .venv/bin/pip install presidio-analyzer==2.2.366   # in the [bench] extra; pulls spaCy, needs no spaCy model
    .venv/bin/python benchmarks/pii_quality.py [--data tests/data/pii-eval/pii_eval.jsonl] [--repeat 3]
    .venv/bin/python benchmarks/pii_quality.py --region US,GB,DE,FR   # national numbers of the set's countries

Data: the hand-made set in tests/data/pii-eval (its README says how the gold spans were drawn): every line a text
and its gold spans of type email, phone, url, ip, card, iban or ssn; about a third of the lines have no span and
carry look-alikes only (order numbers, dates, versions, Luhn-failing numbers, bad IBANs, ...).

Systems:
  textsift  `textsift.data.pii.find_pii(text, region=--region)`, every kind; --region is textsift's
            --phone-region: US by default (national numbers of other countries are then not phone numbers, only
            +country ones), or the comma-separated regions the texts come from.
  presidio  presidio-analyzer's `AnalyzerEngine` with its default registry for English, minus the spaCy NER
            recognizer, `analyze(text, language="en", entities=[the seven below])`, default score threshold (0).
            No spaCy model can be installed offline, so the NLP engine is presidio's `SlimSpacyNlpEngine` given a
            `spacy.blank("en")` pipeline (tokenizer only) plus a one-line component that sets each token's lemma to
            its lower-cased text. Context enhancement (`LemmaContextAwareEnhancer`) is therefore active on those
            lemmas, e.g. "SSN" next to a number raises its score; at threshold 0 it changes scores, not which
            spans are returned. tldextract (used by the email recognizer) is pointed at its bundled suffix list so
            that it does not try the network. Entity names map EMAIL_ADDRESS->email, PHONE_NUMBER->phone, URL->url,
            IP_ADDRESS->ip, CREDIT_CARD->card, IBAN_CODE->iban, US_SSN->ssn; the other entities presidio knows
            (DATE_TIME, US_BANK_NUMBER, US_ITIN, UUID, MAC_ADDRESS, ...) are not requested, so they count neither
            way. Asking for the seven gives the same spans as asking for all and dropping the rest, since presidio
            only merges overlapping results of one type.

Matching, per type (a prediction of the wrong type is a false alarm for its type and leaves the gold span missed).
Both sides are first trimmed of surrounding whitespace and of .,;:!?"'()<>[]{} so that a detector is not charged
for a trailing full stop or for keeping or dropping a phone number's opening parenthesis.
  strict   a prediction is right when its trimmed offsets equal a gold span's.
  overlap  a prediction is right when it shares at least half of the longer of the two trimmed spans with a gold
           span (so a prediction cannot win by covering the whole sentence).
Each gold span is matched at most once and each prediction at most once. P = right predictions / predictions, R =
matched gold spans / gold spans; "all" pools the seven types. Speed: texts per second over the whole file, best of
--repeat passes, one process, after a warm-up pass.

Writes markdown tables to stdout, textsift's misses and false alarms (overlap matching, with line numbers of the
data file) after them, and everything to --out (default benchmarks/out/pii_quality.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc

TYPES = ("email", "phone", "url", "ip", "card", "iban", "ssn")
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "URL": "url", "IP_ADDRESS": "ip",
                  "CREDIT_CARD": "card", "IBAN_CODE": "iban", "US_SSN": "ssn"}
TRIM = " \t\r\n.,;:!?\"'()<>[]{}"
MODES = ("strict", "overlap")
Spans = list[tuple[int, int, str]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("tests/data/pii-eval/pii_eval.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/pii_quality.json"))
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per system; the best is reported")
    parser.add_argument("--region", default="US", help="textsift's phone region(s), e.g. US or US,GB,DE,FR")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    gold = [[(s["start"], s["end"], s["type"]) for s in row["spans"]] for row in rows]
    print(f"{len(rows)} texts, {sum(map(len, gold))} gold spans", flush=True)
    systems = {"textsift": textsift_detector(args.region), "presidio": presidio_detector()}
    results: dict[str, dict] = {}
    for name, detect in systems.items():
        predicted, rate = run(detect, texts, args.repeat)
        results[name] = {"texts_per_s": round(rate, 1),
                         **{mode: score(texts, gold, predicted, mode) for mode in MODES}}
        if name == "textsift":
            results[name]["errors"] = errors(texts, gold, predicted)
        print(f"{name}: {rate:,.0f} texts/s", flush=True)
    for mode in MODES:
        print(f"\n{mode} matching\n")
        print(table(results, mode, args.region))
    print("\ntextsift errors (overlap matching; line: type 'text')")
    for line in results["textsift"]["errors"]:
        print(f"  {line['line']}: {line['kind']} {line['type']} {line['value']!r}")
    write_json(args, results)


def textsift_detector(region: str = "US") -> Callable[[str], Spans]:
    from textsift.data.pii import find_pii

    def detect(text: str) -> Spans:
        return [(s.start, s.end, s.kind) for s in find_pii(text, region=region)]

    return detect


def presidio_detector() -> Callable[[str], Spans]:
    """Presidio's pattern recognizers behind a model-free spaCy pipeline (see the module docstring)."""
    import spacy
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SlimSpacyNlpEngine
    from spacy.language import Language

    # the email recognizer calls tldextract.extract, which would fetch the public suffix list on first use
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    if not Language.has_factory("lowercase_lemma"):
        Language.component("lowercase_lemma", func=lowercase_lemma)
    nlp = spacy.blank("en")
    nlp.add_pipe("lowercase_lemma")
    engine = SlimSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}], auto_download=False)
    engine.nlp = {"en": nlp}  # marks it loaded, so presidio never calls spacy.load
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    analyzer.registry.remove_recognizer("SpacyRecognizer")
    entities = list(PRESIDIO_TYPES)

    def detect(text: str) -> Spans:
        found = analyzer.analyze(text, language="en", entities=entities)
        return [(r.start, r.end, PRESIDIO_TYPES[r.entity_type]) for r in found]

    return detect


def lowercase_lemma(doc: Doc) -> Doc:
    """A spaCy pipeline component standing in for a lemmatizer: lemma = lower-cased text."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def run(detect: Callable[[str], Spans], texts: list[str], repeat: int) -> tuple[list[Spans], float]:
    """Predictions for every text (warm-up pass) and the best texts-per-second of `repeat` further passes."""
    predicted = [detect(text) for text in texts]
    best = float("inf")
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        for text in texts:
            detect(text)
        best = min(best, time.perf_counter() - start)
    return predicted, len(texts) / best


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in TRIM:
        start += 1
    while end > start and text[end - 1] in TRIM:
        end -= 1
    return start, end


def matches(a: tuple[int, int], b: tuple[int, int], mode: str) -> bool:
    if mode == "strict":
        return a == b
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return shared > 0 and 2 * shared >= max(a[1] - a[0], b[1] - b[0])


def align(text: str, gold: Spans, predicted: Spans, mode: str) -> tuple[set[int], set[int]]:
    """Indices of the matched gold spans and of the right predictions, one-to-one, same type only."""
    gold_t = [trim(text, s, e) for s, e, _ in gold]
    pred_t = [trim(text, s, e) for s, e, _ in predicted]
    hit_gold: set[int] = set()
    hit_pred: set[int] = set()
    for i, (_, _, kind) in enumerate(gold):
        for j, (_, _, pkind) in enumerate(predicted):
            if j not in hit_pred and pkind == kind and matches(gold_t[i], pred_t[j], mode):
                hit_gold.add(i)
                hit_pred.add(j)
                break
    return hit_gold, hit_pred


def score(texts: list[str], gold: list[Spans], predicted: list[Spans], mode: str) -> dict[str, dict]:
    counts = {kind: {"gold": 0, "predicted": 0, "matched_gold": 0, "right_predictions": 0} for kind in (*TYPES, "all")}
    for text, g, p in zip(texts, gold, predicted, strict=True):
        hit_gold, hit_pred = align(text, g, p, mode)
        for spans, hits, total, right in ((g, hit_gold, "gold", "matched_gold"),
                                          (p, hit_pred, "predicted", "right_predictions")):
            for i, (_, _, kind) in enumerate(spans):
                for key in (kind, "all"):
                    counts[key][total] += 1
                    counts[key][right] += i in hits
    for c in counts.values():
        c["precision"] = c["right_predictions"] / c["predicted"] if c["predicted"] else None
        c["recall"] = c["matched_gold"] / c["gold"] if c["gold"] else None
    return counts


def errors(texts: list[str], gold: list[Spans], predicted: list[Spans]) -> list[dict]:
    """Gold spans left unmatched (miss) and predictions matching no gold span (false alarm), overlap matching."""
    out = []
    for n, (text, g, p) in enumerate(zip(texts, gold, predicted, strict=True), start=1):
        hit_gold, hit_pred = align(text, g, p, "overlap")
        out += [{"line": n, "kind": "miss", "type": k, "value": text[s:e]}
                for i, (s, e, k) in enumerate(g) if i not in hit_gold]
        out += [{"line": n, "kind": "false alarm", "type": k, "value": text[s:e]}
                for j, (s, e, k) in enumerate(p) if j not in hit_pred]
    return out


def table(results: dict[str, dict], mode: str, region: str) -> str:
    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    lines = [f"| type | gold spans | textsift P ({region}) | textsift R ({region}) | Presidio P | Presidio R |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind in (*TYPES, "all"):
        ours, theirs = results["textsift"][mode][kind], results["presidio"][mode][kind]
        lines.append(f"| {kind} | {ours['gold']} | {cell(ours['precision'])} | {cell(ours['recall'])} | "
                     f"{cell(theirs['precision'])} | {cell(theirs['recall'])} |")
    return "\n".join(lines)


def write_json(args: argparse.Namespace, results: dict[str, dict]) -> None:
    from importlib.metadata import version

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": " ".join(sys.argv), "data": str(args.data), "repeat": args.repeat, "region": args.region,
               "versions": {p: version(p) for p in ("presidio-analyzer", "spacy", "phonenumbers")},
               "presidio_setup": "AnalyzerEngine, default English registry minus SpacyRecognizer, SlimSpacyNlpEngine "
                                 "over spacy.blank('en') with lower-cased lemmas, threshold 0, seven entities",
               "results": results}
    args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
