from __future__ import annotations

from collections import Counter

import pytest

from textsift.data.pii import PII_TYPES, Masker, Span, find_pii, parse_types
from textsift.errors import TextsiftError


def _masked(text: str, kinds: tuple[str, ...] = PII_TYPES, region: str = "US", pseudonymise: bool = False) -> str:
    return Masker(kinds, region, pseudonymise).mask(text)[0]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("jane.doe@example.com", "email"),
        ("John.Smith+news@Mail.Example.co.uk", "email"),
        ("a_b-c@sub-domain.org", "email"),
        ("https://example.com/profile?id=42", "url"),
        ("http://192.168.0.1:8080/admin", "url"),
        ("www.example.org/users/jane", "url"),
        ("ftp://files.example.net/x.txt", "url"),
        ("DE89 3704 0044 0532 0130 00", "iban"),
        ("DE89370400440532013000", "iban"),
        ("GB82 WEST 1234 5698 7654 32", "iban"),
        ("FR1420041010050500013M02606", "iban"),
        ("4111 1111 1111 1111", "card"),
        ("4111-1111-1111-1111", "card"),
        ("5555555555554444", "card"),
        ("3782 822463 10005", "card"),
        ("6011 0009 9013 9424", "card"),
        ("10.0.0.1", "ip"),
        ("8.8.8.8", "ip"),
        ("2001:db8::ff00:42:8329", "ip"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ip"),
        ("fe80::1", "ip"),
        ("123-45-6789", "ssn"),
        ("(415) 555-0100", "phone"),
        ("415-555-0100", "phone"),
        ("415.555.0100", "phone"),
        ("+1 415 555 0100", "phone"),
        ("1-800-555-0199", "phone"),
        ("4155550100", "phone"),
        ("+44 20 7946 0958", "phone"),
    ],
)
def test_each_type_is_found_in_its_usual_formats(value: str, kind: str) -> None:
    text = f"Contact: {value}. Thanks!"
    start = text.index(value)
    assert find_pii(text) == [Span(start, start + len(value), kind, value)]
    assert Masker().mask(text) == (f"Contact: <{kind.upper()}>. Thanks!", Counter({kind: 1}))


@pytest.mark.parametrize(
    "text",
    [
        "Delivered on 2024-05-01, paid 05/01/2024, back 01.05.2024.",
        "Open 10:30-18:45, last entry 2024-05-01 12:30:45.",
        "Order 4155550100 shipped; order no. 415-555-0100 too.",
        "Invoice #4111 1111 1111 1111 was paid.",
        "Ref: 123-45-6789 on the letter.",
        "Order #A-12345 and order 123456.",
        "Upgrade to version 1.2.3.4, or v1.2.3.4, see section 1.2.3.4.",
        "Python 3.11.4 and release 0.9.1.2 and 1.2.3.4.5.",
        "Card 4111 1111 1111 1112 was declined.",
        "Random 1234567812345670 and 1234 5678 9012 3456.",
        "Bad IBAN DE89 3704 0044 0532 0130 01 and GB82WEST12345698765433.",
        "It cost $1,234.56, or 4155550.10 EUR, about 1 000 000 in total.",
        "Pi is 3.14159 and the town has 8336817 people.",
        "Door code 3107320, badge 113107320.",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
        "Parcel 1Z999AA10123456784 and 9400 1000 0000 0000 0000 00.",
        "A digit run 98415555010099 and 98-415-555-0100-22.",
        "Invalid SSNs 000-12-3456, 666-12-3456, 078-05-1120.",
        "Address 300.1.1.1 and std::vector and a::b and 12:30:45.",
        "Retina icon@2x.png and @handle.",
        "Visit example.com today.",
    ],
)
def test_look_alikes_are_kept(text: str) -> None:
    assert find_pii(text) == []


def test_a_card_in_groups_is_a_card_not_a_phone() -> None:
    assert [span.kind for span in find_pii("pay 4111 1111 1111 1111 now")] == ["card"]


def test_an_email_inside_a_url_is_part_of_the_url() -> None:
    assert _masked("see https://example.com/?u=jane@example.com.") == "see <URL>."


def test_a_closing_bracket_not_opened_in_the_url_is_kept() -> None:
    assert _masked("(see https://en.wikipedia.org/wiki/Foo_(bar)).") == "(see <URL>)."


def test_a_spaced_iban_does_not_swallow_the_next_word() -> None:
    assert _masked("pay DE89 3704 0044 0532 0130 00 THEN call") == "pay <IBAN> THEN call"


def test_only_the_requested_types_are_masked() -> None:
    text = "mail jane@example.com or call (415) 555-0100"
    assert _masked(text, kinds=("phone",)) == "mail jane@example.com or call <PHONE>"


def test_the_region_decides_numbers_without_a_country_code() -> None:
    text = "ring 020 7946 0958"
    assert _masked(text) == text
    assert _masked(text, region="GB") == "ring <PHONE>"


def test_pseudonyms_are_consistent_and_numbered_per_type_in_order_of_appearance() -> None:
    masker = Masker(pseudonymise=True)
    first, counts = masker.mask("a@x.com, b@x.com, a@x.com; 10.0.0.1")
    assert first == "<EMAIL_1>, <EMAIL_2>, <EMAIL_1>; <IP_1>"
    assert counts == Counter({"email": 3, "ip": 1})


def test_pseudonym_numbers_persist_across_calls_on_one_masker() -> None:
    masker = Masker(pseudonymise=True)
    masker.mask("a@x.com then b@x.com")
    assert masker.mask("c@x.com and b@x.com")[0] == "<EMAIL_3> and <EMAIL_2>"
    assert Masker(pseudonymise=True).mask("c@x.com")[0] == "<EMAIL_1>"  # a new masker starts again


@pytest.mark.parametrize(
    "text",
    [
        "+1 415 555 0100 or (415) 555-0100",
        "Jane.Doe@Example.com or jane.doe@example.com",
        "4111 1111 1111 1111 or 4111-1111-1111-1111",
        "DE89 3704 0044 0532 0130 00 or DE89370400440532013000",
        "2001:DB8::1 or 2001:db8:0:0::1",
    ],
)
def test_two_spellings_of_one_value_get_one_pseudonym(text: str) -> None:
    masked = Masker(pseudonymise=True).mask(text)[0]
    first, second = masked.split(" or ")
    assert first == second and first.endswith("_1>")


def test_masking_masked_text_changes_nothing() -> None:
    text = "Jane <jane@example.com>, +1 415 555 0100, 4111 1111 1111 1111, DE89370400440532013000, 10.0.0.1"
    for pseudonymise in (False, True):
        masked = _masked(text, pseudonymise=pseudonymise)
        assert Masker(pseudonymise=pseudonymise).mask(masked) == (masked, Counter())


def test_counts_give_how_many_of_each_type_were_masked() -> None:
    text = "a@x.com b@x.com (415) 555-0100 https://x.org 123-45-6789 no pii here"
    assert Masker().mask(text)[1] == Counter({"email": 2, "phone": 1, "url": 1, "ssn": 1})


def test_parse_types_reads_all_or_a_subset_in_resolution_order() -> None:
    assert parse_types("all") == PII_TYPES
    assert parse_types("phone, Email,phone") == ("email", "phone")


def test_an_unknown_type_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(TextsiftError, match="unknown PII type 'name'.*email, iban"):
        parse_types("email,name")
    with pytest.raises(TextsiftError, match="unknown PII type"):
        Masker(kinds=("passport",))


def test_an_invalid_region_is_an_error() -> None:
    with pytest.raises(TextsiftError, match="unknown phone region 'XX'"):
        Masker(region="XX")
    with pytest.raises(TextsiftError, match="unknown phone region"):
        find_pii("call 415 555 0100", region="USA")


def test_the_ipv6_loopback_is_masked_like_the_ipv4_one() -> None:
    assert [(s.kind, s.value) for s in find_pii("on ::1 and 127.0.0.1")] == [("ip", "::1"), ("ip", "127.0.0.1")]
