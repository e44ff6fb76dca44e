"""The segments plugin's pages in ``crm serve``: the list, a segment's members
(through the core's access filter) and the rule editor, which counts the
contacts a rule matches before it is saved and names what is wrong with a rule
and where. Registered from ``__init__.py`` through the core's web hooks.

Pages run without JavaScript (the CSP allows none): "Count" sends the form and
shows the count with the rule as typed, "Save" stores it.
"""

import json

from crmcore import CRMError, access, render_page as render

from .fields import describe
from .segments import (
    compile_segment_rule,
    contact_ids,
    create_segment,
    database_refusal,
    edit_segment,
    get_segment,
    list_segments,
    refresh,
)

MAX_RULE = 4000


def _redirect(url):
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)


def _segment_path(name):
    from urllib.parse import quote

    return "/segments/" + quote(name, safe="")


def segments_page(request):
    crm, user = request.state.crm, request.state.user
    return render(request, "web_segments.html", {"rows": list_segments(crm),
                                                 "can_edit": access.can(user, "segments:write", request.app.state.web.permissions)})


def segment_page(request):
    """A segment's rule and its members the user may see, keyset-paged."""
    crm, user = request.state.crm, request.state.user
    name = request.path_params["name"]
    segment = get_segment(crm, name)
    if segment is None:
        raise access.NotFound(f"no segment {name!r}")
    after = request.query_params.get("after", "")
    if after and not after.isdigit():
        raise CRMError("?after= must be a contact id")
    ids = contact_ids(crm, name)
    where = (f"c.id IN ({crm.store.dialect.json_values('int')})", [json.dumps(ids)])
    rows, next_after = access.page(crm, user, "contacts", after=after or None, where=where) if ids else ([], None)
    return render(request, "web_segment.html", {
        "s": segment, "size": len(ids), "rows": rows, "next_after": next_after, "paged": bool(after),
        "seg_path": _segment_path(name), "can_edit": access.can(user, "segments:write", request.app.state.web.permissions)})


def count_rule(crm, rule):
    """How many contacts ``rule`` matches now; ``CRMError`` (with the position) when it is wrong."""
    sql, params = compile_segment_rule(crm, rule)
    with database_refusal(crm.store, "rule"):
        return crm.store.query_value(f"SELECT count(*) FROM ({sql}) AS matching", params)


def _editor(request, segment=None):
    crm = request.state.crm
    form = request.state.form if request.method == "POST" else {}
    name = str(form.get("name", segment["name"] if segment else ""))[:200].strip()
    values = {
        "name": name,
        "description": str(form.get("description", segment["description"] if segment else ""))[:2000],
        "rule": str(form.get("rule", segment["rule"] if segment else ""))[:MAX_RULE].strip(),
    }
    count = error = None
    if request.method == "POST":
        try:
            if not values["rule"]:
                raise CRMError("write a rule, for example: country = 'DE' and tags contains 'vip'")
            count = count_rule(crm, values["rule"])
            if form.get("action") == "save":
                if segment is None:
                    create_segment(crm, values["name"], rule=values["rule"], description=values["description"])
                else:
                    edit_segment(crm, segment["name"], rule=values["rule"], description=values["description"],
                                 new_name=values["name"] if values["name"] != segment["name"] else None)
                refresh(crm, [values["name"]])
                return _redirect(_segment_path(values["name"]))
        except CRMError as exc:
            error = str(exc)
    status = 400 if error else 200
    return render(request, "web_segment_edit.html", {"s": segment, "v": values, "count": count, "error": error,
                                                     "fields": describe(crm)}, status=status)


def new_segment(request):
    return _editor(request)


def edit_segment_page(request):
    segment = get_segment(request.state.crm, request.path_params["name"])
    if segment is None:
        raise access.NotFound("no such segment")
    if segment["kind"] == "static":
        raise CRMError(f"{segment['name']!r} is a static segment: its members are kept by hand (crm segments add-members)")
    return _editor(request, segment)
