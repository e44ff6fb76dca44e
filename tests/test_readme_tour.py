"""Every command line of the README's tour runs, in order, as a user would.

The tour is the indented ``crm ...`` lines between "## A tour of the commands"
and "## Documentation" in README.md. This test runs each of them as a real
``crm`` subprocess, in the order of the README, in a temporary folder that
holds a fresh ``crm quickstart`` database (``./crm.db``, as the README uses)
and the example files the lines name (examples/tour/). Any non-zero exit fails
the test, naming the README line, the command that ran and its output.

A line that cannot run unchanged in a test has an entry in ``SUBSTITUTIONS``
below: the pattern it matches, why it is changed, and the change. Nothing is
skipped: a substitution that matches no README line fails the test too, so
the table stays true. To add one, append ``Substitution(pattern, why, change)``
where ``change(argv, ctx)`` returns the argv to run, or a ``Step`` for stdin,
environment or a custom runner (see ``serve_smoke``); for example

    Substitution(r"^crm tokens create", "the token is printed once: keep it for later lines",
                 lambda argv, ctx: Step(argv=argv, env={"CRM_USER": "admin@example.com"})),

``ctx`` holds ``dir`` (the folder, with crm.db), ``env``, ``smtp_port`` (a
local SMTP server) and ``outputs``: what each earlier line printed, keyed by
its first two words ("crm unsubscribe-link"), for lines that need an id.
Every line that matches a substitution gets all of them, in table order.

``pytest -s tests/test_readme_tour.py`` prints the time each line took.
"""

import contextlib
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import attrs

from crmcore.testing import crm_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples" / "tour"
START, END = "## A tour of the commands", "## Documentation"
#: The quickstart's size for the test: the default 2,000 contacts work (see
#: the newcomer's run in the issue) but take longer than a test should.
QUICKSTART_CONTACTS = 300
TIMEOUT = 120


def tour_lines(text=None):
    """``[(line number, command line)]`` of the tour: indented lines starting
    with ``crm ``, in README order, comments included."""
    text = README.read_text(encoding="utf-8") if text is None else text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == START)
    end = next(i for i, line in enumerate(lines) if i > start and line.strip() == END)
    return [(i + 1, line.strip()) for i, line in enumerate(lines[start:end], start)
            if line.startswith("    ") and line.strip().startswith("crm ")]


@attrs.define
class Step:
    """What runs for one README line."""

    argv: list
    stdin: str = None
    env: dict = attrs.Factory(dict)
    #: ``runner(step, ctx) -> (exit code, output)`` instead of a plain subprocess.
    runner: object = None


@attrs.define
class Substitution:
    """A README line that cannot run unchanged: ``pattern`` (a regular
    expression searched in the line), ``why`` it is changed, and ``change``:
    ``change(argv, ctx)`` returns the argv to run or a ``Step``."""

    pattern: str
    why: str
    change: object

    def matches(self, line):
        return re.search(self.pattern, line) is not None


def replace_arg(pattern, new):
    """A change that replaces every argument matching the regular expression
    ``pattern`` (whole argument) by ``new(ctx)``."""
    def change(argv, ctx):
        assert any(re.fullmatch(pattern, arg) for arg in argv), f"no argument matches {pattern!r} in {argv}"
        return [new(ctx) if re.fullmatch(pattern, arg) else arg for arg in argv]
    return change


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crm_command(argv):
    """The real ``crm`` for this interpreter (the console script calls the same ``main``)."""
    assert argv[0] == "crm", argv
    return [sys.executable, "-c", "from crmcore.cli import main; main()", *argv[1:]]


def run_plain(step, ctx):
    env = dict(ctx["env"], **step.env)
    done = subprocess.run(crm_command(step.argv), cwd=ctx["dir"], env=env, input=step.stdin, text=True,
                          capture_output=True, timeout=TIMEOUT)
    return done.returncode, done.stdout + done.stderr


def serve_smoke(paths):
    """A server runs until stopped: start it on a free 127.0.0.1 port, GET
    ``paths(ctx)`` (``[(path, expected status)]``), stop it."""
    def change(argv, ctx):
        return Step(argv=argv + ["--port", str(free_port())], runner=lambda step, ctx: _serve(step, ctx, paths(ctx)))
    return change


def _serve(step, ctx, checks):
    port = step.argv[step.argv.index("--port") + 1]
    proc = subprocess.Popen(crm_command(step.argv), cwd=ctx["dir"], env=ctx["env"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    report = []
    try:
        deadline = time.monotonic() + 30
        for path, expected in checks:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                        status = response.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        status = None
                    else:
                        time.sleep(0.1)
                        continue
                break
            report.append(f"GET {path} -> {status} (expected {expected})")
            if status != expected:
                proc.terminate()
                return 1, "\n".join(report) + "\n" + proc.communicate(timeout=10)[0]
        return 0, "\n".join(report)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _unsubscribe_path(ctx):
    link = ctx["outputs"].get("crm unsubscribe-link", "")
    found = re.search(r"https?://[^/\s]+(/unsubscribe/\S+)", link)
    assert found, f"`crm unsubscribe-link` printed no link: {link!r}"
    return found.group(1)


@contextlib.contextmanager
def smtp_server():
    """A local SMTP server that accepts every message (aiosmtpd)."""
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, sink
    finally:
        controller.stop()


def _file_transport(ctx):
    (ctx["dir"] / "sent").mkdir(exist_ok=True)
    return f"file://{ctx['dir'] / 'sent'}"


SUBSTITUTIONS = [
    Substitution(r"^crm demo --contacts 10000\b",
                 "10,000 more contacts take longer than a test should; 300 exercise the same path "
                 "(demo data added to the quickstart's)",
                 replace_arg(r"10000", lambda ctx: "300")),
    Substitution(r"--open\b", "no browser in a test: BROWSER points at `true`",
                 lambda argv, ctx: Step(argv=argv, env={"BROWSER": "true"})),
    Substitution(r"--password-stdin", "the password comes on standard input, as from a password manager",
                 lambda argv, ctx: Step(argv=argv, stdin="correct horse battery staple\n")),
    Substitution(r"^crm serve --public-only", "a server runs until stopped: start it on a free port, GET the "
                 "unsubscribe link printed above (200) and /login (404: public links only), stop it",
                 serve_smoke(lambda ctx: [(_unsubscribe_path(ctx), 200), ("/login", 404)])),
    Substitution(r"^crm serve(\s|$)(?!.*--public-only)", "a server runs until stopped: start it on a free "
                 "port, GET /login (200), stop it", serve_smoke(lambda ctx: [("/login", 200)])),
    Substitution(r"^crm campaigns send .*--rate 10/s", "the same pacing at 1000/s: a test does not wait 10 s for "
                 "a hundred messages", replace_arg(r"10/s", lambda ctx: "1000/s")),
    Substitution(r"~/Maildir", "the example Maildir instead of the user's",
                 replace_arg(r"~/Maildir", lambda ctx: "Maildir")),
    Substitution(r"--smtp smtps?://\S*mail\.shop\.example", "a local SMTP server instead of the shop's",
                 replace_arg(r"smtps?://\S*mail\.shop\.example\S*", lambda ctx: f"smtp://127.0.0.1:{ctx['smtp_port']}")),
    Substitution(r"--smtp smtp://\S*mail\.example\.com", "the file transport (one .eml per message, in a "
                 "folder made here) instead of a mail server", replace_arg(r"smtp://\S*mail\.example\.com\S*", lambda ctx: _file_transport(ctx))),
    Substitution(r"^crm contacts erase\b", "erasure asks for confirmation: the user answers y",
                 lambda argv, ctx: Step(argv=argv, stdin="y\n")),
]


def plan(line, ctx, used):
    """The ``Step`` for README ``line``, after every matching substitution."""
    step = Step(argv=shlex.split(line, comments=True))
    for i, sub in enumerate(SUBSTITUTIONS):
        if sub.matches(line):
            used.add(i)
            changed = sub.change(list(step.argv), ctx)
            if isinstance(changed, Step):
                changed.env = {**step.env, **changed.env}
                changed.stdin = changed.stdin if changed.stdin is not None else step.stdin
                changed.runner = changed.runner or step.runner
                step = changed
            else:
                step.argv = changed
    return step


def test_tour_lines_are_read_from_the_readme():
    text = f"intro\n    crm not-this\n{START}\n\n    crm init   # make it\n    pip install x\n  crm nope\n{END}\n    crm after\n"
    assert tour_lines(text) == [(5, "crm init   # make it")]
    assert shlex.split('crm segments create g --rule \'country == "DE"\'  # a comment', comments=True)[-1] == 'country == "DE"'


def test_every_tour_command_runs(tmp_path):
    work = tmp_path / "tour"
    shutil.copytree(EXAMPLES, work)
    env = crm_env(plugins=None, HOME=str(tmp_path), CRM_USER="alice")
    for name in ("CRM_SMTP_URL", "BROWSER"):
        env.pop(name, None)
    ctx = {"dir": work, "env": env, "outputs": {}}
    timings, failures, used = [], [], set()

    started = time.monotonic()
    code, output = run_plain(Step(argv=["crm", "quickstart", "--contacts", str(QUICKSTART_CONTACTS)]), ctx)
    assert code == 0, f"crm quickstart failed (exit {code}):\n{output}"
    timings.append((time.monotonic() - started, f"crm quickstart --contacts {QUICKSTART_CONTACTS}"))

    lines = tour_lines()
    assert len(lines) > 50, "the README's tour was not found"
    with smtp_server() as (port, sink):
        ctx["smtp_port"] = port
        for number, line in lines:
            started, step = time.monotonic(), None
            try:
                step = plan(line, ctx, used)
                code, output = (step.runner or run_plain)(step, ctx)
            except Exception as exc:  # a timeout or a broken substitution: report it as the line's failure
                code, output = "error", f"{type(exc).__name__}: {exc}"
            timings.append((time.monotonic() - started, line))
            if step is not None:
                ctx["outputs"][" ".join(step.argv[:2])] = output
            if code != 0:
                ran = shlex.join(step.argv) if step else "nothing (its substitution failed)"
                failures.append(f"README.md:{number}: {line}\n  ran: {ran} (exit {code})\n  "
                                + "\n  ".join(output.strip().splitlines()[-15:]))
        sent_by_smtp = len(sink.messages)

    print("\nThe README tour, seconds per line:")
    for seconds, line in timings:
        print(f"{seconds:6.2f}  {line}")
    unused = [f"{s.pattern!r} ({s.why})" for i, s in enumerate(SUBSTITUTIONS) if i not in used]
    assert not failures, f"{len(failures)} of {len(lines)} tour lines failed:\n\n" + "\n\n".join(failures)
    assert not unused, "substitutions that match no README line (remove them): " + "; ".join(unused)
    assert sent_by_smtp >= 1, "`crm service reply` sent nothing through the SMTP server"
    assert list((work / "sent").glob("*.eml")), "`crm campaigns send` wrote no message"
