"""The built-in export formats: one writer per destination.

A writer is ``writer(contacts, fileobj, options)``: ``contacts`` is an
iterable of contact dicts that already passed consent and suppression,
``fileobj`` a text file opened with ``newline=""`` and UTF-8, ``options`` a
dict (``unhashed`` for Customer Match). It returns nothing; the caller counts
rows, logs the export and renames the file into place.

Optional writer attributes, read by the exporter and the CLI:

- ``requires``: the contact must have one of these fields to be exported
  (e.g. ``("email",)``); others are left out as "no email".
- ``fields``: the contact fields the writer reads; only those (and ``id``,
  ``email``, ``consent``) are loaded, which is much faster. Without it,
  contacts have every field.
- ``click_options``: extra ``click.Option`` objects for ``crm export NAME``.

Every cell of a CSV format goes through ``safe_cell`` so a spreadsheet never
runs a formula from user data; E.164 phones in clear are validated instead.
"""

import csv
import datetime as dt
import functools
import hashlib
import json
import re

import click

from crmcore import safe_cell

from .values import _E164, country_name, e164  # noqa: F401  (part of this module's interface)
from .vcard import write_vcards

def clear_phone(phone, country=None):
    """A phone cell in clear text: validated E.164 (its ``+`` is required and
    safe), else the number as typed, neutralised."""
    return e164(phone, country) or safe_cell(phone or "")


def sha256(value):
    """Hex SHA-256 of a normalised value; empty stays empty (never hash "")."""
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


def csv_field(value):
    """One CSV field quoted as the csv module would (RFC 4180), for hand-joined rows."""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(fileobj, header):
    writer = csv.writer(fileobj, lineterminator="\r\n")
    writer.writerow(header)
    return writer


def _safe_row(values):
    return [safe_cell(v) for v in values]


# -- Mailchimp --------------------------------------------------------------------

MAILCHIMP_HEADER = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday", "Tags"]


def mailchimp_address(contact):
    """Mailchimp's combined address: parts separated by two spaces, no commas,
    the two-letter country code last; empty when there is no street or city."""
    parts = [contact.get(k) or "" for k in ("street", "city", "region", "postal_code")]
    if not (parts[0] or parts[1]):
        return ""
    parts.append(contact.get("country") or "")
    cleaned = [re.sub(r"\s+", " ", p.replace(",", " ")).strip() for p in parts]
    return "  ".join(p for p in cleaned if p)


def mailchimp_birthday(value):
    """Birthday as MM/DD (Mailchimp's birthday field has no year)."""
    if not value:
        return ""
    date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{date.month:02d}/{date.day:02d}"


def write_mailchimp(contacts, fileobj, options):
    writer = _csv(fileobj, MAILCHIMP_HEADER)
    for c in contacts:
        tags = ",".join(t.replace(",", " ") for t in c.get("tags") or [])
        writer.writerow([
            safe_cell(c["email"]), safe_cell(c.get("first_name")), safe_cell(c.get("last_name")),
            safe_cell(mailchimp_address(c)), clear_phone(c.get("phone"), c.get("country")),
            mailchimp_birthday(c.get("birth_date")), safe_cell(tags),
        ])


write_mailchimp.requires = ("email",)
write_mailchimp.fields = ("first_name", "last_name", "street", "city", "region", "postal_code", "country", "phone",
                          "birth_date", "tags")


# -- HubSpot ----------------------------------------------------------------------

HUBSPOT_HEADER = ["Email", "First Name", "Last Name", "Phone Number", "Company Name", "Job Title",
                  "Street Address", "City", "State/Region", "Postal Code", "Country/Region"]


def write_hubspot(contacts, fileobj, options):
    """One row per contact; HubSpot deduplicates contacts on Email."""
    writer = _csv(fileobj, HUBSPOT_HEADER)
    for c in contacts:
        writer.writerow([
            safe_cell(c["email"]), safe_cell(c.get("first_name")), safe_cell(c.get("last_name")),
            clear_phone(c.get("phone"), c.get("country")),
            *_safe_row([c.get("company"), c.get("job_title"), c.get("street"), c.get("city"), c.get("region"),
                        c.get("postal_code"), country_name(c.get("country"))]),
        ])


write_hubspot.requires = ("email",)
write_hubspot.fields = ("first_name", "last_name", "phone", "company", "job_title", "street", "city", "region",
                        "postal_code", "country")


# -- Google Ads Customer Match ------------------------------------------------------

GOOGLE_HEADER = ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]


def google_normal(value):
    """Customer Match's rule for e-mail and names: trimmed and lower-case."""
    return (value or "").strip().lower()


def write_google_customer_match(contacts, fileobj, options):
    """E-mail, names and E.164 phone SHA-256 hashed; Country and Zip in clear.

    ``options["unhashed"]`` writes the plain-text variant (phones still E.164)."""
    writer = _csv(fileobj, GOOGLE_HEADER)
    write = writer.writerow
    if options.get("unhashed"):
        for c in contacts:
            write([safe_cell(google_normal(c.get("email"))), e164(c.get("phone"), c.get("country")),
                   safe_cell(google_normal(c.get("first_name"))), safe_cell(google_normal(c.get("last_name"))),
                   c.get("country") or "", safe_cell(c.get("postal_code") or "")])
        return
    # The hot loop of a million-contact export. Hex digests and ISO country
    # codes never need CSV quoting, so rows are joined by hand (the csv
    # module's per-character scan cost more than the hashing); only the
    # free-text zip goes through csv_field.
    digest = hashlib.sha256
    fullmatch = _E164.fullmatch
    lines = []
    for c in contacts:
        email = (c["email"] or "").strip().lower()
        first = (c["first_name"] or "").strip().lower()
        last = (c["last_name"] or "").strip().lower()
        phone = c["phone"]
        if phone and not fullmatch(phone):
            phone = e164(phone, c["country"])
        lines.append(
            f"{digest(email.encode()).hexdigest() if email else ''},"
            f"{digest(phone.encode()).hexdigest() if phone else ''},"
            f"{digest(first.encode()).hexdigest() if first else ''},"
            f"{digest(last.encode()).hexdigest() if last else ''},"
            f"{csv_field(safe_cell(c['country'] or ''))},{csv_field(safe_cell(c['postal_code'] or ''))}\r\n"
        )
        if len(lines) == 10000:
            fileobj.write("".join(lines))
            lines.clear()
    fileobj.write("".join(lines))


write_google_customer_match.requires = ("email", "phone")
write_google_customer_match.fields = ("phone", "first_name", "last_name", "country", "postal_code")
write_google_customer_match.click_options = [
    click.Option(["--unhashed"], is_flag=True, help="Write e-mail, phone and names in clear (normalised, not hashed)."),
]


# -- Meta Custom Audiences -----------------------------------------------------------

META_HEADER = ["email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby", "dobm", "dobd", "gen"]
_GENDERS = {"f": "f", "female": "f", "w": "f", "woman": "f", "weiblich": "f",
            "m": "m", "male": "m", "man": "m", "männlich": "m"}


def letters_only(value):
    """Lower-case letters only (Unicode letters kept): Meta's rule for names,
    city and state."""
    return "".join(ch for ch in (value or "").lower() if ch.isalpha())


@functools.lru_cache(maxsize=None)
def _us_states():
    import pycountry

    return {letters_only(s.name): s.code.split("-")[1].lower() for s in pycountry.subdivisions.get(country_code="US")}


def meta_state(value, country):
    """Letters only, lower-case; a US state as its two-letter code (Meta's rule)."""
    state = letters_only(value)
    if country == "US" and len(state) > 2:
        return _us_states().get(state, state)
    return state


def meta_zip(value, country):
    """Lower-case, no spaces or dashes; US zips are the first five digits."""
    value = re.sub(r"[\s-]", "", (value or "").lower())
    return value[:5] if country == "US" else value


def meta_values(c):
    """Meta's normalised identifiers of one contact, before hashing."""
    phone = e164(c.get("phone"), c.get("country"))[1:]
    birth = c.get("birth_date")
    if birth and not isinstance(birth, dt.date):
        birth = dt.date.fromisoformat(str(birth)[:10])
    return [
        google_normal(c.get("email")),
        phone,
        letters_only(c.get("first_name")),
        letters_only(c.get("last_name")),
        letters_only(c.get("city")),
        meta_state(c.get("region"), c.get("country")),
        meta_zip(c.get("postal_code"), c.get("country")),
        (c.get("country") or "").lower(),
        f"{birth.year:04d}" if birth else "",
        f"{birth.month:02d}" if birth else "",
        f"{birth.day:02d}" if birth else "",
        _GENDERS.get((c.get("gender") or "").strip().lower(), ""),
    ]


def write_meta_custom_audience(contacts, fileobj, options):
    """Every identifier normalised by Meta's rules, then SHA-256 hashed."""
    writer = _csv(fileobj, META_HEADER)
    for c in contacts:
        writer.writerow([sha256(v) for v in meta_values(c)])


write_meta_custom_audience.requires = ("email", "phone")
write_meta_custom_audience.fields = ("phone", "first_name", "last_name", "city", "region", "postal_code", "country",
                                     "birth_date", "gender")


# -- every field: CSV and JSON -----------------------------------------------------------


def _all_fields():
    from crmcore import Contact
    from crmcore import field_names

    return field_names(Contact)


def _plain(value):
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def write_csv(contacts, fileobj, options):
    """Every contact field, one column each, cells neutralised."""
    names = _all_fields()
    writer = _csv(fileobj, names)
    for c in contacts:
        writer.writerow([safe_cell(_plain(c.get(n))) for n in names])


def write_json(contacts, fileobj, options):
    """A JSON array of contact objects with every field (no spreadsheet, no neutralising)."""
    names = _all_fields()
    fileobj.write("[")
    for i, c in enumerate(contacts):
        fileobj.write(("," if i else "") + "\n" + json.dumps({n: c.get(n) for n in names}, ensure_ascii=False, default=str))
    fileobj.write("\n]\n")


def write_vcard(contacts, fileobj, options):
    write_vcards(contacts, fileobj)


BUILTIN_FORMATS = [
    ("mailchimp", write_mailchimp, "Mailchimp audience import CSV (Email Address, First Name, Address, Birthday MM/DD, Tags)"),
    ("hubspot", write_hubspot, "HubSpot contact import CSV, deduplicated on Email"),
    ("google-customer-match", write_google_customer_match, "Google Ads Customer Match CSV, SHA-256 hashed (--unhashed for clear text)"),
    ("meta-custom-audience", write_meta_custom_audience, "Meta Custom Audience customer list, normalised and SHA-256 hashed"),
    ("vcard", write_vcard, "vCard 4.0 address book (RFC 6350)"),
    ("csv", write_csv, "CSV with every contact field"),
    ("json", write_json, "JSON array with every contact field"),
]
