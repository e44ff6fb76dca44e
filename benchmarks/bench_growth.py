"""How cost grows with the number of contacts: each workload at 10x steps.

    python benchmarks/bench_growth.py [--scale tiny|small|full|growth] [--json]
                                      [--sizes N,N,...] [--budget SECONDS] [--svg FILE]
                                      [--imports-only]
    python benchmarks/run.py --scale growth        # the same, from the runner

Sizes (contacts; 5 orders each, up to 5,000,000 orders at 1,000,000 contacts):
tiny 1,000 and 10,000 (a smoke run); small 10,000 and 100,000; full 100,000
and 1,000,000; growth 100,000, 1,000,000 and 10,000,000. The 10,000,000 step
keeps the 5,000,000 orders of the 1,000,000 step (``--orders-cap``): the
issue asks for 5 orders each up to 1,000,000 contacts.

Workloads at each size, on one fresh database per size, as a user runs them:
  import      ``import_contacts`` of a CSV of N contacts into an empty database
              (validation, normalisation, dedupe, full-text index);
  RFM         ``rfm.score`` over the N contacts' orders; and for reference the
              hand-written NTILE statement bench_segments.py compares it with
              (sorting grows as n log n: the statement alone grows faster than 10x);
  refresh     the first refresh of ``country == "DE" and total_spent > 500``;
  dashboard   ``crm report render dashboard`` with every shop plugin;
  contact     the web app's page of one contact with orders (``/contacts/ID``,
              in process through Starlette's test client, logged in), median;
  search      the web app's contacts search for one person's address
              (``/contacts?q=user123``), median;
  re-import   the same file again, every row an update (last: it is left
              out, and said so, when it would not end within the budget).
As a reference for the import, the fastest raw sqlite3 load (bench_import's:
rows first, the full-text index of the new rowids, secondary indexes after)
of the same contacts in stored form, generated: how SQLite's own share grows.
The import and the re-import are also given in CPU seconds (this process and
the check-ahead workers): a growth factor of wall times from a shared machine
whose load changed between the sizes says more about the other programs than
about us; the CPU seconds are not stretched by them.
Each row is one 10x step of one workload: ``ours_s`` the time at the larger
size, ``baseline_s`` the time at the smaller, ``ratio`` the growth factor.
Target: at most linear (<= 11x per 10x); a contact page and a search flat
(<= 2x per 10x). Nothing is compared across runs here: both sizes of a step
ran in the same run.

``--budget SECONDS`` (default 1800 in growth scale): a step whose data and
workloads would not finish in it is stopped; what did not run is printed
(``did not fit: ...``) and has no row. ``--svg FILE`` writes the plot of the
growth factors (the project's own chart helper) for docs/benchmarks.md.
"""

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

from common import emit, row, timed  # noqa: E402

SIZES = {"tiny": (1_000, 10_000), "small": (10_000, 100_000), "full": (100_000, 1_000_000),
         "growth": (100_000, 1_000_000, 10_000_000)}
#: Rounds per size: the best for the bulk workloads; pages take the median of PAGE_ROUNDS.
ROUNDS = {"tiny": 1, "small": 3, "full": 2, "growth": 2}
PAGE_ROUNDS = {"tiny": 5, "small": 30, "full": 30, "growth": 30}
ORDERS_PER_CONTACT, ORDERS_CAP = 5, 5_000_000
AS_OF = "2025-12-31"
RULE = 'country == "DE" and total_spent > 500'
PASSWORD = "benchmark password"
#: bench_segments.py's baseline for RFM: how the statement alone grows.
BASELINE_RFM = """
CREATE TABLE growth_rfm AS
SELECT contact_id, ntile(5) OVER (ORDER BY max(ordered_at)) AS r, ntile(5) OVER (ORDER BY count(*)) AS f,
       ntile(5) OVER (ORDER BY sum(total)) AS m
FROM orders WHERE ordered_at <= ? GROUP BY contact_id
"""

FIRST = ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "James", "Emily", "Léa", "Hugo", "Jürgen"]
LAST = ["Müller", "Schmidt", "Smith", "Garcia", "Martin", "Dubois", "Rossi", "Jansen"]
COUNTRIES = ["DE", "US", "FR", "GB", "NL", "AT"]
CITIES = ["Berlin", "New York", "Paris", "London", "Amsterdam", "Wien"]

#: (key, workload name, target, flat?) in the order they run.
WORKLOADS = (
    ("import", "contact import", "<= 11x per 10x (linear)", False),
    ("rfm", "RFM scores, every customer", "<= 11x per 10x (linear)", False),
    ("rfm_sql", "reference: RFM's hand-written NTILE statement", "reference (how the SQL alone grows)", False),
    ("refresh", f"refresh {RULE}, first", "<= 11x per 10x (linear)", False),
    ("dashboard", "dashboard report, all plugins", "<= 11x per 10x (linear)", False),
    ("contact", "web contact page", "<= 2x per 10x (flat)", True),
    ("search", "web contacts search, one person", "<= 2x per 10x (flat)", True),
    ("reimport", "contact re-import (all updates)", "<= 11x per 10x (linear)", False),
    ("raw", "reference: the fastest raw sqlite3 load of such rows", "reference (how SQLite's own work grows)", False),
    ("import_cpu", "contact import, CPU time", "<= 11x per 10x (linear)", False),
    ("reimport_cpu", "contact re-import, CPU time", "<= 11x per 10x (linear)", False),
    ("raw_cpu", "reference: the fastest raw load, CPU time", "reference (how SQLite's own work grows)", False),
)


def stored_template():
    """A contact's stored row at its defaults, without ``id``: the columns of ``stored_rows``."""
    from crmcore import schema
    from crmcore.entities import Contact

    template = schema.to_row(Contact())
    template.pop("id")
    return template


def stored_rows(n):
    """The contacts of ``write_csv`` in stored form (every column, as our
    import stores them; timestamps fixed), generated, never held in memory."""
    template = stored_template()
    cols = list(template)
    stamp = "2026-01-01T00:00:00+00:00"
    for i in range(n):
        c = i % 6
        row = dict(template, email=f"user{i}.{LAST[i % 8].lower()}@example.com", first_name=FIRST[i % 10],
                   last_name=LAST[(i // 10) % 8], city=CITIES[c], country=COUNTRIES[c], postal_code=str(10000 + i % 89999),
                   tags='["vip"]' if i % 7 == 0 else "[]", consent=1 if i % 3 else 0,
                   consent_at=stamp if i % 3 else None, created_at=stamp, updated_at=stamp)
        yield tuple(row[c] for c in cols)


def raw_reference(n, folder, rounds):
    """``(wall, cpu)`` best seconds of the fastest raw sqlite3 load
    (bench_import's: rows first, the full-text index of the new rowids,
    secondary indexes after, one transaction) of ``n`` such rows into an
    empty CRM database: how SQLite's own share of an import grows."""
    from bench_import import raw_load

    from crmcore.app import CRM

    columns = list(stored_template())
    best = (float("inf"), float("inf"))
    path = os.path.join(folder, f"raw-{n}.db")
    for _ in range(rounds):
        _remove(path)
        crm = CRM(path, plugins=plugins())
        crm.migrate()
        try:
            wall, cpu, _ = cpu_timed(lambda: raw_load(crm, columns, stored_rows(n), fts="range", indexes_after=True))
            assert crm.store.count("contacts") == n
        finally:
            crm.close()
            _remove(path)
        best = (min(best[0], wall), min(best[1], cpu))
    return best


def cpu_timed(fn):
    """``(wall seconds, CPU seconds, result)`` of one call. The CPU seconds
    (this process and the check-ahead workers it waited for) are what a busy
    shared machine does not stretch: a growth factor in wall time measured
    while other programs came and went says more about them than about us."""
    import resource

    def cpu():
        own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime

    start_cpu = cpu()
    wall, result = timed(fn)
    return wall, cpu() - start_cpu, result


def write_csv(path, n):
    """N deterministic contacts (the import benchmark's columns), written fast."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("email,first_name,last_name,city,country,postal_code,tags,consent\r\n")
        chunk = []
        for i in range(n):
            c = i % 6
            chunk.append(f"user{i}.{LAST[i % 8].lower()}@example.com,{FIRST[i % 10]},{LAST[(i // 10) % 8]},{CITIES[c]},"
                         f"{COUNTRIES[c]},{10000 + i % 89999},{'vip' if i % 7 == 0 else ''},{'yes' if i % 3 else 'no'}\r\n")
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))


class OutOfTime(Exception):
    pass


def measure_size(n, folder, rounds, page_rounds, deadline, orders_cap, say, imports_only=False):
    """``{key: seconds}`` of every workload at ``n`` contacts; stops (``OutOfTime``
    carrying what it has) when ``deadline`` (a ``time.monotonic()``) passes.
    The re-import comes last and is left out when it would not end in time
    (it takes about as long as the import): the other workloads are quicker."""
    from crmcore.app import CRM
    from crmcore.importing import import_contacts

    times = {}

    def check(what):
        if time.monotonic() > deadline:
            raise OutOfTime(times, what)

    check("raw load")
    times["raw"], times["raw_cpu"] = raw_reference(n, folder, rounds if n < 10_000_000 else 1)
    say(f"{n:,}: the fastest raw load {times['raw']:.2f} s ({times['raw_cpu']:.2f} s CPU)")
    csv_path = os.path.join(folder, f"contacts-{n}.csv")
    write_csv(csv_path, n)
    say(f"{n:,}: CSV written")
    path = os.path.join(folder, f"growth-{n}.db")
    # The import: the best of ``rounds`` fresh databases, the last one kept.
    for r in range(rounds):
        check("import")
        _remove(path)
        crm = CRM(path, plugins=plugins())
        crm.migrate()
        t, cpu, _ = cpu_timed(lambda: import_contacts(crm, csv_path))
        times["import"] = min(times.get("import", float("inf")), t)
        times["import_cpu"] = min(times.get("import_cpu", float("inf")), cpu)
        say(f"{n:,}: import {t:.2f} s ({cpu:.2f} s CPU)")
        if r + 1 < rounds and (n >= 1_000_000 and time.monotonic() + 4 * times["import"] > deadline):
            break  # another round would not leave time for the rest
        if r + 1 < rounds:
            crm.close()
    try:
        assert crm.store.count("contacts") == n
        if not imports_only:
            measure_on(crm, n, rounds, page_rounds, orders_cap, check, times, say)
        for r in range(rounds):
            if time.monotonic() + 1.2 * times["import"] > deadline:
                if r:
                    break  # one round measured; another would not fit
                raise OutOfTime(times, f"re-import (it would take about {times['import']:.0f} s, as the import)")
            t, cpu, _ = cpu_timed(lambda: import_contacts(crm, csv_path))
            times["reimport"] = min(times.get("reimport", float("inf")), t)
            times["reimport_cpu"] = min(times.get("reimport_cpu", float("inf")), cpu)
            say(f"{n:,}: re-import {t:.2f} s ({cpu:.2f} s CPU)")
    finally:
        crm.close()
        _remove(path)
        os.remove(csv_path)
    return times


def plugins():
    import crm_exports
    import crm_products
    import crm_segments
    import crm_surveys

    return [crm_segments, crm_products, crm_surveys, crm_exports]


def _remove(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def measure_on(crm, n, rounds, page_rounds, orders_cap, check, times, say):
    """The workloads after the import, on its database of ``n`` contacts:
    orders added, RFM, its statement, the refresh, the dashboard, the pages."""
    import datetime as dt

    from crm_segments import rfm, segments
    from crmcore import reports, users
    from shopdata import ORDERS_SQL, bulk_load

    check("orders")
    n_orders = min(ORDERS_PER_CONTACT * n, orders_cap)
    seconds = bulk_load(crm, ["orders"], lambda conn: conn.execute(ORDERS_SQL, {"orders": n_orders, "contacts": n}))
    say(f"{n:,}: {n_orders:,} orders generated in {seconds:.1f} s")
    as_of = dt.date.fromisoformat(AS_OF)
    for _ in range(rounds):
        check("RFM")
        t, scored = timed(lambda: rfm.score(crm, as_of))
        times["rfm"] = min(times.get("rfm", float("inf")), t)
    say(f"{n:,}: RFM {times['rfm']:.2f} s ({scored:,} scored)")
    for _ in range(rounds):
        check("RFM statement")
        crm.store.execute("DROP TABLE IF EXISTS growth_rfm")
        t, _ = timed(lambda: crm.store.execute(BASELINE_RFM, (AS_OF,)))
        times["rfm_sql"] = min(times.get("rfm_sql", float("inf")), t)
    crm.store.execute("DROP TABLE growth_rfm")
    say(f"{n:,}: RFM's hand-written statement {times['rfm_sql']:.2f} s")
    for _ in range(rounds):
        check("refresh")
        if segments.get_segment(crm, "growth"):
            segments.delete_segment(crm, "growth")
        segments.create_segment(crm, "growth", RULE)
        t, _ = timed(lambda: segments.refresh(crm, ["growth"], as_of))
        times["refresh"] = min(times.get("refresh", float("inf")), t)
    say(f"{n:,}: refresh {times['refresh']:.2f} s")
    for _ in range(rounds):
        check("dashboard")
        t, html = timed(lambda: reports.render(crm, "dashboard"))
        assert "<html" in html.lower()
        times["dashboard"] = min(times.get("dashboard", float("inf")), t)
    say(f"{n:,}: dashboard {times['dashboard']:.2f} s")
    check("web pages")
    times.update(pages(crm, n, page_rounds, users))
    say(f"{n:,}: contact page {times['contact'] * 1000:.1f} ms, search {times['search'] * 1000:.1f} ms")
    return times


def pages(crm, n, page_rounds, users):
    """The median seconds of a contact page and a one-person search, in process."""
    import re

    from starlette.testclient import TestClient

    from crmcore.web.app import create_app

    users.add_user(crm, "bench@example.com", "admin", PASSWORD)
    client = TestClient(create_app(crm), base_url="http://testserver")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.status_code
    # Contacts spread over the whole id range (a bigger table, pages further
    # apart), each searched by its own address's first word: "user<row>" has as
    # many digits as the largest row, so it prefix-matches one person (or a
    # handful) at every size, as a search for someone's name does.
    people = [1 + (2 * k + 1) * n // (2 * page_rounds) for k in range(page_rounds)]

    def median(paths, expect):
        client.get(paths[0])  # templates compiled before the clock starts
        seconds = []
        for p in paths:
            start = time.perf_counter()
            r = client.get(p)
            seconds.append(time.perf_counter() - start)
            assert r.status_code == 200 and expect(p, r.text), p
        return statistics.median(seconds)

    contact = median([f"/contacts/{i}" for i in people], lambda p, html: "user" in html)
    search = median([f"/contacts?q=user{i - 1}" for i in people], lambda p, html: f"user{p.rsplit('user', 1)[1]}." in html)
    return {"contact": contact, "search": search}


def run(sizes, rounds, page_rounds, budget, orders_cap, say, imports_only=False):
    """``(rows, measured, notes)``: rows per 10x step, ``{size: times}``, what did not fit."""
    measured, notes = {}, []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as folder:
        for n in sizes:
            step_start = time.monotonic()
            deadline = step_start + budget
            try:
                measured[n] = measure_size(n, folder, rounds, page_rounds, deadline, orders_cap, say, imports_only)
            except OutOfTime as exc:
                got, stopped = exc.args
                measured[n] = got
                left = [name for key, name, _, _ in WORKLOADS if key not in got]
                notes.append(f"did not fit: {n:,} contacts, stopped at {stopped} after {time.monotonic() - step_start:.0f} s "
                             f"(budget {budget:.0f} s); not measured: {', '.join(left)}")
                say(notes[-1])
                break
    say(f"growth run took {time.monotonic() - start:.0f} s")
    return step_rows(sizes, measured), measured, notes


def step_rows(sizes, measured):
    """One row per workload and 10x step measured at both ends: ours_s the
    larger size's seconds, baseline_s the smaller's, ratio the growth factor."""
    rows = []
    for key, name, target, _ in WORKLOADS:
        for small, big in zip(sizes, sizes[1:]):
            a, b = measured.get(small, {}).get(key), measured.get(big, {}).get(key)
            if a is not None and b is not None:
                rows.append(row(f"growth: {name}", f"{small:,} -> {big:,} contacts", b, a, f"the same workload at {small:,} contacts", target))
    return rows


def table(sizes, measured, notes):
    """The human-readable growth table: time at each size, growth per 10x."""
    head = (f"{'workload':<54}" + "".join(f"{n:>14,}" for n in sizes)
            + "".join(f"{f'x {a:,.0f}->':>16}" for a in sizes[:-1]) + "  target")
    lines = [head]
    for key, name, target, _ in WORKLOADS:
        cells, factors = [], []
        for n in sizes:
            t = measured.get(n, {}).get(key)
            cells.append(f"{'-':>14}" if t is None else f"{t * 1000:>12.1f}ms" if t < 1 else f"{t:>13.2f}s")
        for a, b in zip(sizes, sizes[1:]):
            ta, tb = measured.get(a, {}).get(key), measured.get(b, {}).get(key)
            factors.append(f"{'-':>16}" if ta is None or tb is None else f"{tb / ta:>15.1f}x")
        lines.append(f"{name:<54}" + "".join(cells) + "".join(factors) + f"  {target}")
    return "\n".join(lines + notes)


def main():
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=list(SIZES), default="small")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    p.add_argument("--sizes", help="contact counts instead of the scale's, e.g. 100_000,1_000_000 (10x steps)")
    p.add_argument("--budget", type=float, help="seconds one size may take (default: 1800 at growth, unlimited otherwise)")
    p.add_argument("--orders-cap", type=int, default=ORDERS_CAP, help=f"at most this many orders (default {ORDERS_CAP:,})")
    p.add_argument("--svg", help="write the plot of the growth factors to this SVG file")
    p.add_argument("--imports-only", action="store_true", help="only the import and the re-import (the longest workloads at 10,000,000)")
    args = p.parse_args()
    sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",")) if args.sizes else SIZES[args.scale]
    budget = args.budget or (1800.0 if args.scale == "growth" else float("inf"))

    def say(text):
        print(text, file=sys.stderr, flush=True)

    import signal

    # Stopped (kill, or run.py stopped): the gigabytes in the temporary folder go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    rows, measured, notes = run(sizes, ROUNDS[args.scale], PAGE_ROUNDS[args.scale], budget, args.orders_cap, say, args.imports_only)
    if args.svg:
        from growth_chart import write_svg

        write_svg(args.svg, sizes, measured, WORKLOADS)
    if args.json:
        say(table(sizes, measured, notes))
        emit(rows, True)
    else:
        print(table(sizes, measured, notes))


if __name__ == "__main__":
    main()
