#!/usr/bin/env python3
"""Coverage-guided fuzzing of the segment rule language (see docs/fuzzing.md).

Each input, decoded as Python decodes a command line (a byte that is not
UTF-8 becomes a lone surrogate), is compiled against the real field registry of
a small database with a few contacts, orders and segments. Outcomes allowed:

- ``RuleError``: one line, with a position inside the rule (1 to len + 1);
- a condition whose SQL is only trusted field SQL, operators and ``?``
  placeholders, one parameter per ``?``, that SQLite runs without error, and
  whose negation selects exactly the other contacts.

Anything else is a crash. ``check_input(data)`` is importable without atheris,
so the seed corpus runs in the ordinary test suite (tests/test_fuzz_seeds.py).
"""

import atexit
import datetime as dt
import os
import re
import shutil
import sys
import tempfile

import crm_segments
from crm_segments.fields import build_fields
from crm_segments.rules import RuleError, compile_rule
from crm_segments.segments import add_members, create_segment, segment_lookup
from crmcore.app import CRM
from crmcore.entities import Contact, Order, OrderLine

TODAY = dt.date(2025, 6, 30)


class Finding(AssertionError):
    """An outcome the rule language must never have; the fuzzer reports it as a crash."""


class Shop:
    """One small database, made once and only read by the rules."""

    def __init__(self):
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="crm-fuzz-rules-", dir=shm)
        atexit.register(shutil.rmtree, self.dir, True)
        crm = self.crm = CRM(os.path.join(self.dir, "fuzz.db"), plugins=[crm_segments])
        crm.migrate()
        ids = crm.add_many([
            Contact(first_name="Ada", email="ada@example.com", country="DE", city="Berlin", birth_date="1990-07-01",
                    tags=["vip", "garden"], consent=True, custom={"points": 120}),
            Contact(first_name="Bo", email="bo@example.com", country="AT", birth_date="1960-02-29", tags=["b2b"]),
            Contact(first_name="Cy", email="cy@example.com", city="", tags=[]),
            Contact(email="di@example.com"),
        ])
        orders = crm.add_many([Order(contact_id=ids[0], ordered_at="2025-01-15", total=100.5),
                               Order(contact_id=ids[1], ordered_at="2024-12-31", total=-3)])
        crm.add_many([OrderLine(order_id=orders[0], sku="GRD-001", quantity=1, unit_price=100.5)])
        create_segment(crm, "vips", static=True)
        add_members(crm, "vips", [(None, str(ids[0]))])
        create_segment(crm, "spenders", rule="total_spent > 50")
        create_segment(crm, "near", rule='segment("spenders") or city == "Berlin"')
        # Stored rules that could only come from an older version or a hand edit:
        create_segment(crm, "broken", rule="age > 1")
        create_segment(crm, "loop", rule="age > 1")
        crm.store.execute("UPDATE segments SET rule = 'age >' WHERE name = 'broken'")
        crm.store.execute("UPDATE segments SET rule = 'not segment(\"loop\")' WHERE name = 'loop'")
        self.fields = build_fields(crm, TODAY)
        self.lookup = segment_lookup(crm)
        self.total = crm.store.query_value("SELECT count(*) FROM contacts")
        trusted = sorted({re.escape(f.sql) for f in self.fields.values()}, key=len, reverse=True)
        self.trusted = re.compile("|".join(trusted))

    def leftover(self, where):
        """The SQL with every trusted fragment, operator and placeholder removed:
        anything left came from the user's text."""
        rest = self.trusted.sub("", where)
        rest = rest.replace("c.id IN (SELECT contact_id FROM segment_members WHERE segment_id = ?)", "")
        return re.sub(r"\b(AND|OR|NOT|IN|BETWEEN|IS|NULL|FALSE|coalesce|instr|strpos|EXISTS)\b|[?()=<>!,\s0']", "", rest)

    def count(self, where, params):
        return self.crm.store.query_value(f"SELECT count(*) FROM contacts c WHERE {where}", params)


_shop = None


def shop():
    global _shop
    if _shop is None:
        _shop = Shop()
    return _shop


def check_rule(text):
    s = shop()
    try:
        where, params = compile_rule(text, s.fields, s.lookup)
    except RuleError as exc:
        message = str(exc)
        if "\n" in message or "\r" in message or not message.startswith("invalid rule"):
            raise Finding(f"a rule error must be one line starting 'invalid rule', got {message!r}") from exc
        if exc.position is None or not 1 <= exc.position <= len(text) + 1:
            raise Finding(f"position {exc.position} is outside the rule ({len(text)} characters): {message}") from exc
        return
    if s.leftover(where):
        raise Finding(f"user text reached the SQL: {s.leftover(where)!r} in {where!r}")
    if where.count("?") != len(params):
        raise Finding(f"{where.count('?')} placeholders but {len(params)} parameters")
    try:
        matched = s.count(where, params)
        unmatched = s.count(f"NOT coalesce(({where}), 0)", params)
    except Exception as exc:
        raise Finding(f"the compiled rule failed in SQLite: {type(exc).__name__}: {exc}") from exc
    if matched + unmatched != s.total:
        raise Finding(f"a rule and its negation select {matched} + {unmatched} of {s.total} contacts")


def check_input(data):
    """The per-input check: the bytes as a rule, decoded as Python decodes a
    command line (a byte that is not UTF-8 becomes a lone surrogate)."""
    check_rule(data.decode("utf-8", "surrogateescape"))


def main():
    import atheris

    shop()  # setting up the database is not what is being fuzzed
    atheris.instrument_all()
    atheris.Setup(sys.argv, check_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
