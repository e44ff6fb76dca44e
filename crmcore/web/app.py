"""The ASGI application: routes from the core and plugins, login, CSRF, headers.

One CRM (one database connection) per worker process; requests of a worker
take turns on it (a lock), so ``crm.user`` is the logged-in user's e-mail for
exactly the request that writes, and the audit trail records who did what.
Several workers need PostgreSQL.
"""

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from urllib.parse import quote

from .. import access, users
from ..errors import CRMError
from .base import SESSION_COOKIE, ContactPanel, MenuItem, WebRoute, message

PUBLIC_PREFIXES = ("/s/", "/unsubscribe/")
STATIC = os.path.join(os.path.dirname(__file__), "static")
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
PERMISSION_WORDS = {"login", "public"}


def known_permissions():
    out = set(PERMISSION_WORDS)
    for granted in access.PERMISSIONS.values():
        out |= granted
    return out - {"*"} | {"users:admin", "plugins:admin"}


def collect(crm):
    """Routes, menu items, contact panels and static folders of the core and enabled plugins."""
    from . import editing, pages

    routes, menu, panels = list(pages.ROUTES) + list(editing.ROUTES), list(pages.MENU), []
    granted = {role: set(names) for role, names in access.PERMISSIONS.items()}

    def register_permission(name, roles, description=""):
        if not isinstance(name, str) or name.count(":") != 1 or not all(name.split(":")):
            raise CRMError(f"permission {name!r} must look like AREA:ACTION")
        unknown = [r for r in roles if r not in granted]
        if isinstance(roles, str) or unknown:
            raise CRMError(f"permission {name}: roles must be a list of {', '.join(granted)}")
        for role in roles:
            granted[role].add(name)

    crm.emit("crm_register_permissions", register=register_permission)
    allowed = known_permissions() | set().union(*granted.values())

    def check(permission, what):
        if permission not in allowed:
            raise CRMError(f"{what}: unknown permission {permission!r} (one of {', '.join(sorted(allowed))})")

    def register_route(path, endpoint, permission, methods=("GET",)):
        check(permission, f"route {path}")
        if permission == "public" and not path.startswith(PUBLIC_PREFIXES):
            raise CRMError(f"route {path}: public pages must live under {' or '.join(PUBLIC_PREFIXES)}")
        routes.append(WebRoute(path, endpoint, permission, tuple(methods), "plugin"))

    def register_menu(label, path, permission="login"):
        check(permission, f"menu item {label}")
        menu.append(MenuItem(label, path, permission))

    def register_panel(title, template, context=None, permission="contacts:read"):
        check(permission, f"contact panel {title}")
        panels.append(ContactPanel(title, template, context or (lambda crm, user, contact: {}), permission))

    statics = {}

    def register_static(directory):
        plugin = crm.activation.registering_plugin("crm_register_static")
        if not isinstance(directory, (str, os.PathLike)) or not os.path.isdir(directory):
            raise CRMError(f"plugin {plugin}: static folder {directory!r} does not exist")
        if plugin in statics:
            raise CRMError(f"plugin {plugin}: registers a second static folder ({directory}); one folder per plugin")
        statics[plugin] = os.path.abspath(directory)

    crm.emit("crm_register_routes", register=register_route)
    crm.emit("crm_register_menu_items", register=register_menu)
    crm.emit("crm_register_contact_panels", register=register_panel)
    crm.emit("crm_register_static", register=register_static)
    return routes, menu, panels, granted, statics


class QueryTimer:
    """Counts the store's statements and their time (``--debug``'s footer)."""

    def __init__(self, store):
        self.count, self.seconds = 0, 0.0
        for name in ("execute", "executemany"):
            original = getattr(store, name)
            setattr(store, name, self._timed(original))

    def _timed(self, fn):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.count += 1
                self.seconds += time.perf_counter() - started
        return run

    def reset(self):
        self.count, self.seconds = 0, 0.0


class Web:
    """What every request of one worker shares: the CRM, its lock, the templates."""

    def __init__(self, crm, public_only=False, debug=False):
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        from .. import charts, formatting
        from ..reports import core_template_dir

        self.crm, self.public_only, self.debug = crm, public_only, debug
        self.lock = threading.Lock()
        self.timer = QueryTimer(crm.store) if debug else None
        self.routes, self.menu, self.panels, self.permissions, self.statics = collect(crm)
        search = ([crm.templates] if crm.templates else []) + list(crm.registry.template_dirs) + [TEMPLATES, core_template_dir()]
        self.env = ImmutableSandboxedEnvironment(loader=jinja2.FileSystemLoader(search), autoescape=True,
                                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(formatting.FILTERS)
        self.env.filters["money"] = formatting.money_in(crm.get_setting("base_currency") or "EUR")  # figures in the base currency
        self.env.globals.update(charts.TEMPLATE_GLOBALS)
        if not crm.get_setting("web.secret"):  # the first worker to start wins; the others read its secret
            with crm.store.transaction():
                crm.store.execute("INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                  ("web.secret", json.dumps(secrets.token_hex(32))))
        self.secret = crm.get_setting("web.secret").encode()

    def public_csrf(self, path):
        """The form token of a public page: bound to its path (which holds the link's secret)."""
        return hmac.new(self.secret, path.encode(), hashlib.sha256).hexdigest()[:32]


def _wrap(route):
    """The Starlette endpoint of a route: session, permission and CSRF checks,
    then the route's own function under the worker's lock."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse, Response

    public = route.permission == "public"

    def handle(request, form):
        web = request.app.state.web
        crm = web.crm
        request.state.started = time.perf_counter()
        with web.lock:
            if web.timer is not None:
                web.timer.reset()
            request.state.crm = crm
            request.state.user, request.state.csrf = None, ""
            request.state.form = form
            if public:
                request.state.csrf = web.public_csrf(request.url.path)
                crm.user = "public link"
            elif route.permission == "none":  # the login page: checks its own form token
                request.state.user, _ = users.session_user(crm, request.cookies.get(SESSION_COOKIE))
                crm.user = "anonymous"
            else:
                user, csrf = users.session_user(crm, request.cookies.get(SESSION_COOKIE))
                if user is None:
                    if request.method == "GET":
                        return RedirectResponse("/login?next=" + quote(request.url.path), status_code=303)
                    return Response("login required", status_code=401, media_type="text/plain")
                request.state.user, request.state.csrf = user, csrf
                crm.user = user["email"]
                if route.permission != "login" and not access.can(user, route.permission, web.permissions):
                    return message(request, "Not allowed", f"Your role ({user['role']}) cannot open this page.", 403)
            if request.method == "POST" and route.permission != "none" and not request.url.path.startswith("/unsubscribe/"):
                given = form.get("csrf_token", "") if form is not None else ""
                if not given or not hmac.compare_digest(str(given), request.state.csrf):
                    return message(request, "Form expired", "The form was too old or not sent from this site: "
                                   "go back, reload the page and send it again.", 403)
            try:
                return route.endpoint(request)
            except access.NotFound:
                return message(request, "Not found", "There is no such page, or it is not yours to see.", 404)
            except access.Forbidden as exc:
                return message(request, "Not allowed", str(exc), 403)
            except CRMError as exc:
                return message(request, "Cannot do that", str(exc), 400)
            finally:
                crm.user = "web"

    async def endpoint(request):
        form = None
        if request.method == "POST":
            try:
                form = await request.form()
            except Exception:  # a body that is no form: treated as an empty form
                form = {}
        return await run_in_threadpool(handle, request, form)

    return endpoint


class SecurityHeaders:
    """Adds the CSP and friends to every response that has not set its own."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(event):
            if event["type"] == "http.response.start":
                headers = list(event.get("headers", []))
                names = {k.lower() for k, _ in headers}
                defaults = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",  # public links carry their token in the path
                    b"x-frame-options": b"DENY",
                }
                if not scope["path"].startswith("/static/"):
                    defaults[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in defaults.items() if k not in names]
                event = {**event, "headers": headers}
            await send(event)

        return await self.app(scope, receive, with_headers)


def create_app(crm, public_only=False, debug=False):
    """The Starlette app serving ``crm``; ``public_only`` serves only customers' links."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    crm.require_schema()
    web = Web(crm, public_only=public_only, debug=debug)
    routes = []
    for r in web.routes:
        if public_only and r.permission != "public":
            continue
        routes.append(Route(r.path, _wrap(r), methods=list(r.methods)))
    if not public_only:
        from . import api

        routes.extend(api.routes())
    # a plugin's files under /static/plugins/NAME/ (before the core's mount, which would answer 404 for them);
    # StaticFiles refuses any path that leaves its folder, and SecurityHeaders treats all /static/ alike
    for plugin, directory in sorted(web.statics.items()):
        routes.append(Mount(f"/static/plugins/{plugin}", app=StaticFiles(directory=directory)))
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))

    async def not_found(request, exc):
        from starlette.responses import PlainTextResponse

        if exc.status_code == 405:
            return PlainTextResponse("method not allowed", status_code=405)
        return PlainTextResponse("Not found", status_code=exc.status_code)

    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], exception_handlers={404: not_found, 405: not_found})
    app.state.web = web
    return app


def app_from_env():
    """Factory for Uvicorn's workers (``crm serve --workers N``): reads the
    settings ``crm serve`` put in the environment."""
    from ..app import CRM

    crm = CRM(os.environ["CRM_SERVE_DB"])
    return create_app(crm, public_only=os.environ.get("CRM_SERVE_PUBLIC_ONLY") == "1",
                      debug=os.environ.get("CRM_SERVE_DEBUG") == "1")
