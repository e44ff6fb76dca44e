"""The salesperson's task list: `crm tasks` and `crm activities list --owner --overdue --due`."""

import datetime as dt
import json

from crmcore import Activity, Contact


def _at(delta_hours):
    return (dt.datetime.now().replace(microsecond=0) + dt.timedelta(hours=delta_hours)).isoformat()


def test_tasks_lists_my_open_tasks_by_due_date_and_the_filters_narrow_them(run_cli, make_crm, monkeypatch):
    assert run_cli(["init"]).exit_code == 0
    from crmcore import CRM

    crm = CRM(run_cli.db, plugins=[])
    ada = crm.add(Contact(email="ada@example.com"))
    crm.add_many([
        Activity(contact_id=ada, kind="task", subject="late", owner="sam@example.com", due_at=_at(-30)),
        Activity(contact_id=ada, kind="task", subject="tonight", owner="sam@example.com", due_at=_at(0.01)),
        Activity(contact_id=ada, kind="task", subject="in five days", owner="sam@example.com", due_at=_at(24 * 5)),
        Activity(contact_id=ada, kind="task", subject="next month", owner="sam@example.com", due_at=_at(24 * 30)),
        Activity(contact_id=ada, kind="task", subject="done", owner="sam@example.com", due_at=_at(-5), done_at=_at(-4)),
        Activity(contact_id=ada, kind="task", subject="someone else's", owner="kim@example.com", due_at=_at(-2)),
        Activity(contact_id=ada, kind="call", subject="a call", owner="sam@example.com", done_at=_at(-1)),
    ])
    crm.close()

    def subjects(args, **env):
        result = run_cli([*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return [r["subject"] for r in json.loads(result.output)]

    assert subjects(["tasks", "--owner", "sam@example.com"]) == ["late", "tonight", "in five days", "next month"]
    assert subjects(["tasks"], CRM_USER="sam@example.com") == ["late", "tonight", "in five days", "next month"]
    assert subjects(["tasks", "--owner", "sam@example.com", "--overdue"]) == ["late"]
    assert subjects(["tasks", "--owner", "sam@example.com", "--due", "week"]) == ["late", "tonight", "in five days"]
    assert subjects(["activities", "list", "--owner", "sam@example.com", "--kind", "call"]) == ["a call"]
    assert subjects(["activities", "list", "--overdue", "--sort", "id"]) == ["late", "someone else's"]
