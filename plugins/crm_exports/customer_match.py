"""The hashed Google Customer Match export in one pass, for a million contacts.

The general path reads contacts as dicts, checks consent and suppression in
one generator and hands the survivors to the writer, which hashes the
e-mail address a second time. Here the audience is read as tuples of just
the eight columns needed, and one loop checks, hashes and writes: each
address is hashed once, for the suppression list and for the file. The
output, the counts and the ids logged are exactly those of the general path
(``write_google_customer_match`` after ``consenting``); the tests compare
the two on hostile input.

Where the shortcut holds: the suppression key is the SHA-256 of the
canonical address, and Customer Match hashes the address trimmed and
lower-case. For a stored address that is already trimmed and lower-case,
with an ASCII domain and no ``xn--`` label (nearly all of them), both are
the SHA-256 of the stored string, and its punycode form is itself. Any other address takes
the general check (``suppression_checker``: canonical and punycode keys)
and is hashed for the file separately.
"""

import hashlib
import itertools

from crmcore import safe_cell

from .formats import GOOGLE_HEADER, csv_field
from .values import _E164, e164

SUPPRESSED, NO_CONSENT = "suppressed", "no consent"
COLUMNS = ("id", "email", "consent", "phone", "first_name", "last_name", "country", "postal_code")
#: Distinct names and cells remembered (their hashes and CSV cells): names and
#: countries repeat a lot in a customer list; bounded so memory stays flat.
MEMO_LIMIT = 200_000
CHUNK = 1000


def write_audience(rows, fileobj, check, include_unconsented, missing_reason, excluded, included, excluded_ids,
                   update=None):
    """Write the hashed Customer Match CSV for ``rows`` (tuples of ``COLUMNS``, by id)
    to the binary file ``fileobj`` (UTF-8); returns the file's SHA-256 (hex).

    ``check`` is ``(hashes, logged, is_suppressed, canonical)``: the
    suppression keys, the privacy log's check (or ``None``), the general
    checker and the canonical form of a stored address. Counts the contacts
    left out per reason in ``excluded`` (``missing_reason``: neither e-mail
    nor phone; reasons in the order first met; their ids in ``excluded_ids``),
    appends the ids written to ``included``; ``update(n)`` reports progress."""
    hashes, logged, is_suppressed, canonical = check
    digest = hashlib.sha256
    fullmatch = _E164.fullmatch
    keep, drop = included.append, excluded_ids.append
    names, cells = {"": ""}, {}
    suppressed = no_consent = missing = 0
    order = []  # the reasons in the order first met, as the general path counts them
    checksum = hashlib.sha256()  # of the file as written, so it is not read back

    def write(text):
        data = text.encode()
        checksum.update(data)
        fileobj.write(data)

    write(",".join(GOOGLE_HEADER) + "\r\n")
    rows = iter(rows)
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            break
        lines = []
        for cid, email, consent, phone, first, last, country, postal in chunk:
            if email:
                plain = email.strip().lower()
                if plain == email and "xn--" not in email and (email.isascii() or email[email.rfind("@") + 1:].isascii()):
                    email_hash = digest(email.encode()).hexdigest()
                    if email_hash in hashes or (logged is not None and logged(email)):
                        if not suppressed:
                            order.append(SUPPRESSED)
                        suppressed += 1
                        drop(cid)
                        continue
                elif is_suppressed(canonical(email)):
                    if not suppressed:
                        order.append(SUPPRESSED)
                    suppressed += 1
                    drop(cid)
                    continue
                else:
                    email_hash = digest(plain.encode()).hexdigest() if plain else ""
            else:
                email_hash = ""
            if not consent and not include_unconsented:
                if not no_consent:
                    order.append(NO_CONSENT)
                no_consent += 1
                drop(cid)
                continue
            if not email and not phone:
                if not missing:
                    order.append(missing_reason)
                missing += 1
                drop(cid)
                continue
            if phone:
                if not fullmatch(phone):
                    phone = e164(phone, country)
                phone_hash = digest(phone.encode()).hexdigest() if phone else ""
            else:
                phone_hash = ""
            first_hash = names.get(first)
            if first_hash is None:
                first_hash = _name_hash(first, names, digest)
            last_hash = names.get(last)
            if last_hash is None:
                last_hash = _name_hash(last, names, digest)
            # Letters and digits only need neither neutralising nor quoting.
            country_cell = country if country and country.isalnum() else _cell(country, cells)
            postal_cell = postal if postal and postal.isalnum() else _cell(postal, cells)
            lines.append(f"{email_hash},{phone_hash},{first_hash},{last_hash},{country_cell},{postal_cell}\r\n")
            keep(cid)
        write("".join(lines))
        if update:
            update(len(chunk))
    counts = {SUPPRESSED: suppressed, NO_CONSENT: no_consent, missing_reason: missing}
    for reason in order:
        excluded[reason] += counts[reason]
    return checksum.hexdigest()


def _name_hash(value, memo, digest):
    """Customer Match's hash of a name (trimmed, lower-case; empty stays empty), remembered."""
    plain = (value or "").strip().lower()
    hashed = digest(plain.encode()).hexdigest() if plain else ""
    if len(memo) < MEMO_LIMIT:
        memo[value] = hashed
    return hashed


def _cell(value, memo):
    """A free-text cell: spreadsheet-safe and CSV-quoted, remembered."""
    cell = memo.get(value)
    if cell is None:
        cell = csv_field(safe_cell(value or ""))
        if len(memo) < MEMO_LIMIT:
            memo[value] = cell
    return cell
