"""Converters for record fields: each takes user input and returns the stored value.

They raise ``ValueError`` with a short reason; the importer and the CLI add
the file, row and field. Heavy libraries are imported on first use so that
``crm --help`` stays fast.
"""

import datetime as dt
import functools
import json
import re
import time
import unicodedata

_SPACES = re.compile(r"\s+")


_NEEDS_COLLAPSE = re.compile(r"\s\s|[\t\n\r\f\v]")


def text(value):
    """Trim and collapse inner white space; empty becomes ``""``."""
    if not value:
        return ""
    if type(value) is not str:
        value = str(value)
    if value.isalnum():  # one word: no white space, no NUL
        return value
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if _NEEDS_COLLAPSE.search(value):
        value = _SPACES.sub(" ", value)
    return value.strip()


def long_text(value):
    """Like ``text`` but keeps line breaks (notes, bodies, descriptions)."""
    if value is None:
        return ""
    value = str(value)
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    return value.strip()


def optional(converter):
    """Wrap ``converter`` so that ``None`` and blank strings become ``None``."""

    @functools.wraps(converter)
    def convert(value):
        if value is None or value == "" or (type(value) is str and value.isspace()):
            return None
        return converter(value)

    return convert


# A fast pre-check for the common plain-ASCII case; anything unusual goes to
# email-validator, which knows the RFCs and internationalised addresses.
_SIMPLE_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


#: Results of ``email`` and ``phone`` worked out ahead, by their exact
#: arguments (an importer checks a file's next rows on other cores; see
#: ``crmcore.importing``). Only successes are kept: an error is raised here.
_AHEAD = {"email": {}, "phone": {}}


def _worked_out(emails, phones):
    """Use these results of ``email`` (``{value: canonical}``) and ``phone``
    (``{(value, country): E.164}``), computed by the same functions elsewhere,
    instead of those kept so far."""
    _AHEAD["email"], _AHEAD["phone"] = emails, phones


def email(value):
    """Validate an e-mail address and give its one canonical form: trimmed,
    lower-case, and an internationalised domain in Unicode (``xn--`` labels
    decoded), so ``user@bücher.de`` and ``user@xn--bcher-kva.de`` are one
    address for storage, de-duplication and the suppression list."""
    if type(value) is not str:
        return _email(value)
    last = _last_email
    if value is last[0]:
        return last[1]
    found = _AHEAD["email"].get(value)
    if found is None:
        found = _email(value)
    _remember_email(value, found)
    return found


#: The last string ``email`` answered and its answer: an importer checks a
#: row's address for the suppression list and again building the row, the
#: same string object both times. Replaced whole, so threads see a pair.
_last_email = (object(), None)


def _remember_email(value, found):
    global _last_email
    _last_email = (value, found)


def _email(value):
    value = str(value).strip()
    if _SIMPLE_EMAIL.fullmatch(value) and ".." not in value and not value.startswith("."):
        local, _, domain = value.rpartition("@")
        if not local.endswith(".") and not any(p.startswith("-") or p.endswith("-") for p in domain.split(".")):
            value = value.lower()
            return _unicode_domain(value) if "xn--" in domain.lower() else value
    return _email_checked(value)


@functools.lru_cache(maxsize=4096)
def _email_checked(value):
    """The canonical form of an address the fast pre-check did not settle.
    Remembered: an importer checks a row's address once for the suppression
    list and once more building the record, and email-validator takes about
    100 us an address (an invalid one raises each time: errors are not kept)."""
    from email_validator import EmailNotValidError, validate_email

    found = _email_international(value)
    if found is not None:
        return _unicode_domain(found.lower())
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid e-mail address {value!r}: {exc}") from None
    return _unicode_domain(result.normalized.lower())


#: The shortcuts below run the libraries' own internal steps, whose names
#: and meaning a major release may change: they are taken only with the
#: major versions ``tests/test_normalize_shortcuts.py`` compares them with
#: (any other version goes through ``validate_email`` / ``parse`` as ever).
_EMAIL_VALIDATOR_TESTED = ("2.",)
_PHONENUMBERS_TESTED = ("8.", "9.")

#: The local part of an address that ``_email_international`` may take:
#: letters of the Latin alphabets (with accents) among plain ASCII ones; no
#: quotes, angle brackets, @-signs or combining marks.
_LATIN_LOCAL = re.compile(r"[A-Za-z0-9._%+'\-\u00c0-\u024f]+")
_SIMPLE_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def _email_international(value):
    """``validate_email(value).normalized`` for the common international
    address, ``müller@example.com``: an accented local part and a plain ASCII
    domain. The same library steps in the same order (``validate_email``:
    the split is trivial here, the local part checked by its own function,
    the domain's result remembered, since an import meets the same few
    domains again and again). ``None`` where ``validate_email`` must decide,
    which then raises as ever. ``tests/test_normalize_shortcuts.py`` compares
    both ways."""
    local, at, domain = value.partition("@")
    if not at or local.isascii() or len(value.encode()) > 200 or not _LATIN_LOCAL.fullmatch(local) \
            or not _SIMPLE_DOMAIN.fullmatch(domain) or not unicodedata.is_normalized("NFC", local):
        return None
    try:
        import email_validator

        if not email_validator.__version__.startswith(_EMAIL_VALIDATOR_TESTED):
            return None
        from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
        from email_validator.syntax import validate_email_local_part

        info = validate_email_local_part(local, allow_smtputf8=email_validator.ALLOW_SMTPUTF8,
                                         allow_empty_local=email_validator.ALLOW_EMPTY_LOCAL,
                                         quoted_local_part=False, strict=email_validator.STRICT)
        local_part, ascii_local_part = info["local_part"], info["ascii_local_part"]
        if ascii_local_part is not None and ascii_local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES \
                and local_part is not None:
            local_part = local_part.lower()
        name, ascii_name = _email_domain(domain, email_validator.TEST_ENVIRONMENT, email_validator.GLOBALLY_DELIVERABLE)
    except Exception:  # noqa: BLE001 - validate_email decides, and words the error
        return None
    normalized = local_part + "@" + name
    for address in (value, normalized, (ascii_local_part or local_part or "") + "@" + ascii_name):
        if len(address.encode()) > 254:  # validate_email_length's limit
            return None
    return normalized


@functools.lru_cache(maxsize=1024)
def _email_domain(domain, test_environment, globally_deliverable):
    """``validate_email_domain_name``'s domain and ASCII domain (errors are not kept)."""
    from email_validator.syntax import validate_email_domain_name

    info = validate_email_domain_name(domain, test_environment=test_environment, globally_deliverable=globally_deliverable)
    return info["domain"], info["ascii_domain"]


def _unicode_domain(address):
    local, _, domain = address.rpartition("@")
    if "xn--" not in domain:
        return address
    import idna

    try:
        return f"{local}@{idna.decode(domain).lower()}"
    except idna.IDNAError as exc:
        raise ValueError(f"invalid e-mail address {address!r}: the domain is not valid IDNA ({exc})") from None


def email_ascii(address):
    """A canonical address with its domain in ASCII (punycode), as mail
    headers carry it; the address itself when the domain is ASCII already."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    import idna

    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode()}"
    except idna.IDNAError:
        return address


@functools.lru_cache(maxsize=None)
def _country_index():
    import pycountry

    index = {}
    for c in pycountry.countries:
        for name in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
            if name:
                index[name.casefold()] = c.alpha_2
    index.update({"uk": "GB", "england": "GB", "usa": "US", "u.s.a.": "US", "deutschland": "DE", "österreich": "AT", "schweiz": "CH"})
    return index


def country(value):
    """ISO 3166-1 alpha-2 code from a code or an English country name."""
    value = text(value)
    code = _country_index().get(value.casefold())
    if code is None:
        raise ValueError(f"unknown country {value!r} (use an ISO 3166-1 code such as DE or US)")
    return code


def phone(value, country_code=None):
    """Normalise to E.164 (``+4930123456``) when a country is known or given.

    Without a country, a number not starting with ``+`` is kept as typed."""
    if type(value) is str:
        found = _AHEAD["phone"].get((value, country_code))
        if found is not None:
            return found
    value = text(value)
    if not value.startswith("+") and not value.startswith("00") and not country_code:
        return value
    if country_code and _NATIONAL_FORM.fullmatch(value):
        found = _phone_national(value, country_code)
        if found is not None:
            return found
    import phonenumbers

    try:
        number = phonenumbers.parse(value, country_code)
    except phonenumbers.NumberParseException:
        raise ValueError(f"invalid phone number {value!r}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"invalid phone number {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: A number as it is written inside one country: ASCII digits and the usual
#: separators, nothing else (no "+", letters, extension, "/" or ";").
_NATIONAL_FORM = re.compile(r"[0-9 ().-]{1,250}")
_SEPARATORS = str.maketrans("", "", " ().-")


@functools.lru_cache(maxsize=None)
def _phone_region(code):
    """What ``_phone_national`` needs of a region, once: the phonenumbers
    helpers, its metadata, international prefix and calling code (``None``
    where the library has no such region or lacks a helper)."""
    try:
        import phonenumbers
        from phonenumbers import phonenumberutil as pu

        if not phonenumbers.__version__.startswith(_PHONENUMBERS_TESTED):
            return None

        helpers = (pu._parse_prefix_as_idd, pu._maybe_strip_national_prefix_carrier_code, pu._test_number_length,
                   pu._set_italian_leading_zeros_for_phone_number, pu.ValidationResult, phonenumbers.PhoneNumber,
                   phonenumbers.is_possible_number, phonenumbers.format_number, phonenumbers.PhoneNumberFormat.E164)
        if code not in pu.SUPPORTED_REGIONS:  # as parse checks it (case and all)
            return None
        metadata = pu.PhoneMetadata.metadata_for_region(code.upper(), None)
    except (ImportError, AttributeError, TypeError):
        return None
    if metadata is None or metadata.country_code is None:
        return None
    import re as re_module

    idd = re_module.compile(metadata.international_prefix if metadata.international_prefix is not None else "NonMatch")
    return helpers, metadata, idd, str(metadata.country_code)


def _phone_national(value, country_code):
    """``phone(value, country_code)`` for a number in national form (digits
    and separators only), without phonenumbers' parsing of free text: for
    such a value ``phonenumbers.parse`` reduces to its digits, and this runs
    the same library steps on them (national prefix, lengths, E.164).
    ``None`` where the library must decide: an international prefix, a
    number starting with the calling code, an impossible number (the
    library then raises as ever), fewer than three digits.
    ``tests/test_normalize_shortcuts.py`` compares both ways on every region."""
    digits = value.translate(_SEPARATORS)
    if len(digits) < 3:
        return None
    region = _phone_region(country_code)
    if region is None:
        return None
    (as_idd, strip_prefix, test_length, leading_zeros, result, PhoneNumber, is_possible, format_number, e164), \
        metadata, idd, calling = region
    if digits.startswith(calling) or as_idd(idd, digits)[0]:
        return None
    national = digits
    _, stripped, _ = strip_prefix(digits, metadata)
    if test_length(stripped, metadata) not in (result.TOO_SHORT, result.IS_POSSIBLE_LOCAL_ONLY, result.INVALID_LENGTH):
        national = stripped
    if not 2 <= len(national) <= 17:
        return None
    number = PhoneNumber(country_code=metadata.country_code, national_number=int(national))
    leading_zeros(national, number)
    if not is_possible(number):
        return None
    return format_number(number, e164)


def date(value):
    """A calendar date from ``date``/``datetime`` or ISO text (``2024-03-31``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    value = text(value)
    try:
        return dt.date.fromisoformat(value[:10]) if len(value) >= 10 else dt.date.fromisoformat(value)
    except ValueError:
        pass
    found = []
    for fmt in ("%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y"):
        try:
            found.append(dt.datetime.strptime(value, fmt).date())
        except ValueError:
            continue
    if len(set(found)) > 1:
        # 11/03/2026: 11 March or 3 November. Never guessed; the importer
        # learns a file's order from its values (crmcore.dates).
        raise ValueError(f"ambiguous date {value!r}: day/month or month/day? (use YYYY-MM-DD)")
    if found:
        return found[0]
    raise ValueError(f"invalid date {value!r} (use YYYY-MM-DD)")


def timestamp(value):
    """An ISO 8601 timestamp string (UTC assumed when no zone is given)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        value = text(value)
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"invalid timestamp {value!r} (use YYYY-MM-DDTHH:MM:SS)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed.isoformat(timespec="seconds")


def now():
    """The current UTC time as stored in timestamp fields (``timestamp``'s
    format; strftime is twice as fast as datetime, and imports call this per row)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def number(value):
    """A float from a number or text; accepts a decimal comma (``12,50``)."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        value = text(value).replace(" ", "")
        if "," in value and "." not in value:
            value = value.replace(",", ".")
        try:
            result = float(value)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {value!r}")
    return result


def integer(value):
    """An int from a number or text; rejects fractions."""
    if isinstance(value, bool):
        raise ValueError(f"not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    result = number(value)
    if result != int(result):
        raise ValueError(f"not a whole number: {value!r}")
    return int(result)


_TRUE = {"1", "true", "yes", "y", "on", "x", "opt-in", "subscribed", "ja", "oui", "si", "sí"}  # sheets in the demo's languages
_FALSE = {"0", "false", "no", "n", "off", "", "opt-out", "unsubscribed", "nein", "non"}


def boolean(value):
    """A bool from common spellings (yes/no, true/false, 1/0)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return bool(value)
    word = text(value).lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def tags(value):
    """A sorted list of distinct tags from a list or a comma/semicolon string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            value = json.loads(stripped)
        else:
            value = re.split(r"[,;|]", value)
    return sorted({t for t in map(text, value) if t})


def json_object(value):
    """A dict from a dict or JSON text (custom attributes)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        _no_nul(value)
        return value
    try:
        result = json.loads(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a JSON object: {str(value)[:40]!r}") from None
    if not isinstance(result, dict):
        raise ValueError("not a JSON object")
    _no_nul(result)
    return result


def _no_nul(value, depth=0):
    """NUL characters are refused in custom attributes as in every other field."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL byte")
    elif isinstance(value, dict) and depth < 100:
        for key, item in value.items():
            if "\x00" in str(key):
                raise ValueError(f"attribute name {str(key).replace(chr(0), '?')[:40]!r} contains a NUL byte")
            _no_nul(item, depth + 1)
    elif isinstance(value, list) and depth < 100:
        for item in value:
            _no_nul(item, depth + 1)


def one_of(*choices):
    """A converter accepting only ``choices`` (case-insensitive)."""

    def convert(value):
        word = text(value).lower()
        if word not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return word

    convert.choices = choices
    return convert
