"""Benchmark: the service desk's mail import and its breached-cases list.

    python benchmarks/bench_service.py [--scale tiny|small|full] [--json]

Two workloads, each against a baseline measured in the same run:

- **import mails from a Maildir** (tiny 40, small 2,000, full 20,000 mails:
  two in three open a case, one in three answers an earlier mail by
  In-Reply-To, one in ten carries a 20 kB attachment): ``crm service
  import-mail`` into a fresh database, against parsing the same files with
  the standard library's email package alone (read, parse, take the body
  and attachments). The ratio is what threading, contacts, cases, messages,
  full-text indexing and attachment files cost on top of the parsing that
  any importer must do.
- **list --breached** at 1,000,000 cases (tiny 5,000, small 100,000): the
  library call behind ``crm service list --breached`` (cases whose stored
  due time has passed, with the contact's e-mail), against the same
  condition answered by a full scan of the table (``NOT INDEXED``). Target:
  at most 1 s at full scale. Cases are generated inside SQLite (70% solved,
  10% pending, the others due from half a day ago to two weeks ahead, so
  about 0.7% of all cases are overdue, 6,700 of a million).
"""

import datetime as dt
import email
import email.policy
import mailbox
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

from common import ROUNDS, best_of, emit, parser, row, timed  # noqa: E402

MAILS = {"tiny": 40, "small": 2_000, "full": 20_000}
CASES = {"tiny": 5_000, "small": 100_000, "full": 1_000_000}


def write_maildir(folder, n):
    """``n`` mails in a Maildir: new requests, replies to earlier ones, some attachments."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    box = mailbox.Maildir(folder, create=True)
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone.utc)
    attachment = bytes(range(256)) * 80  # 20 kB
    for i in range(n):
        m = EmailMessage()
        sender = i % max(1, n // 3)
        m["From"] = f"Customer {sender} <customer{sender}@example.com>"
        m["To"] = "help@shop.example"
        m["Message-ID"] = f"<mail{i}@example.com>"
        m["Date"] = format_datetime(start + dt.timedelta(minutes=7 * i))
        if i % 3 == 2:
            m["Subject"] = f"Re: Question {i - 2}"
            m["In-Reply-To"] = f"<mail{i - 2}@example.com>"
            m["References"] = f"<mail{i - 2}@example.com>"
            m.set_content(f"Thanks, but the problem with order {i} is still there.\n\n> earlier text\n")
        else:
            m["Subject"] = f"Question {i}"
            m.set_content(f"Hello,\nmy order {i} arrived with a broken lid. Can you send a new one?\nRegards\n" * 3)
            m.add_alternative(f"<p>Hello,</p><p>my order {i} arrived with a <b>broken</b> lid.</p>", subtype="html")
        if i % 10 == 0:
            m.add_attachment(attachment, maintype="image", subtype="jpeg", filename=f"photo{i}.jpg")
        box.add(m.as_bytes())
    box.close()


def parse_only(folder):
    """The baseline: what any importer must do with each file, with the standard library alone."""
    count = 0
    for sub in ("cur", "new"):
        for name in sorted(os.listdir(os.path.join(folder, sub))):
            with open(os.path.join(folder, sub, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain", "html"))
            if body is not None:
                body.get_content()
            for part in msg.iter_attachments():
                part.get_payload(decode=True)
            count += 1
    return count


def bench_import(scale, work):
    import crm_service
    from crm_service.mailin import import_mail
    from crmcore.app import CRM

    n = MAILS[scale]
    box = os.path.join(work, "Maildir")
    write_maildir(box, n)
    runs = []

    def ours():
        path = os.path.join(work, f"import{len(runs)}.db")
        crm = CRM(path, plugins=[crm_service])
        crm.migrate()
        seconds, counts = timed(lambda: import_mail(crm, box))
        crm.close()
        runs.append(counts)
        shutil.rmtree(path + ".files", ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        return seconds

    ours_s, base_s = best_of(ROUNDS[scale], ours, lambda: timed(lambda: parse_only(box))[0])
    counts = runs[-1]
    # A Maildir has no order: a reply read in an earlier batch than its original opens a case of its own.
    assert counts["mails"] == n and counts["replies"] > n // 4, counts
    size = f"{n:,} mails, {n / ours_s:,.0f} mails/s"
    return row("service import-mail, Maildir", size, ours_s, base_s,
               f"stdlib email parsing alone, {n / base_s:,.0f} mails/s", "report the ratio (mails/s)")


CASES_SQL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :cases)
INSERT INTO service_cases (id, contact_id, subject, description, channel, status, priority, assignee, tags, sku, sla_elapsed,
                           breach_at, created_at, updated_at)
SELECT i, 1 + (i * 2654435761) % :contacts, 'Case ' || i, '', 'email',
       CASE WHEN i % 10 < 7 THEN 'solved' WHEN i % 10 = 7 THEN 'pending' ELSE 'open' END,
       CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'normal' WHEN 2 THEN 'high' ELSE 'urgent' END,
       'agent' || (i % 20) || '@shop.example', '[]', '',
       0,
       CASE WHEN i % 10 < 8 THEN NULL
            ELSE strftime('%Y-%m-%dT%H:%M:%S', julianday(:now) - 0.5 + ((i * 2246822519) % 86400) * 15.0 / 86400) END,
       strftime('%Y-%m-%dT%H:%M:%S', julianday(:now) - 365 + i * 365.0 / :cases),
       strftime('%Y-%m-%dT%H:%M:%S', julianday(:now) - 365 + i * 365.0 / :cases)
FROM n
"""
CONTACTS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO contacts (id, email, first_name, last_name, consent, tags, custom) SELECT i, 'c' || i || '@example.com', '', '', 0, '[]', '{}' FROM n
"""


def bench_breached(scale, work):
    import crm_service
    from crm_service.cases import list_cases
    from crmcore import normalize
    from crmcore.app import CRM
    from shopdata import bulk_load

    n = CASES[scale]
    crm = CRM(os.path.join(work, "cases.db"), plugins=[crm_service])
    try:
        crm.migrate()
        now = normalize.now()
        contacts = max(1000, n // 5)

        def fill(conn):
            conn.execute(CONTACTS_SQL, (contacts,))
            conn.execute(CASES_SQL, {"cases": n, "contacts": contacts, "now": now})

        built = bulk_load(crm, ["contacts", "service_cases"], fill)
        print(f"built {n:,} cases in {built:.1f} s", file=sys.stderr)
        found = []

        def ours():
            seconds, rows = timed(lambda: list_cases(crm, breached=True, at=now))
            found.append(len(rows))
            return seconds

        def scan():
            return timed(lambda: crm.store.query(
                "SELECT c.*, p.email FROM service_cases c NOT INDEXED LEFT JOIN contacts p ON p.id = c.contact_id "
                "WHERE c.breach_at < ? ORDER BY c.breach_at, c.id", (now,)))[0]

        ours_s, base_s = best_of(ROUNDS[scale], ours, scan)
        return row("service list --breached", f"{n:,} cases, {found[-1]:,} overdue", ours_s, base_s,
                   "the same rows by a full scan (NOT INDEXED)", "<= 1 s")
    finally:
        crm.close()


def main():
    args = parser(__doc__).parse_args()
    work = tempfile.mkdtemp(prefix="bench-service-")
    try:
        rows = [bench_import(args.scale, work), bench_breached(args.scale, work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(rows, args.json)


if __name__ == "__main__":
    main()
