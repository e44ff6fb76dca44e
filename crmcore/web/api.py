"""The JSON API of ``crm serve`` for integrations: ``/api/...``.

A request carries ``Authorization: Bearer TOKEN`` (``crm tokens create --user
EMAIL``) and acts as that user: every list, get and write goes through
``crmcore.access`` with the user's role and territories, exactly as the pages
do, so a record outside them answers 404. Writes go through the CRM object
(validation, hooks, the audit trail under the user's e-mail) and are recorded
in the contact's history. Lists page by keyset: ``?limit=`` (1-500, default 50)
and ``?after=ID``; the answer is ``{"items": [...], "next_after": ID or null}``.
Errors are ``{"error": "one sentence"}`` with the HTTP status. The OpenAPI
description is at ``/api/openapi.json``.

No cookies and so no CSRF token: a browser never sends the bearer token on its own.
"""

import json

from .. import access, schema, tokens
from ..entities import Activity, Company, Contact, Deal, Order
from ..errors import CRMError, FieldError

MAX_LIMIT = 500
MAX_BODY = 1 << 20
#: Resources of the API: record class and whether it can be written.
RESOURCES = {
    "contacts": (Contact, True),
    "deals": (Deal, True),
    "activities": (Activity, True),
    "companies": (Company, False),
    "orders": (Order, False),
}
#: Fields set by the CRM, never by a request.
READ_ONLY_FIELDS = ("id", "created_at", "updated_at")


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _response(data, status=200, headers=None):
    from starlette.responses import Response

    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(json.dumps(data, ensure_ascii=False, default=str), status_code=status, headers=headers,
                    media_type="application/json")


def error(status, message, headers=None):
    return _response({"error": message}, status, headers)


def _int_param(request, name, default, low, high):
    value = request.query_params.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ApiError(400, f"?{name}= must be a whole number from {low} to {high}")
    return int(value)


def _paging(request):
    return _int_param(request, "limit", access.PAGE_SIZE, 1, MAX_LIMIT), _int_param(request, "after", None, 0, 2 ** 62)


# -- handlers: (request, crm, user, body, table) -> response -------------------------


def list_records(request, crm, user, body, table):
    limit, after = _paging(request)
    q = request.query_params.get("q", "").strip()[:200]
    if q and table == "contacts":
        # the best `limit` when few contacts match; when many do, pages in id order (`after`), as on the search page
        rows, next_after, _ = access.search_page(crm, user, q, after=after, limit=limit)
        return _response({"items": rows, "next_after": next_after})
    rows, next_after = access.page(crm, user, table, after=after, limit=limit)
    return _response({"items": rows, "next_after": next_after})


def get_record(request, crm, user, body, table):
    return _response(access.get(crm, user, table, request.path_params["id"]))


def _writable(body, cls):
    fields = set(schema.field_names(cls))
    for key in body:
        if key in READ_ONLY_FIELDS:
            raise ApiError(400, f"{key!r} is set by the CRM and cannot be written")
        if key not in fields:
            raise ApiError(400, f"unknown field {key!r} (fields: {', '.join(f for f in schema.field_names(cls) if f not in READ_ONLY_FIELDS)})")
    return dict(body)


def _check_owner(user, values, current):
    """A territory-limited user keeps records theirs: they cannot hand one to someone else."""
    if user["role"] in access.SCOPED_ROLES and "owner" in values and values["owner"] != current:
        raise access.Forbidden(f"your role ({user['role']}) cannot give a record to another owner")


def _check_contact(crm, user, values):
    """A deal's or activity's contact must be one the user may see (404 otherwise)."""
    cid = values.get("contact_id")
    if cid not in (None, ""):
        try:
            cid = int(cid)
        except (TypeError, ValueError):
            raise ApiError(400, "contact_id must be a contact id") from None
        access.get(crm, user, "contacts", cid)


def _note_on_contact(crm, action, contact_id, changes):
    if contact_id is not None:
        crm.audit(action, "contacts", contact_id, changes)


def create_record(request, crm, user, body, table):
    cls, _ = RESOURCES[table]
    values = _writable(body, cls)
    if table == "contacts":
        values.setdefault("owner", user["email"] if user["role"] in access.SCOPED_ROLES else "")
        _check_owner(user, values, user["email"])
    else:
        values.setdefault("owner", user["email"])
        _check_owner(user, values, user["email"])
        _check_contact(crm, user, values)
    record = schema.build(cls, values)
    with crm.store.transaction():
        new_id = crm.add(record)  # a contact's history starts with its creation, under the token's user
        if table != "contacts":
            _note_on_contact(crm, f"add {table[:-1] if table == 'deals' else 'activity'}", record.contact_id,
                             {table[:-1] if table == "deals" else "activity": new_id, "via": "api"})
    return _response(crm.get(table, new_id), 201, {"Location": f"/api/{table}/{new_id}"})


def update_record(request, crm, user, body, table):
    cls, _ = RESOURCES[table]
    old = access.get(crm, user, table, request.path_params["id"])
    changes = _writable(body, cls)
    _check_owner(user, changes, old["owner"])
    if table != "contacts" and "contact_id" in changes:
        _check_contact(crm, user, changes)
    with crm.store.transaction():
        if table == "deals" and "stage" in changes and "status" not in changes:
            crm.move_deal(old["id"], changes.pop("stage"))  # won/lost close the deal, other stages reopen it
        saved = crm.update(table, old["id"], changes) if changes else crm.get(table, old["id"])
        if table != "contacts":
            _note_on_contact(crm, f"update {'deal' if table == 'deals' else 'activity'}", old["contact_id"],
                             {"deal" if table == "deals" else "activity": old["id"], "fields": sorted(body), "via": "api"})
    return _response(saved)


def delete_record(request, crm, user, body, table):
    access.require(user, f"{table}:delete")
    old = access.get(crm, user, table, request.path_params["id"])
    with crm.store.transaction():
        crm.delete(table, [old["id"]])
        if table != "contacts":
            _note_on_contact(crm, f"delete {'deal' if table == 'deals' else 'activity'}", old["contact_id"],
                             {"deal" if table == "deals" else "activity": old["id"], "via": "api"})
    return _response(None, 204)


def segment_members(request, crm, user, body, table):
    """Members of a segment the user may see, keyset-paged by contact id."""
    limit, after = _paging(request)
    name = request.path_params["name"]
    try:
        ids = crm.segment_contact_ids(name)
    except CRMError as exc:
        raise access.NotFound(str(exc)) from None
    ids = sorted({int(i) for i in ids if after is None or int(i) > after})
    if not ids:
        return _response({"segment": name, "items": [], "next_after": None})
    where = (f"c.id IN ({crm.store.dialect.json_values('int')})", [json.dumps(ids)])
    rows, next_after = access.page(crm, user, "contacts", after=after, limit=limit, where=where)
    return _response({"segment": name, "items": rows, "next_after": next_after})


def not_found(request, crm, user, body, table):
    raise access.NotFound("no such API endpoint (see /api/openapi.json)")


def openapi(request, crm, user, body, table):
    return _response(openapi_document())


# -- OpenAPI -------------------------------------------------------------------------

_TYPES = {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"},
          list: {"type": "array", "items": {"type": "string"}}, dict: {"type": "object"}}


def _schema_of(cls):
    import datetime as dt

    props = {}
    for f in schema.fields(cls):
        kind = schema.field_kind(f)
        prop = dict({"type": "string", "format": "date"} if kind is dt.date else _TYPES.get(kind, {"type": "string"}))
        if f.name in READ_ONLY_FIELDS:
            prop["readOnly"] = True
        if f.metadata.get("description"):
            prop["description"] = f.metadata["description"]
        props[f.name] = prop
    return {"type": "object", "properties": props}


def _json_body(ref):
    return {"content": {"application/json": {"schema": {"$ref": ref}}}}


def openapi_document():
    """The OpenAPI 3.1 description of the API."""
    err = {"description": "An error", **_json_body("#/components/schemas/Error")}
    paging = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}},
              {"name": "after", "in": "query", "description": "the next_after of the previous page",
               "schema": {"type": "integer"}}]
    schemas = {"Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}
    paths = {}
    for table, (cls, writable) in RESOURCES.items():
        name = cls.__name__
        schemas[name] = _schema_of(cls)
        ref = f"#/components/schemas/{name}"
        page = {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": ref}},
                                                 "next_after": {"type": ["integer", "null"]}}}
        listing = {"get": {"summary": f"{table} the token's user may see, by id", "operationId": f"list_{table}",
                           "parameters": paging + ([{"name": "q", "in": "query", "description": "full-text search: the best matches when at most 200 match, else pages in id order (next_after)",
                                                     "schema": {"type": "string"}}] if table == "contacts" else []),
                           "responses": {"200": {"description": "One page", "content": {"application/json": {"schema": page}}},
                                         "400": err, "401": err, "403": err}}}
        one = {"get": {"summary": f"One {name.lower()}", "operationId": f"get_{table}",
                       "responses": {"200": {"description": name, **_json_body(ref)}, "401": err, "404": err}}}
        if writable:
            listing["post"] = {"summary": f"Create a {name.lower()}", "operationId": f"create_{table}", "requestBody": _json_body(ref),
                               "responses": {"201": {"description": "Created", **_json_body(ref)}, "400": err, "401": err,
                                             "403": err, "404": err}}
            one["patch"] = {"summary": f"Change fields of a {name.lower()}", "operationId": f"update_{table}",
                            "requestBody": _json_body(ref),
                            "responses": {"200": {"description": "Saved", **_json_body(ref)}, "400": err, "401": err,
                                          "403": err, "404": err}}
            one["delete"] = {"summary": f"Delete a {name.lower()}", "operationId": f"delete_{table}",
                             "responses": {"204": {"description": "Deleted"}, "401": err, "403": err, "404": err}}
        one["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
        paths[f"/api/{table}"] = listing
        paths[f"/api/{table}/{{id}}"] = one
    paths["/api/segments/{name}/members"] = {"get": {
        "summary": "Members of a segment the token's user may see (needs the segments plugin)", "operationId": "segment_members",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}, *paging],
        "responses": {"200": {"description": "One page", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"segment": {"type": "string"},
                                             "items": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}},
                                             "next_after": {"type": ["integer", "null"]}}}}}},
                      "401": err, "404": err}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM API", "version": "1",
                 "description": "Records the token's user may see, with their role and territories applied."},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


# -- routing -------------------------------------------------------------------------


def _wrap(handler, table, permission):
    from starlette.concurrency import run_in_threadpool

    def handle(request, body):
        web = request.app.state.web
        crm = web.crm
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with web.lock:
            user = tokens.token_user(crm, token.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                return error(401, "a valid bearer token is needed (Authorization: Bearer TOKEN; crm tokens create --user EMAIL)",
                             {"WWW-Authenticate": "Bearer"})
            crm.user = user["email"]
            try:
                if permission:
                    access.require(user, permission)
                return handler(request, crm, user, body, table)
            except ApiError as exc:
                return error(exc.status, str(exc))
            except access.NotFound as exc:
                return error(404, str(exc))
            except access.Forbidden as exc:
                return error(403, str(exc))
            except FieldError as exc:
                return error(400, f"invalid {exc.field}: {exc.reason}")
            except CRMError as exc:
                return error(400, str(exc))
            finally:
                crm.user = "web"

    async def endpoint(request):
        body = None
        if request.method in ("POST", "PATCH"):
            raw = await request.body()
            if len(raw) > MAX_BODY:
                return error(413, f"the body is larger than {MAX_BODY} bytes")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return error(400, "the body must be a JSON object")
            if not isinstance(body, dict):
                return error(400, "the body must be a JSON object")
        return await run_in_threadpool(handle, request, body)

    return endpoint


def routes():
    """The API's Starlette routes."""
    from starlette.routing import Route

    out = [Route("/api/openapi.json", _wrap(openapi, None, None), methods=["GET"])]
    for table, (_, writable) in RESOURCES.items():
        out.append(Route(f"/api/{table}", _wrap(list_records, table, f"{table}:read"), methods=["GET"]))
        out.append(Route(f"/api/{table}/{{id:int}}", _wrap(get_record, table, f"{table}:read"), methods=["GET"]))
        if writable:
            out.append(Route(f"/api/{table}", _wrap(create_record, table, f"{table}:write"), methods=["POST"]))
            out.append(Route(f"/api/{table}/{{id:int}}", _wrap(update_record, table, f"{table}:write"), methods=["PATCH"]))
            out.append(Route(f"/api/{table}/{{id:int}}", _wrap(delete_record, table, None), methods=["DELETE"]))
    out.append(Route("/api/segments/{name}/members", _wrap(segment_members, "contacts", "contacts:read"), methods=["GET"]))
    out.append(Route("/api/{rest:path}", _wrap(not_found, None, None), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]))
    return out
