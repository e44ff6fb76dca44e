"""Running unattended: ``crm run-due`` and ``crm jobs``.

Plugins (and the core) register jobs with ``crm_register_jobs``: a name, a
function and an interval. ``crm run-due``, run every few minutes from cron or
a systemd timer (docs/operations.md), runs the jobs that are due: never run,
or last started at least their interval ago. One run at a time: a second
``run-due`` while one is running does nothing and says so. Each job's start,
end, result and message are kept in ``_crm_jobs`` (``crm jobs`` lists them);
a failing job is reported and the others still run.
"""

import contextlib
import datetime as dt
import os
import re
import traceback

import attrs

from . import normalize
from .errors import CRMError

_EVERY = re.compile(r"\s*(\d+)\s*(m|min|h|d|w)\s*", re.IGNORECASE)
_UNIT = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_every(text):
    """Seconds of an interval such as ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"``."""
    found = _EVERY.fullmatch(str(text))
    if not found or int(found.group(1)) < 1:
        raise CRMError(f"job interval {text!r} must look like 15m, 6h, 1d or 1w")
    return int(found.group(1)) * _UNIT[found.group(2).lower()]


@attrs.frozen
class Job:
    name: str
    plugin: str
    every: str
    seconds: int
    description: str
    run: object


def registered_jobs(crm):
    """The jobs the enabled plugins register, by name (a later one of the same name wins)."""
    jobs = {}

    def register(name, run, every, description=""):
        plugin = crm.activation.registering_plugin("crm_register_jobs")
        if isinstance(run, str):  # "module:function", imported when the job runs
            run = _lazy(run)
        jobs[str(name)] = Job(str(name), plugin, str(every), parse_every(every), description, run)

    crm.activation.call("crm_register_jobs", crm=crm, register=register)
    return jobs


def _lazy(target):
    def run(crm):
        import importlib

        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(crm)

    return run


def _parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _stamp(moment):
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(crm):
    return {r["name"]: r for r in crm.store.query("SELECT * FROM _crm_jobs")}


def is_due(job, state, now):
    started = _parse_time(state["started_at"]) if state else None
    return started is None or (now - started).total_seconds() >= job.seconds


def list_jobs(crm, now=None):
    """Rows for ``crm jobs``: each registered job with its last run and when it is next due."""
    now = now or _now()
    state = _state(crm)
    rows = []
    for job in sorted(registered_jobs(crm).values(), key=lambda j: j.name):
        s = state.get(job.name)
        started = _parse_time(s["started_at"]) if s else None
        due = now if started is None else max(now, started + dt.timedelta(seconds=job.seconds))
        rows.append({"name": job.name, "plugin": job.plugin, "every": job.every, "description": job.description,
                     "last_run": s["started_at"] if s else None, "result": s["result"] if s else None,
                     "message": s["message"] if s else None, "runs": s["runs"] if s else 0,
                     "failures": s["failures"] if s else 0, "next_due": _stamp(due)})
    return rows


@contextlib.contextmanager
def run_lock(crm):
    """Held while ``run-due`` runs; ``CRMError`` when another run holds it."""
    busy = CRMError("another `crm run-due` is running on this database; this run did nothing")
    if crm.store.kind == "postgres":
        key = "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':crm run-due'))"
        if not crm.store.query_value(key):
            raise busy
        try:
            yield
        finally:
            crm.store.execute("SELECT pg_advisory_unlock(hashtext(current_schema() || ':crm run-due'))")
        return
    if crm.location == ":memory:":
        yield
        return
    import fcntl

    fd = os.open(f"{crm.location}.run-due.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise busy from None
        yield
    finally:
        os.close(fd)


def _record(crm, job, **values):
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_jobs (name, plugin) VALUES (?, ?) ON CONFLICT(name) DO NOTHING", (job.name, job.plugin))
        sets = ", ".join(f"{k} = ?" for k in values)
        crm.store.execute(f"UPDATE _crm_jobs SET plugin = ?, {sets} WHERE name = ?", (job.plugin, *values.values(), job.name))


def run_due(crm, only=(), now=None, report=lambda line: None):
    """Run the due jobs (``only``: these, due or not). Returns one dict per
    job run: ``name``, ``result`` ("ok" or "failed") and ``message``."""
    crm.require_schema()
    jobs = registered_jobs(crm)
    unknown = [name for name in only if name not in jobs]
    if unknown:
        raise CRMError(f"no job named {unknown[0]!r} (jobs: {', '.join(sorted(jobs)) or 'none'})")
    results = []
    with run_lock(crm):
        state = _state(crm)
        now = now or _now()
        for job in sorted(jobs.values(), key=lambda j: j.name):
            if only and job.name not in only:
                continue
            if not only and not is_due(job, state.get(job.name), now):
                continue
            _record(crm, job, started_at=_stamp(now), finished_at=None, result="running", message=None)
            try:
                summary = job.run(crm)
                result, message = "ok", (str(summary).strip().splitlines() or [""])[0] if summary else ""
            except CRMError as exc:
                result, message = "failed", str(exc)
            except Exception as exc:  # a job's bug must not stop the others
                where = traceback.extract_tb(exc.__traceback__)[-1]
                result, message = "failed", f"{type(exc).__name__}: {exc} ({os.path.basename(where.filename)}:{where.lineno})"
            if crm.store.in_transaction:  # a job that left a transaction open
                raise CRMError(f"job {job.name!r} left a transaction open")
            failed = int(result == "failed")
            crm.store.execute("UPDATE _crm_jobs SET finished_at = ?, result = ?, message = ?, runs = runs + 1, "
                              "failures = failures + ? WHERE name = ?", (normalize.now(), result, message, failed, job.name))
            results.append({"name": job.name, "plugin": job.plugin, "result": result, "message": message})
            report(results[-1])
    return results


# -- the core's job: backups with retention -----------------------------------------


BACKUP_PREFIX = "crm-backup-"


def backup_job(crm):
    """A backup into the ``backup.folder`` setting, keeping the newest ``backup.keep`` (default 7)."""
    from .maintenance import backup

    folder = crm.get_setting("backup.folder")
    keep = int(crm.get_setting("backup.keep") or 7)
    if not folder or not os.path.isdir(folder):
        raise CRMError(f"backup folder {folder!r} does not exist; create it or change it: crm settings set backup.folder DIR")
    name = f"{BACKUP_PREFIX}{_now().strftime('%Y%m%d-%H%M%S')}.db"
    dest = os.path.join(folder, name)
    n = 1
    while os.path.exists(dest):
        dest = os.path.join(folder, name.replace(".db", f"-{n}.db"))
        n += 1
    counts = backup(crm, dest)
    old = sorted(f for f in os.listdir(folder) if f.startswith(BACKUP_PREFIX) and f.endswith(".db"))
    removed = old[:-keep] if len(old) > keep else []
    for f in removed:
        os.remove(os.path.join(folder, f))
    return (f"{counts.get('contacts', 0)} contacts to {dest}"
            + (f"; removed {len(removed)} older backup{'s' if len(removed) != 1 else ''} (keeping {keep})" if removed else ""))


# -- commands ---------------------------------------------------------------------------

import click  # noqa: E402  (the commands below; this module is imported only when they run)


@click.command("run-due")
@click.option("--job", "only", multiple=True, metavar="NAME", help="Run this job now, due or not (repeatable).")
def run_due_command(only):
    """Run the jobs that are due (for cron or a systemd timer; see docs/operations.md).

    Each enabled plugin's jobs (segment refreshes, backups with retention,
    ...) run when their interval has passed since their last run. One run at
    a time; a failing job is reported and the others still run. Exits 1 when
    a job failed."""
    from .cli import get_crm

    crm = get_crm()
    try:
        results = run_due(crm, only, report=lambda r: click.echo(
            f"{r['name']}: {r['result']}" + (f": {r['message']}" if r["message"] else ""), err=r["result"] != "ok"))
    except CRMError as exc:
        if str(exc).startswith("another `crm run-due`"):
            click.echo(str(exc), err=True)
            return
        raise
    if not results:
        click.echo("No job is due.")
    if any(r["result"] != "ok" for r in results):
        click.get_current_context().exit(1)


@click.command("jobs")
@click.option("--json", "fmt", flag_value="json", help="Print a JSON array of objects keyed by field name.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV with a header row of field names.")
def jobs_command(fmt):
    """The jobs `crm run-due` runs: interval, last run, its result and when each is next due."""
    from .cli import get_crm
    from .output import print_rows

    fields = ["name", "plugin", "every", "last_run", "result", "message", "next_due", "runs", "failures", "description"]
    print_rows(list_jobs(get_crm()), fields, fmt, ["name", "every", "last_run", "result", "next_due", "message"])
