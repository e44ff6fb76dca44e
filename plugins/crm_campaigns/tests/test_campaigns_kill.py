"""A `crm campaigns send` killed with SIGKILL at random points resumes with the
same command: every consenting member of the segment gets the message,
nobody else does, and a message goes twice only if it was in flight at a kill
(at most one per kill, one SMTP connection), with the same Message-ID."""

import collections
import os
import random
import signal
import subprocess
import time

import crm_campaigns
import crm_segments

from crmcore import CRM
from crmcore.entities import Contact
from crmcore.testing import crm_argv, crm_env

from crm_campaigns.campaigns import create_campaign
from crm_segments.segments import create_segment

MEMBERS, KILLS = 40, 3


def test_killed_sends_resume_and_nobody_gets_the_message_twice_except_the_one_in_flight(new_db, smtp):
    seed = int(os.environ.get("CRM_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    db = new_db("kill.db")
    with CRM(db, plugins=[("campaigns", crm_campaigns), ("segments", crm_segments)]) as crm:
        crm.migrate()
        crm.add_many([Contact(email=f"m{i}@example.com", country="DE", consent=True) for i in range(MEMBERS)]
                     + [Contact(email=f"no{i}@example.com", country="DE", consent=False) for i in range(3)]
                     + [Contact(email=f"fr{i}@example.com", country="FR", consent=True) for i in range(3)])
        create_segment(crm, "de", rule='country == "DE"')
        create_campaign(crm, "kill", "de", ["Hello"], "Hello {{ email }}", "", "news@shop.example")
    argv = crm_argv(db, "campaigns", "send", "kill", "--smtp", smtp.url, "--rate", "60/s")
    env = crm_env("campaigns,segments")
    got = smtp.handler.messages

    kills = 0
    for _ in range(KILLS):
        target = len(got) + rng.randint(1, 12)  # kill after this many messages arrived
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(got) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 1, f"no run was killed mid-way (CRM_KILL_SEED={seed})"
    assert len(got) < MEMBERS, f"the kills came too late to test anything (CRM_KILL_SEED={seed})"

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    per_address = collections.defaultdict(list)
    for m in got:
        per_address[m["to"][0]].append(m["message"]["Message-ID"])
    assert sorted(per_address) == sorted(f"m{i}@example.com" for i in range(MEMBERS)), f"CRM_KILL_SEED={seed}"
    duplicates = {a: ids for a, ids in per_address.items() if len(ids) > 1}
    assert sum(len(ids) - 1 for ids in duplicates.values()) <= kills, f"{duplicates} (CRM_KILL_SEED={seed})"
    assert all(len(set(ids)) == 1 for ids in duplicates.values()), "a repeated message must keep its Message-ID"
    with CRM(db, plugins=[("campaigns", crm_campaigns), ("segments", crm_segments)]) as crm:
        states = {r["status"]: r["n"] for r in crm.store.query(
            "SELECT status, count(*) AS n FROM campaign_outbox GROUP BY status")}
        assert states == {"sent": MEMBERS, "skipped": 3}
        assert crm.store.query_value("SELECT status FROM campaigns") == "sent"
