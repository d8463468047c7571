"""Find and mask personal data in text, offline: typed placeholders (`<EMAIL>`) or consistent pseudonyms (`<EMAIL_1>`).

Detected types, in the order overlapping matches are resolved (the first type keeps the span):

- url: `http(s)://`, `ftp://` or `www.` up to whitespace, less trailing punctuation. First, so an e-mail inside a
  query does not leave the rest of the URL readable. Bare domains (`example.com`) are kept: file names look alike.
- email: `local@domain.tld`; image names such as `icon@2x.png` are not e-mails.
- iban: country, check digits and account, compact or in groups of 4, kept only when `stdnum.iban` accepts it.
- card: 13-19 digits, compact or in groups (first of 4, then 3-6, one separator), Luhn-valid and with a card
  network's prefix and length: a random 16-digit order number passes Luhn one time in ten, the prefix rule cuts that.
- ip: IPv4 and IPv6, validated by `ipaddress`. A dotted quad right after a version or section word
  (`version 1.2.3.4`, `v1.2.3.4`, `section 1.2.3.4`) or starting with 0 (`0.9.1.2`) is a version, not a host.
- ssn: US social security numbers, dashed only (`123-45-6789`), validated by `stdnum.us.ssn`.
- phone: `phonenumbers.PhoneNumberMatcher`, leniency VALID (real numbering plans; it rejects dates and times), not
  when glued to a longer digit run. A bare 10-digit run with a real area code and exchange is taken for a phone.

Numbers right after an identifier word (`order 4155550100`, `invoice #4111...`) are taken for that identifier and
kept, for cards, SSNs and phones. Left out, because offline rules cannot keep precision high: personal names and
postal addresses (they need a named-entity model), dates of birth (they look like any other date), passport,
driving-licence and national ID numbers of most countries (no checksum, or formats that match ordinary numbers),
undashed SSNs (any nine digits), and MAC addresses (device, not person, identifiers).
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

from textsift._optional import require
from textsift.data.placeholders import PLACEHOLDER, placeholder
from textsift.errors import TextsiftError

PII_TYPES: tuple[str, ...] = ("url", "email", "iban", "card", "ip", "ssn", "phone")


@dataclass(frozen=True)
class Span:
    """One piece of personal data found in a text: `value == text[start:end]`."""

    start: int
    end: int
    kind: str
    value: str


_URL = re.compile(r"(?<![\w@.-])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\""
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+([A-Za-z]{2,24})"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff"})
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])"
)
_CARD = re.compile(r"(?<![\w.,])(?<!\d[ -])(?:\d{13,19}|\d{4}([ -])\d{3,6}(?:\1\d{3,6}){1,3})(?!\w|[- .,]\d)")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d|-[A-Za-z])")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)")
_SSN = re.compile(r"(?<![\w-])(?<!\d )\d{3}-\d{2}-\d{4}(?!\w|-\d)")
# A dotted quad after these words numbers a release or a document part, not a host.
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:v|ver|version|versions|release|rel|build|rev|revision|update|patch|firmware|fw|driver|kernel|section|"
    r"sec|chapter|ch|clause|para|paragraph|step|item|rule|fig|figure|table|appendix|article|art|oid)\.?|§)\s*[:#]?\s*$",
    re.IGNORECASE,
)
# A number after these words identifies an order, a parcel or a document, whatever it looks like.
_IDENTIFIER_BEFORE = re.compile(
    r"\b(?:order|invoice|inv|ref|reference|tracking|shipment|parcel|package|ticket|case|booking|confirmation|"
    r"transaction|txn|serial|sku|isbn|issn|po|receipt|item|product|part|model)s?"
    r"(?:\s*(?:no|nr|num|number|id|code))?\.?\s*[:#]?\s*$",
    re.IGNORECASE,
)
# (first digits from, to, allowed lengths) for the card networks; Maestro is limited to its own ranges.
_LEN_16_19 = frozenset(range(16, 20))
_CARD_NETWORKS: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})), (2221, 2720, frozenset({16})),  # Mastercard
    (34, 34, frozenset({15})), (37, 37, frozenset({15})),  # American Express
    (6011, 6011, _LEN_16_19), (644, 649, _LEN_16_19), (65, 65, _LEN_16_19),  # Discover
    (300, 305, frozenset(range(14, 20))), (36, 36, frozenset(range(14, 20))), (38, 39, _LEN_16_19),  # Diners Club
    (3528, 3589, _LEN_16_19), (62, 62, _LEN_16_19), (2200, 2204, _LEN_16_19),  # JCB, UnionPay, Mir
    *((prefix, prefix, frozenset(range(13, 20))) for prefix in (5018, 5020, 5038, 6304, 6759, 6761, 6762, 6763)),
)  # the last line is Maestro
# The phone matcher is the slow part (~1 ms a text): only texts with a phone-shaped run of 7+ digits, once dates
# and times are blanked out, get to it. A date glued to more digits (06.12.34.56.78 is a French phone) stays.
_PHONE_SHAPED = re.compile(r"\d(?:[ .\-/()]{0,2}\d){6}")
_DATE_OR_TIME = re.compile(
    r"(?<![\d./-])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?)(?![\d./-]\d)"
)


def parse_types(spec: str) -> tuple[str, ...]:
    """Read a `--pii-types` value, `all` or a comma-separated subset (`email,phone`), into types in `PII_TYPES` order.

    Raises:
        TextsiftError: A name is not a known type (the message lists them), or none is given.
    """
    if spec.strip().lower() == "all":
        return PII_TYPES
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    if not names:
        raise TextsiftError(f"no PII type given; use 'all' or some of: {', '.join(PII_TYPES)}")
    return _checked_kinds(names)


def _checked_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    if isinstance(kinds, str):  # a spec such as "email,phone" rather than a list of names
        return parse_types(kinds)
    unknown = [kind for kind in kinds if kind not in PII_TYPES]
    if unknown:
        raise TextsiftError(f"unknown PII type {unknown[0]!r}; known types: {', '.join(PII_TYPES)}")
    return tuple(kind for kind in PII_TYPES if kind in kinds)


def find_pii(text: str, kinds: Sequence[str] = PII_TYPES, region: str = "US") -> list[Span]:
    """Non-overlapping spans of personal data sorted by start; an overlap goes to the type earlier in `PII_TYPES`.

    Args:
        text: Any text; nothing inside an existing placeholder (`<EMAIL_1>`) is matched.
        kinds: The types to look for.
        region: Where phone numbers without a `+country` prefix are from: a two-letter code such as `US`, or
            several, comma-separated (`US,GB,DE`), tried in order.

    Raises:
        TextsiftError: An unknown type or region.
    """
    return _detector(_checked_kinds(kinds), region.upper()).find(text)


class Masker:
    """Replace personal data with placeholders; with `pseudonymise`, one number per distinct value and type.

    Pseudonym numbers persist across `mask` calls on one Masker (use one per file for a file's scope, or a new one
    per text for a text's scope). Values are compared in a canonical form: e-mail lower-cased, phone as E.164,
    card, IBAN and SSN by their digits and letters, IP as `ipaddress` writes it, URL as written.
    """

    def __init__(self, kinds: Sequence[str] = PII_TYPES, region: str = "US", pseudonymise: bool = False) -> None:
        self.region = region.upper()
        self.pseudonymise = pseudonymise
        self._detector = _detector(_checked_kinds(kinds), self.region)
        self._numbers: dict[str, dict[str, int]] = {}

    def mask(self, text: str) -> tuple[str, Counter[str]]:
        """The text with each span replaced by its placeholder, and how many of each type were masked."""
        spans = self._detector.find(text)
        pieces: list[str] = []
        last = 0
        for span in spans:
            pieces += [text[last : span.start], self._placeholder(span)]
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces), Counter(span.kind for span in spans)

    def _placeholder(self, span: Span) -> str:
        if not self.pseudonymise:
            return placeholder(span.kind)
        numbers = self._numbers.setdefault(span.kind, {})
        return placeholder(span.kind, numbers.setdefault(_canonical(span, self.region), len(numbers) + 1))


def _canonical(span: Span, region: str) -> str:
    if span.kind == "email":
        return span.value.lower()
    if span.kind == "phone":
        return _e164(span.value, region)
    if span.kind == "ip":
        return str(ipaddress.ip_address(span.value))
    if span.kind in ("card", "iban", "ssn"):
        return re.sub(r"[^0-9A-Za-z]", "", span.value).upper()
    return span.value


def _e164(value: str, regions: str) -> str:
    """A phone number as +<country><number>, read as a number of the first of `regions` it is valid in."""
    phonenumbers = require("phonenumbers", extra="clean")
    parsed = [phonenumbers.parse(value, region) for region in regions.split(",")]
    number = next((n for n in parsed if phonenumbers.is_valid_number(n)), parsed[0])
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


Finder = Callable[[str], Iterator[tuple[int, int]]]


class _Detector:
    """The finders for one set of types and one phone region, each a function yielding candidate (start, end)."""

    def __init__(self, kinds: tuple[str, ...], region: str) -> None:
        stdnum = _stdnum() if {"iban", "card", "ssn"} & set(kinds) else {}
        finders: dict[str, Finder] = {
            "url": _find_urls, "email": _find_emails, "ip": _find_ips,
            "iban": lambda text: _find_checked(_IBAN, text, stdnum["iban"].is_valid, trim_groups=True),
            "card": lambda text: _find_checked(_CARD, text, _is_card, identifier_veto=True),
            "ssn": lambda text: _find_checked(_SSN, text, stdnum["ssn"].is_valid, identifier_veto=True),
        }
        if "phone" in kinds:
            finders["phone"] = _phone_finder(region)
        self._finders = [(kind, finders[kind]) for kind in kinds]

    def find(self, text: str) -> list[Span]:
        # Existing placeholders come first, so masking masked text changes nothing.
        taken = [(match.start(), match.end()) for match in PLACEHOLDER.finditer(text)] if "<" in text else []
        spans: list[Span] = []
        for kind, finder in self._finders:
            # Digits already taken (a card, an IBAN) must not wake the slow phone matcher: blank them for it.
            source = _blanked(text, taken) if kind == "phone" and taken else text
            for start, end in finder(source):
                if all(end <= left or start >= right for left, right in taken):
                    taken.append((start, end))
                    spans.append(Span(start, end, kind, text[start:end]))
        return sorted(spans, key=lambda span: span.start)


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


@functools.lru_cache(maxsize=64)
def _detector(kinds: tuple[str, ...], region: str) -> _Detector:
    return _Detector(kinds, region)


@functools.cache
def _stdnum() -> dict[str, ModuleType]:
    require("stdnum", extra="clean")
    return {name: importlib.import_module(f"stdnum.{path}") for name, path in
            (("iban", "iban"), ("luhn", "luhn"), ("ssn", "us.ssn"))}


def _find_urls(text: str) -> Iterator[tuple[int, int]]:
    if "://" not in text and "www." not in text.lower():
        return
    for match in _URL.finditer(text):
        url = match.group()
        # Sentence punctuation and a closing bracket that was never opened in the URL belong to the text.
        while url and (url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
            url = url[:-1]
        if re.search(r"(?://|www\.)\w", url, re.IGNORECASE):
            yield match.start(), match.start() + len(url)


def _find_emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        if match.group(1).lower() not in _IMAGE_EXTENSIONS:
            yield match.span()


def _find_ips(text: str) -> Iterator[tuple[int, int]]:
    if ":" in text:
        for match in _IPV6.finditer(text):
            hex_digits = re.sub(r"[^0-9A-Fa-f]", "", match.group())
            groups = [group for group in match.group().split(":") if group]
            # `a::b` in code is a valid address but no one's: ask for two groups and four hex digits, or the
            # loopback `::1`, which is masked like 127.0.0.1.
            if ((len(groups) >= 2 and len(hex_digits) >= 4) or match.group() == "::1") and _is_ip(match.group()):
                yield match.span()
    if "." in text:
        for match in _IPV4.finditer(text):
            # No host address starts with 0 (0.0.0.0/8 is "this network"), but versions like 0.9.1.2 do.
            if (not match.group().startswith("0") and _is_ip(match.group())
                    and not _VERSION_BEFORE.search(text, max(0, match.start() - 24), match.start())):
                yield match.span()


def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 13 <= len(digits) <= 19 or not _stdnum()["luhn"].is_valid(digits):
        return False
    return any(low <= int(digits[: len(str(low))]) <= high and len(digits) in lengths
               for low, high, lengths in _CARD_NETWORKS)


def _find_checked(pattern: re.Pattern[str], text: str, is_valid: Callable[[str], bool], *,
                  trim_groups: bool = False, identifier_veto: bool = False) -> Iterator[tuple[int, int]]:
    """Yield the pattern's matches that pass `is_valid`; with `trim_groups`, retry without trailing space groups."""
    for match in pattern.finditer(text):
        if identifier_veto and _after_identifier(text, match.start()):
            continue
        candidate = match.group()
        # A spaced IBAN may have swallowed the next word ("... 0130 00 THEN"): drop groups until it validates.
        while not is_valid(candidate) and trim_groups and candidate.count(" ") > 2:
            candidate = candidate.rsplit(" ", 1)[0]
        if is_valid(candidate):
            yield match.start(), match.start() + len(candidate)


def _after_identifier(text: str, start: int) -> bool:
    return bool(_IDENTIFIER_BEFORE.search(text, max(0, start - 40), start))


def _phone_finder(region: str) -> Finder:
    """Phone numbers written with a +country prefix, or as national numbers of one of the regions (`US,GB`),
    tried in order; a span found for an earlier region is not looked for again."""
    phonenumbers = require("phonenumbers", extra="clean")
    regions = [r.strip() for r in region.split(",")]
    for code in regions:
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise TextsiftError(f"unknown phone region {code!r}; use two-letter region codes such as US, GB or DE")
    leniency = phonenumbers.Leniency.VALID

    def find_phones(text: str) -> Iterator[tuple[int, int]]:
        if not _PHONE_SHAPED.search(text) or not _PHONE_SHAPED.search(_DATE_OR_TIME.sub(" ", text)):
            return
        found: list[tuple[int, int]] = []
        for code in regions:
            for match in phonenumbers.PhoneNumberMatcher(text, code, leniency=leniency):
                # NANP's 7-digit service numbers (310-xxxx) are valid but look like any 7 or 8 digits: want all 10.
                start, end = match.start, match.end
                short_nanp = match.number.country_code == 1 and len(str(match.number.national_number)) != 10
                overlaps = any(start < right and end > left for left, right in found)
                if not (overlaps or short_nanp or _glued_to_digits(text, start, end)
                        or _after_identifier(text, start)):
                    found.append((start, end))
        yield from sorted(found)

    return find_phones


def _glued_to_digits(text: str, start: int, end: int) -> bool:
    """Whether the match continues a longer digit run (`98-415-555-0100`): then it is some other number."""
    before, after = text[max(0, start - 2) : start], text[end : end + 2]
    return bool(re.search(r"(?:\w|\d[-./])$", before) or re.match(r"\w|[-./]\d", after))
