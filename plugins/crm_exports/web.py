"""The exports plugin's page in ``crm serve``: download an audience (a segment,
or every contact) in any registered format, limited to the contacts the user
may see (the core's access filter), with the same consent and suppression
rules as ``crm export``, and logged in the export log under the user's e-mail
with the contacts it held. Registered from ``__init__.py``.

The file is built in memory and sent as a download; nothing is written on
the server's disk.
"""

import collections
import hashlib
import io
import json

from crmcore import CRMError, access, normalize, quote_name, render_page as render

from .exporter import _columns, _decoded, _requirement, consenting, export_format, export_log, list_formats

PERMISSION = "exports:download"
#: The file name extension and media type of a download, per format (CSV otherwise).
DOWNLOAD_TYPES = {"json": ("json", "application/json"), "vcard": ("vcf", "text/vcard")}
WEB_PATH = "(downloaded from crm serve)"


def _segments(crm):
    try:
        return crm.segment_names()
    except CRMError:  # no segments plugin: everyone or nothing
        return []


def exports_page(request, error=None, status=200):
    crm, user = request.state.crm, request.state.user
    log = export_log(crm, limit=50)
    if user["role"] in access.SCOPED_ROLES:
        log = [e for e in log if e["user"] == user["email"]]
    return render(request, "web_exports.html", {"formats": list_formats(crm), "segments": _segments(crm), "log": log[:20],
                                                "error": error}, status=status)


def audience(crm, user, writer, segment):
    """``(rows, excluded, included)``: the contacts of ``segment`` (or all) the
    user may see, filtered for consent and suppressions as ``crm export`` does."""
    names = _columns(writer)
    columns = ", ".join("c." + quote_name(n) for n in names)
    scope_sql, params = access.contact_scope(crm, user)
    where, values = [scope_sql], list(params)
    if segment:
        ids = crm.segment_contact_ids(segment)
        where.insert(0, f"c.id IN ({crm.store.dialect.json_values('int')})")
        values.insert(0, json.dumps(sorted(int(i) for i in ids)))
    rows = crm.store.query(f"SELECT {columns} FROM contacts c WHERE {' AND '.join(where)} ORDER BY c.id", values)
    excluded, included = collections.Counter(), []
    return consenting(crm, _decoded(rows, names), _requirement(writer), False, excluded, included), excluded, included


def download(request):
    from starlette.responses import Response

    from .records import ExportLog

    crm, user = request.state.crm, request.state.user
    form = request.state.form
    fmt = str(form.get("format", ""))[:60]
    segment = str(form.get("segment", ""))[:200].strip()
    try:
        found = export_format(crm, fmt)
        if segment and segment not in _segments(crm):
            raise CRMError(f"no segment named {segment!r}")
        rows, excluded, included = audience(crm, user, found.writer, segment)
        out = io.StringIO()
        found.writer(rows, out, {})
    except CRMError as exc:
        return exports_page(request, str(exc), 400)
    data = out.getvalue().encode("utf-8")
    with crm.store.transaction():
        log_id = crm.add(ExportLog(format=fmt, segment=segment, exported_at=normalize.now(), user=user["email"], path=WEB_PATH,
                                   row_count=len(included), sha256=hashlib.sha256(data).hexdigest(), excluded=dict(excluded),
                                   options={"via": "web"}))
        crm.store.execute(
            "INSERT INTO export_log_contacts (contact_id, export_id) SELECT v.value, ? FROM "
            f"({crm.store.dialect.json_values()}) AS v", (log_id, json.dumps(included)))
    extension, media_type = DOWNLOAD_TYPES.get(fmt, ("csv", "text/csv"))
    name = f"{segment or 'contacts'}-{fmt}-{normalize.now()[:10]}"
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return Response(data, media_type=f"{media_type}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}.{extension}"', "X-Export-Id": str(log_id)})
