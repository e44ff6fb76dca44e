"""``crm serve``, ``crm users``, ``crm settings`` and ``crm unsubscribe-link``: thin
commands over ``crmcore.web``, ``crmcore.users`` and ``crmcore.links``."""

import os
import sys

import click

from ..cli import get_crm
from ..output import output_options, print_rows


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes (more than one needs PostgreSQL).")
@click.option("--public-only", is_flag=True, help="Serve only customers' public links (/s/ and /unsubscribe/), no login.")
@click.option("--debug", is_flag=True, help="Show the time each page spent in the database in its footer.")
def serve(host, port, workers, public_only, debug):
    """Serve the CRM as a web application for the team (and customers' public links)."""
    import uvicorn

    from ..errors import CRMError
    from ..store import redact
    from ..users import has_admin

    crm = get_crm()
    if workers > 1 and crm.store.kind != "postgres":
        raise CRMError("several workers need a PostgreSQL database (--db postgresql://...); SQLite serves with --workers 1")
    if not public_only and not has_admin(crm):
        raise CRMError(f"{redact(crm.location)} has no admin user yet: create one with "
                       "`crm users add you@example.com --role admin --password-stdin`, then run crm serve again")
    click.echo(f"Serving {redact(crm.location)} on http://{host}:{port}/" + (" (public links only)" if public_only else ""), err=True)
    if workers == 1:
        from .app import create_app

        app = create_app(crm, public_only=public_only, debug=debug)
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True, server_header=False)
        return
    if crm.templates:
        os.environ["CRM_TEMPLATES"] = crm.templates
    os.environ.update(CRM_SERVE_DB=crm.location, CRM_SERVE_PUBLIC_ONLY="1" if public_only else "0", CRM_SERVE_DEBUG="1" if debug else "0")
    crm.close()
    uvicorn.run("crmcore.web.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning",
                proxy_headers=True, server_header=False)


# -- users ---------------------------------------------------------------------------


def _read_password(password_stdin, confirm=True):
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)


@click.group()
def users():
    """People who log in to `crm serve`: roles admin, manager, sales, service, viewer."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "sales", "service", "viewer"]), help="What the user may see and do.")
@click.option("--territory", "territories", multiple=True, metavar="NAME", help="A territory of a sales user (repeatable; segments plugin).")
@click.option("--name", default="", help="Display name (also matched against records' owner).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def users_add(email, role, territories, name, password_stdin):
    """Add a user who can log in to `crm serve`."""
    from ..users import add_user, check_new_email

    crm = get_crm()
    check_new_email(crm, email)  # before asking for a password
    password = _read_password(password_stdin)
    add_user(crm, email, role, password, territories=territories, name=name)
    click.echo(f"Added {role} {email}")


@users.command("list")
@output_options
def users_list(fmt):
    """Every user with role, territories and last login."""
    from ..users import USER_FIELDS, list_users

    print_rows(list_users(get_crm()), USER_FIELDS, fmt)


@users.command("disable")
@click.argument("email")
def users_disable(email):
    """Disable a user and end their sessions (their history stays)."""
    from ..users import disable_user

    disable_user(get_crm(), email)
    click.echo(f"Disabled {email}")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def users_set_password(email, password_stdin):
    """Set a user's password (and enable the account); their sessions end."""
    from ..users import get_user, set_password

    crm = get_crm()
    get_user(crm, email)
    set_password(crm, email, _read_password(password_stdin))
    click.echo(f"Password of {email} changed")


@users.command("set-role")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "sales", "service", "viewer"]))
@click.option("--territory", "territories", multiple=True, metavar="NAME", help="Replace the user's territories (repeatable).")
def users_set_role(email, role, territories):
    """Change a user's role (and territories when given)."""
    from ..users import set_role

    set_role(get_crm(), email, role, territories=list(territories) if territories else None)
    click.echo(f"{email} is now {role}")


# -- settings ------------------------------------------------------------------------

#: Settings a person may set from the command line, with how each is checked.
SETTINGS = {"base_url": "the CRM's public address; customers' links start with it",
            "backup.folder": "where `crm run-due` writes backups (the backup job runs once this is set)",
            "backup.keep": "how many of those backups to keep (default 7)",
            "backup.every": "how often the backup job runs: 6h, 1d, 1w (default 1d)",
            "base_currency": "the currency of every revenue figure (default EUR); orders are converted at their date's rate"}


def _check_setting(key, value):
    import os

    from ..errors import CRMError
    from ..links import check_base_url

    if key == "base_url":
        return check_base_url(value)
    if key == "base_currency":
        from ..currency import check_code

        return check_code(value, key)
    if key == "backup.folder":
        if not os.path.isdir(value):
            raise CRMError(f"backup.folder: {value} is not a folder")
        return os.path.abspath(value)
    if key == "backup.keep":
        if not value.isdigit() or int(value) < 1:
            raise CRMError("backup.keep must be a whole number of backups, 1 or more")
        return int(value)
    from ..jobs import parse_every

    parse_every(value)
    return value


@click.group()
def settings():
    """Settings of this database (e.g. base_url, the public address of links)."""


@settings.command("set")
@click.argument("key", type=click.Choice(sorted(SETTINGS)))
@click.argument("value")
def settings_set(key, value):
    """Set a setting."""
    crm = get_crm()
    crm.set_setting(key, _check_setting(key, value))
    click.echo(f"{key} = {crm.get_setting(key)}")


@settings.command("get")
@click.argument("key", type=click.Choice(sorted(SETTINGS)))
def settings_get(key):
    """Print a setting (empty when unset)."""
    click.echo(get_crm().get_setting(key) or "")


@settings.command("list")
@output_options
def settings_list(fmt):
    """The settings a person may change, with their values."""
    crm = get_crm()
    print_rows([{"key": k, "value": crm.get_setting(k) or "", "description": d} for k, d in sorted(SETTINGS.items())],
               ["key", "value", "description"], fmt)


@click.command("unsubscribe-link")
@click.argument("contact")
def unsubscribe_link(contact):
    """Print a contact's personal unsubscribe link (CONTACT: id or e-mail)."""
    from ..links import unsubscribe_url

    crm = get_crm()
    click.echo(unsubscribe_url(crm, crm.find_contact(contact)["id"]))


# -- API tokens ----------------------------------------------------------------------


@click.group()
def tokens():
    """Bearer tokens for the JSON API of `crm serve` (/api/...), each acting as one user."""


@tokens.command("create")
@click.option("--user", "email", required=True, metavar="EMAIL", help="The user the token acts as (their role and territories apply).")
@click.option("--name", default="", help="What the token is for (shown by `crm tokens list`).")
def tokens_create(email, name):
    """Create a token and print it (it is shown only this once; only its hash is stored)."""
    from ..tokens import create_token

    click.echo(create_token(get_crm(), email, name))


@tokens.command("list")
@output_options
def tokens_list(fmt):
    """Every token: id, user, name, created, last used (never the token itself)."""
    from ..tokens import list_tokens

    print_rows(list_tokens(get_crm()), ["id", "user", "name", "created_at", "last_used_at"], fmt)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id):
    """Revoke a token by its id (see `crm tokens list`)."""
    from ..tokens import revoke_token

    revoke_token(get_crm(), token_id)
    click.echo(f"Revoked token {token_id}")
