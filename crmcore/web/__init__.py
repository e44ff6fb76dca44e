"""``crm serve``: the CRM as a web application (Starlette + Uvicorn).

Thin like the CLI: pages parse the request, call one library function and
render a template. Access control lives in ``crmcore.access``, users and
sessions in ``crmcore.users``, public links in ``crmcore.links``.

Plugins add pages with ``crm_register_routes`` and render them with
``crmcore.web.render(request, template, context)``.
"""

__all__ = ["create_app", "render"]


def __getattr__(name):
    if name == "render":
        from .base import render

        return render
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
