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

Both cores (``write_audience_split``): a big audience on a SQLite file is cut
at an id in two; a worker process (a fresh interpreter, never forked from a
process holding a database connection) reads, checks and hashes the second
half into a private part file while this process does the first half, then
the part is appended and checksummed. The bytes, counts, reasons' order and
ids logged are those of one pass; each half reads its own snapshot, as if
contacts added during the export in the first half had come just after it.
"""

import array
import hashlib
import itertools
import os

from crmcore import CRMError, safe_cell, SQLiteDialect, suppression_checker, suppression_digests

from .formats import GOOGLE_HEADER, csv_field
from .values import _E164, e164

SUPPRESSED, NO_CONSENT = "suppressed", "no consent"
COLUMNS = ("id", "email", "consent", "phone", "first_name", "last_name", "country", "postal_code")
#: Distinct names and cells remembered (their hashes and CSV cells): names and
#: countries repeat a lot in a customer list; bounded so memory stays flat.
MEMO_LIMIT = 200_000
CHUNK = 1000
#: An audience smaller than this is written in one process: starting a worker
#: (a fresh interpreter) costs about a tenth of a second.
SPLIT_MIN = 100_000
#: The worker's share of the rows: this process also appends and checksums its part.
WORKER_SHARE = 0.5


def write_audience_split(store, sql, params, total, fileobj, check, include_unconsented, missing_reason, excluded,
                         included, excluded_ids, update=None, next_to=None):
    """``write_audience`` of the rows of ``sql`` (the audience's query, ending
    ``ORDER BY id``), on both cores when it pays: a SQLite file, at least
    ``SPLIT_MIN`` rows and two CPUs. Same arguments, same result; the worker's
    part file is private (0600), next to the file ``next_to``, and removed."""
    args = (include_unconsented, missing_reason, excluded, included, excluded_ids)
    path = getattr(store, "path", ":memory:")
    if total < SPLIT_MIN or (os.cpu_count() or 1) < 2 or not isinstance(store.dialect, SQLiteDialect) or path == ":memory:":
        return write_audience(store.iter_tuples(sql, params), fileobj, check, *args, update)
    head, tail = _ranged(sql)
    cut = store.query_value(f"SELECT id FROM ({sql}) AS a LIMIT 1 OFFSET ?", (*params, int(total * (1 - WORKER_SHARE))))
    if cut is None:  # fewer rows than counted: deleted meanwhile
        return write_audience(store.iter_tuples(sql, params), fileobj, check, *args, update)
    import tempfile

    fd, part = tempfile.mkstemp(prefix=".crm-export-part.", dir=os.path.dirname(os.path.abspath(next_to)) if next_to else None)
    os.close(fd)
    worker = None
    try:
        worker = _start_worker({"store_class": type(store), "path": path, "sql": tail, "params": (*params, cut), "part": part,
                                "canonical": check[3], "include_unconsented": include_unconsented,
                                "missing_reason": missing_reason})
        checksum = hashlib.sha256()
        write_audience(store.iter_tuples(head, (*params, cut)), fileobj, check, *args, update, checksum=checksum)
        counts, order, kept, dropped = _result(worker)
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                checksum.update(block)
                fileobj.write(block)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        os.unlink(part)
    for reason in order:  # after the first half's reasons, as one pass meets them
        excluded[reason] += counts[reason]
    included.extend(array.array("q", kept))
    excluded_ids.extend(array.array("q", dropped))
    if update:
        update(len(kept) // 8 + len(dropped) // 8)
    return checksum.hexdigest()


def _ranged(sql):
    """The audience's query cut in two at an id (the last parameter)."""
    if not sql.endswith(" ORDER BY id"):
        raise ValueError(f"audience query without ORDER BY id: {sql!r}")
    body = sql[: -len(" ORDER BY id")]
    join = " AND " if " WHERE " in body else " WHERE "
    return f"{body}{join}id <= ? ORDER BY id", f"{body}{join}id > ? ORDER BY id"


def _start_worker(job):
    """A fresh interpreter running ``_worker_main`` on ``job`` (pickled to its
    stdin). Not ``multiprocessing``: its spawn re-runs the caller's main
    script, and a fork would carry this process's SQLite state along."""
    import pickle
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    worker = subprocess.Popen([sys.executable, "-c", "from crm_exports.customer_match import _worker_main; _worker_main()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        worker.stdin.write(pickle.dumps(job))
        worker.stdin.close()
    except BrokenPipeError:
        pass  # it died at once: _result says so
    return worker


def _result(worker):
    """What the worker returned; ``CRMError`` if it failed (its traceback is on stderr)."""
    import pickle

    data = worker.stdout.read()
    if worker.wait() != 0 or not data:
        raise CRMError(f"the export's second process failed (exit status {worker.returncode}); see the error above")
    return pickle.loads(data)


def _worker_main():
    """The worker's entry: a job from stdin, its result to stdout (both pickled)."""
    import pickle
    import sys

    job = pickle.load(sys.stdin.buffer)
    pickle.dump(_write_part(**job), sys.stdout.buffer)
    sys.stdout.flush()


def _write_part(store_class, path, sql, params, part, canonical, include_unconsented, missing_reason):
    """In the worker: write the rows of ``sql`` to the file ``part`` without the
    header; returns the counts, the reasons in the order first met, and the
    ids kept and left out (as bytes of 64-bit integers)."""
    import collections

    store = store_class(path)
    try:
        digests = suppression_digests(store)
        check = (*digests, suppression_checker(store, digests), canonical)
        excluded, kept, dropped = collections.Counter(), array.array("q"), array.array("q")
        with open(part, "wb") as f:
            write_audience(store.iter_tuples(sql, params), f, check, include_unconsented, missing_reason, excluded,
                           kept, dropped, header=False)
    finally:
        store.close()
    return dict(excluded), list(excluded), kept.tobytes(), dropped.tobytes()


def write_audience(rows, fileobj, check, include_unconsented, missing_reason, excluded, included, excluded_ids,
                   update=None, header=True, checksum=None):
    """Write the hashed Customer Match CSV for ``rows`` (tuples of ``COLUMNS``, by id)
    to the binary file ``fileobj`` (UTF-8); returns the file's SHA-256 (hex):
    of what it wrote, or what ``checksum`` (a ``hashlib`` object) had plus it.
    ``header=False`` leaves the header line out (a second part).

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
    checksum = checksum or hashlib.sha256()  # of the file as written, so it is not read back

    def write(text):
        data = text.encode()
        checksum.update(data)
        fileobj.write(data)

    if header:
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
