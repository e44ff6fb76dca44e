"""`crm serve` against Datasette serving the same SQLite table, over loopback.

    python benchmarks/bench_web.py [--scale tiny|small|full] [--json] [--db FILE]

Data (benchmarks/shopdata.py): full = 1,000,000 contacts (core only, the
full-text index included). Both servers run as their own processes on
127.0.0.1 against the same file: `crm serve` (one worker, logged in as an
admin) and `datasette serve` (its default settings except `suggest_facets`
off, so its table page does not run facet queries we do not run either).

Pages (issue "crm serve", Must show):

| page | ours | Datasette |
| --- | --- | --- |
| contacts list, page 1 | `/contacts` | `/db/contacts?_size=50` (counts the table) |
| contacts list, a deep page | `/contacts?after=ID` (keyset) | `/db/contacts?_size=50&_next=ID` (keyset) |
| a search | `/contacts?q=WORD` (1,003 match) | `/db/contacts?_search=WORD&_size=50` |
| a search every contact matches | `/contacts?q=Kim` | `/db/contacts?_search=Kim&_size=50` |
| a contact | `/contacts/ID` (deals, activities, orders, history) | `/db/contacts/ID` (the row page) |

Each page is loaded by 1 and by 16 concurrent clients (threads, each with one
keep-alive connection), bounded in count and time per scale. A row reports
requests per second as seconds per request (1 / throughput: ours, Datasette,
their ratio; above 1.0 we serve fewer) and p50/p99 latency of both in its
size column. Targets: p50 <= 50 ms and p99 <= 200 ms at 16 clients; at least
Datasette's throughput at 1 client.

Datasette is the `bench` extra (`pip install -e '.[bench]'`); without it each
row keeps our figures and says the peer is unavailable.
"""

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT, os.path.join(ROOT, "plugins")]

from common import emit, parser, row  # noqa: E402
from shopdata import SCALES, open_shop  # noqa: E402

#: Per scale: requests per (page, clients) and the time bound for each such run.
LOAD = {"tiny": (12, 2.0), "small": (300, 8.0), "full": (2000, 20.0)}
CLIENTS = (1, 16)
PASSWORD = "benchmark password"
TARGETS = {1: ">= Datasette's requests/s (<= 1.0x)", 16: "p50 <= 50 ms, p99 <= 200 ms"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port, proc, path="/", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start in {timeout} s")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_ours(db):
    port = free_port()
    env = {**os.environ, "CRM_LOAD_PLUGINS": "", "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "plugins")])}
    proc = subprocess.Popen([sys.executable, "-c", "from crmcore.cli import main; main()", "--db", db, "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until_up(port, proc, "/login")
    return proc, port


def login(port):
    """The session cookie of the benchmark's admin."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    r = conn.getresponse()
    html = r.read().decode()
    csrf_cookie = re.search(r"crm_login_csrf=([^;]+)", r.getheader("set-cookie")).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"email": "bench@example.com", "password": PASSWORD, "csrf_token": token})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"crm_login_csrf={csrf_cookie}"})
    r = conn.getresponse()
    r.read()
    assert r.status == 303, r.status
    return "crm_session=" + re.search(r"crm_session=([^;]+)", r.getheader("set-cookie")).group(1)


def start_datasette(db):
    if shutil.which("datasette") is None and subprocess.run([sys.executable, "-c", "import datasette"],
                                                          capture_output=True).returncode != 0:
        return None, None, "datasette not installed (pip install -e '.[bench]')"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "datasette", "serve", db, "--host", "127.0.0.1", "--port", str(port),
                             "--setting", "suggest_facets", "off", "--setting", "sql_time_limit_ms", "30000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_up(port, proc, "/-/versions.json")
    except RuntimeError as exc:
        stop(proc)
        return None, None, str(exc).splitlines()[0][:200]
    return proc, port, None


def load(port, paths, clients, count, seconds, headers=None):
    """Send up to ``count`` GETs of ``paths`` (cycled) from ``clients`` threads,
    stopping after ``seconds``; returns ``(requests/s, p50 s, p99 s)``."""
    latencies, errors, lock = [], [], threading.Lock()
    next_index = [0]
    deadline = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < deadline:
            with lock:
                i = next_index[0]
                if i >= count:
                    break
                next_index[0] += 1
            started = time.perf_counter()
            conn.request("GET", paths[i % len(paths)], headers=headers or {})
            r = conn.getresponse()
            r.read()
            took = time.perf_counter() - started
            with lock:
                if r.status != 200:
                    errors.append((paths[i % len(paths)], r.status))
                latencies.append(took)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / wall, statistics.median(latencies), p99


def pages(n, search_word):
    """``{name: (our paths, Datasette's paths)}`` for contacts 1..n."""
    deep = [max(1, int(n * f)) for f in (0.90, 0.93, 0.96, 0.99)]
    people = [1 + (i * 7919) % n for i in range(50)]
    return {
        "contacts list, page 1": (["/contacts"], ["/db/contacts?_size=50"]),
        "contacts list, deep keyset page": ([f"/contacts?after={i}" for i in deep], [f"/db/contacts?_size=50&_next={i}" for i in deep]),
        "contacts search": ([f"/contacts?q={search_word}"], [f"/db/contacts?_search={search_word}&_size=50"]),
        # a name every contact has: the page's work must not grow with the matches
        "contacts search, a name all match": (["/contacts?q=Kim"], ["/db/contacts?_search=Kim&_size=50"]),
        "contact page": ([f"/contacts/{i}" for i in people], [f"/db/contacts/{i}" for i in people]),
    }


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def run(n_contacts, scale, keep=None):
    count, seconds = LOAD[scale]
    with tempfile.TemporaryDirectory() as folder:
        path = keep or os.path.join(folder, "shop.db")
        crm = open_shop(path, n_contacts, max(1, n_contacts // 100), [])
        from crmcore import users

        if crm.store.query_value("SELECT count(*) FROM _crm_users WHERE email = 'bench@example.com'") == 0:
            users.add_user(crm, "bench@example.com", "admin", PASSWORD)
        n = crm.store.query_value("SELECT max(id) FROM contacts")
        crm.close()
        # Datasette's row and keyset URLs need the file to be called "db.db" (/db/...)
        db = os.path.join(folder, "db.db")
        if keep:
            os.symlink(os.path.abspath(path), db)
        else:
            os.rename(path, db)
        ours, ours_port = start_ours(db)
        peer, peer_port, why = start_datasette(db)
        rows = []
        try:
            cookie = {"Cookie": login(ours_port)}
            for name, (our_paths, their_paths) in pages(n, "Nr123").items():
                for clients in CLIENTS:
                    load(ours_port, our_paths[:1], 1, 2, 5, cookie)  # warm up
                    rps, p50, p99 = load(ours_port, our_paths, clients, count, seconds, cookie)
                    size = f"{n:,} contacts, {clients} client{'s' if clients > 1 else ''}: ours {rps:.0f} req/s p50 {ms(p50)} p99 {ms(p99)}"
                    workload = f"crm serve {name}, {clients} client{'s' if clients > 1 else ''}"
                    if peer is None:
                        rows.append(row(workload, size, 1 / rps, None, f"peer unavailable: {why}", TARGETS[clients]))
                        continue
                    load(peer_port, their_paths[:1], 1, 2, 5)
                    d_rps, d_p50, d_p99 = load(peer_port, their_paths, clients, count, seconds)
                    size += f"; Datasette {d_rps:.0f} req/s p50 {ms(d_p50)} p99 {ms(d_p99)}"
                    rows.append(row(workload, size, 1 / rps, 1 / d_rps, "Datasette serving the same table (seconds per request)",
                                    TARGETS[clients]))
        finally:
            stop(ours)
            if peer is not None:
                stop(peer)
    return rows


def main():
    p = parser(__doc__)
    p.add_argument("--db", help="keep the generated data in this file and reuse it next time")
    args = p.parse_args()
    emit(run(SCALES[args.scale][0], args.scale, keep=args.db), args.json)


if __name__ == "__main__":
    main()
