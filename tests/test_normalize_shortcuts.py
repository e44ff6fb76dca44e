"""The shortcuts of ``normalize`` for the common forms must give exactly what
the libraries give: ``phone`` for numbers written in national form (digits
and separators) without phonenumbers' free-text parsing
(``_phone_national``), and ``email`` for an accented local part with a
plain domain (``_email_international``) -- the same value or the same
error, on generated values of every region, length and alphabet plus
hostile ones."""

import random

import phonenumbers
import pytest

from crmcore import normalize


def library(value, country):
    """``normalize.phone`` with the national-form shortcut off."""
    saved = normalize._phone_national
    normalize._phone_national = lambda value, country: None
    try:
        return outcome(value, country)
    finally:
        normalize._phone_national = saved


def outcome(value, country):
    try:
        return normalize.phone(value, country)
    except ValueError as exc:
        return ("error", str(exc))


def national_values(region, rng):
    """Numbers of ``region`` as people write them at home, and near misses."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    calling = str(meta.country_code) if meta else "1"
    prefix = (meta.national_prefix or "") if meta else ""
    values = []
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
                 phonenumbers.PhoneNumberType.TOLL_FREE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
        nsn = phonenumbers.national_significant_number(example)
        values += [national, nsn, prefix + nsn, nsn[:-1], nsn + "1", nsn + "12", prefix + nsn[:-2], "0" + nsn, "00" + nsn,
                   calling + nsn, "0" + calling + nsn, national.replace(" ", "-"), f"({nsn[:3]}) {nsn[3:]}", nsn[:3] + "." + nsn[3:]]
    for _ in range(25):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        values.append("".join(c + rng.choice(["", "", " ", "-", ".", "(", ")"]) for c in digits))
    return values


HOSTILE = ["12", "1 2", "123", "(12)", "--123--", "0", "00", "000", "0000000", " 030 1234567 ", "030  1234567", "030\t1234567",
           "030 1234567 ext. 12", "030 1234567#", "030/1234567", "+49 30 1234567", "0049 30 1234567", "030 123456789012345678",
           "9" * 250, "9" * 251, "1-800-FLOWERS", "٠٣٠ ١٢٣٤٥٦٧", "０３０ １２３４５６７", "030;ext=5", "tel:030", "....", "()", ""]


def test_national_form_gives_what_the_library_gives_in_every_region():
    rng = random.Random(23)
    answered = compared = 0
    regions = sorted(phonenumbers.SUPPORTED_REGIONS) + ["de", "XX", "AQ"]
    for region in regions:
        values = national_values(region, rng) if region.isupper() and region in phonenumbers.SUPPORTED_REGIONS else []
        for value in values + HOSTILE:
            expected = library(value, region)
            assert outcome(value, region) == expected, (value, region)
            compared += 1
            answered += normalize._NATIONAL_FORM.fullmatch(normalize.text(value)) is not None and \
                normalize._phone_national(normalize.text(value), region) is not None
    assert compared > 15000 and answered > 5000  # the shortcut is taken, and checked, often


@pytest.mark.parametrize(("value", "country", "e164"), [
    ("030 1234567", "DE", "+49301234567"),
    ("(212) 555-0101", "US", "+12125550101"),
    ("020 7946 0000", "GB", "+442079460000"),
    ("06 12345678", "IT", "+390612345678"),  # Italy keeps its leading zero
    ("01 42 68 53 00", "FR", "+33142685300"),
])
def test_hand_checked_numbers(value, country, e164):
    assert normalize._phone_national(value, country) == e164
    assert normalize.phone(value, country) == e164


def test_the_last_address_is_answered_again_only_for_that_string():
    first = "".join(["Ada", "@Example.COM"])
    assert normalize.email(first) == "ada@example.com"
    assert normalize.email(first) == "ada@example.com"  # the same string object: the remembered answer
    for _ in range(2):  # an invalid address raises every time: errors are not remembered
        with pytest.raises(ValueError, match="invalid e-mail address"):
            normalize.email("not-an-address")
    assert normalize.email("zoë@XN--bcher-kva.de") == "zoë@bücher.de"
    assert normalize.email(" bob@example.com ") == "bob@example.com"


def checked(value, international=True):
    """``normalize._email_checked`` (uncached) with or without its shortcut for international addresses."""
    saved = normalize._email_international
    if not international:
        normalize._email_international = lambda value: None
    try:
        return normalize._email_checked.__wrapped__(value)
    except ValueError as exc:
        return ("error", str(exc))
    finally:
        normalize._email_international = saved


LATIN = "äöüßéèêëàâçñøåæœÿıİĳŁłŒŠšŽžÀÉÖÜ×÷ǅǈȀɏ"
DOMAINS = ["example.com", "Example.COM", "gmail.com", "bücher-shop.de", "xn--bcher-kva.de", "-bad.com", "bad-.com", "a.b",
           "example.test", "host.local", "x.invalid", "x.onion", "in-addr.arpa", "localhost", "example.123", "a" * 64 + ".com",
           ("abcdefghij" * 6 + ".") * 4 + "com", "sub.example.co.uk", "EXAMPLE.Com"]


def test_international_addresses_give_what_email_validator_gives():
    rng = random.Random(7)
    answered = 0
    values = []
    for _ in range(3000):
        chars = "abcXYZ09._%+'-" + LATIN
        local = "".join(rng.choice(chars) for _ in range(rng.choice([1, 2, 5, 12, 40, 63, 64, 65, 70])))
        values.append(local + "@" + rng.choice(DOMAINS))
    values += ["müller@example.com", "Müller@Example.COM", ".müller@example.com", "müller.@example.com", "mü..ller@example.com",
               "POSTMASTER@example.com", "mü\u0308ller@example.com", "mu\u0308ller@example.com", "müller@@example.com",
               '"müller"@example.com', "Müller <m@example.com>", "müller@[127.0.0.1]", "müller @example.com", "ü" * 64 + "@a.com",
               "ü" * 100 + "@example.com", "Ωhm\u2126@example.com", "ǅ@example.com"]
    for value in values:
        expected = checked(value, international=False)
        assert checked(value) == expected, value
        answered += normalize._email_international(value) is not None
    assert answered > 500  # the shortcut is taken, and checked, often


def test_text_of_one_word_is_the_word_itself():
    """``text`` returns an alphanumeric value as it is: the same as trimming
    and collapsing white space would give (no white space or NUL is alphanumeric)."""
    def rule(value):
        if "\x00" in value:
            return "NUL"
        return normalize._SPACES.sub(" ", value).strip() if normalize._NEEDS_COLLAPSE.search(value) else value.strip()

    def got(value):
        try:
            return normalize.text(value)
        except ValueError:
            return "NUL"

    chars = [chr(c) for c in range(0x3100)] + [chr(c) for c in range(0x3100, 0x110000) if chr(c).isspace()]
    for ch in chars:
        for value in (ch, "a" + ch, ch + "b" + ch, "Zoë" + ch + ch + "1"):
            assert got(value) == rule(value), hex(ord(ch))


def test_a_library_major_version_the_shortcuts_were_not_compared_with_takes_the_library_path(monkeypatch):
    import email_validator

    normalize._phone_region.cache_clear()
    monkeypatch.setattr(phonenumbers, "__version__", "10.0.0")
    monkeypatch.setattr(email_validator, "__version__", "3.0.0")
    try:
        assert normalize._phone_national("030 1234567", "DE") is None
        assert normalize.phone("030 1234567", "DE") == "+49301234567"
        assert normalize._email_international("müller@example.com") is None
        assert normalize.email("Müller@Example.com") == "müller@example.com"
    finally:
        normalize._phone_region.cache_clear()
    monkeypatch.undo()
    assert normalize._phone_national("030 1234567", "DE") == "+49301234567"
    assert normalize._email_international("müller@example.com") == "müller@example.com"
