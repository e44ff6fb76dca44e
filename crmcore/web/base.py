"""What the web app's modules and plugins' pages share: route and menu
records, cookies' names, and ``render``, which turns a template into a page."""

import time

import attrs

from .. import access

SESSION_COOKIE = "crm_session"
LOGIN_CSRF_COOKIE = "crm_login_csrf"
#: Reports are self-contained files with inline styles and data: images, no scripts.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"


@attrs.frozen
class WebRoute:
    path: str
    endpoint: object
    permission: str
    methods: tuple
    plugin: str


@attrs.frozen
class MenuItem:
    label: str
    path: str
    permission: str


@attrs.frozen
class ContactPanel:
    title: str
    template: str
    context: object
    permission: str


def render(request, template, context=None, status=200, headers=None):
    """Render ``template`` (found on the template search path) as the page's response."""
    from starlette.responses import HTMLResponse

    web = request.app.state.web
    values = {
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf", ""),
        "menu": [m for m in web.menu if m.permission == "login" or access.can(getattr(request.state, "user", None), m.permission, web.permissions)],
        "path": request.url.path,
        "debug": None,
    }
    values.update(context or {})
    html = web.env.get_template(template).render(**values)
    if web.timer is not None:
        footer = (f'<footer class="debug">{web.timer.count} queries, {web.timer.seconds * 1000:.1f} ms in the database, '
                  f'{(time.perf_counter() - request.state.started) * 1000:.1f} ms in all</footer>')
        html = html.replace("</body>", footer + "</body>", 1)
    return HTMLResponse(html, status_code=status, headers=headers)


def message(request, title, text, status):
    return render(request, "web_message.html", {"title": title, "text": text}, status=status)


def _is_https(request):
    return request.url.scheme == "https"


def set_cookie(request, response, name, value, max_age=None):
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=_is_https(request), path="/")
