"""Campaign sending: rendering and sending personalised messages to a local
SMTP server, against a bare smtplib loop sending pre-rendered messages over
one connection to the same server; and freezing a large audience.

    python benchmarks/bench_campaigns.py [--scale tiny|small|full] [--json]

full: 100,000 messages and a 1,000,000-contact audience (the campaigns issue);
small: 5,000 and 100,000; tiny: a smoke run.

- **send**: ``crm_campaigns.sending.send`` of a frozen campaign: per message
  consent and suppression read again, a personal unsubscribe token, the
  subject, text and HTML templates rendered in the sandbox, the MIME message
  built, sent over SMTP and its outbox row marked sent in its own
  transaction. Baseline: ``smtplib.SMTP.sendmail`` in a loop over the same
  messages already rendered to bytes, one connection. The ratio is what the
  safety (outbox, re-checks) and the personalisation cost per message.
- **freeze**: the audience of a segment written to the outbox in one
  transaction (consent and suppression checked, holdout and variants drawn).
  Baseline: raw sqlite3 ``executemany`` of as many outbox rows, one transaction.

The SMTP server (aiosmtpd, accepting and dropping every message) runs in its
own process, so it does not share the sender's interpreter lock.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

from common import best_of, emit, parser, row  # noqa: E402

SCALES = {"tiny": (200, 2_000), "small": (5_000, 100_000), "full": (100_000, 1_000_000)}

SINK = r"""
import socket, sys, time
from aiosmtpd.controller import Controller

class Drop:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
controller = Controller(Drop(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
sys.stdin.read()
controller.stop()
"""

TEXT = ("Hello {{ first_name }},\n\nour spring range is in, {{ city }}.\n"
        "{% if custom.tier | default('') %}As a {{ custom.tier }} member you save 10%.{% endif %}\n\n"
        "Unsubscribe: {{ unsubscribe_url }}\n")
HTML = ("<html><body><p>Hello {{ first_name }} {{ last_name }},</p><p>our spring range is in, {{ city }}.</p>"
        "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>")


def main():
    args = parser(__doc__).parse_args()
    messages, audience = SCALES[args.scale]
    rounds = {"tiny": 1, "small": 3, "full": 1}[args.scale]
    folder = tempfile.mkdtemp(prefix="bench-campaigns-")
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        emit(run(folder, port, messages, audience, rounds), args.json)
    finally:
        sink.stdin.close()
        sink.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


class Segments:
    def __init__(self):
        self.segments = {}

    def crm_segment_contact_ids(self, crm, name):
        return self.segments.get(name)


def run(folder, port, messages, audience, rounds):
    import smtplib
    import sqlite3

    import crm_campaigns
    from crmcore import CRM, hookimpl
    from crm_campaigns.campaigns import create_campaign, get_campaign
    from crm_campaigns.sending import Renderer, freeze, send

    Segments.crm_segment_contact_ids = hookimpl(Segments.crm_segment_contact_ids)
    segments = Segments()
    path = os.path.join(folder, "bench.db")
    crm = CRM(path, plugins=[("campaigns", crm_campaigns), ("segments", segments)])
    crm.migrate()
    crm.set_setting("base_url", "https://crm.example.com")
    cities = ["Berlin", "Köln", "München", "Hamburg", "Leipzig"]
    with crm.store.transaction():
        crm.store.executemany(
            "INSERT INTO contacts (first_name, last_name, email, city, country, consent, custom, tags) VALUES (?, ?, ?, ?, 'DE', ?, ?, '[]')",
            ((f"Name{i}", f"Müller{i % 97}", f"p{i}@example.com", cities[i % 5], int(i % 10 != 0),
              '{"tier": "gold"}' if i % 3 == 0 else "{}") for i in range(audience)))
    ids = [r["id"] for r in crm.store.query("SELECT id FROM contacts ORDER BY id")]
    segments.segments["all"] = ids
    segments.segments["send"] = [i for i in ids if (i - 1) % 10 != 0][:messages]  # consenting ones
    url = f"smtp://127.0.0.1:{port}"
    n = [0]

    def ours():
        n[0] += 1
        name = f"send{n[0]}"
        create_campaign(crm, name, "send", ["Spring, {{ first_name }}"], TEXT, HTML, "Shop <news@shop.example>")
        freeze(crm, get_campaign(crm, name))
        start = time.perf_counter()
        result = send(crm, name, url=url)
        seconds = time.perf_counter() - start
        assert result["sent"] == messages, result
        return seconds

    campaign_id = create_campaign(crm, "prerendered", "send", ["Spring, {{ first_name }}"], TEXT, HTML, "Shop <news@shop.example>")
    renderer = Renderer(crm, get_campaign(crm, campaign_id))
    prepared = []
    for cid in segments.segments["send"]:
        contact = crm.get("contacts", cid)
        message = renderer.message(contact, "A", f"<{cid}@shop.example>")
        prepared.append((contact["email"], message.as_bytes()))

    def baseline():
        start = time.perf_counter()
        conn = smtplib.SMTP("127.0.0.1", port)
        for to, data in prepared:
            conn.sendmail("news@shop.example", [to], data)
        conn.quit()
        return time.perf_counter() - start

    t_send, t_bare = best_of(rounds, ours, baseline)

    def freeze_ours():
        n[0] += 1
        name = f"freeze{n[0]}"
        create_campaign(crm, name, "all", ["A", "B"], "Hi", "", "news@shop.example", holdout=10)
        start = time.perf_counter()
        frozen = freeze(crm, get_campaign(crm, name))
        seconds = time.perf_counter() - start
        assert sum(frozen.values()) == audience
        return seconds

    def freeze_raw():
        conn = sqlite3.connect(path, isolation_level=None)
        rows = [(999999, i, f"p{i}@example.com", "A", "queued", f"<{i}@x>", 0, "", None, "2026-01-01T00:00:00") for i in ids]
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO campaign_outbox (campaign_id, contact_id, email, variant, status, message_id, attempts, "
                         "error, sent_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("ROLLBACK")
        seconds = time.perf_counter() - start
        conn.close()
        return seconds

    t_freeze, t_raw = best_of(rounds, freeze_ours, freeze_raw)
    crm.close()
    return [
        row("campaign send, personalised, to local SMTP", f"{messages:,} messages", t_send, t_bare,
            "bare smtplib sendmail loop of the pre-rendered messages, one connection", "report the ratio (messages/s)"),
        row("campaign audience freeze", f"{audience:,} contacts", t_freeze, t_raw,
            "raw sqlite3 executemany of as many outbox rows, one transaction", "report the ratio"),
    ]


if __name__ == "__main__":
    main()
