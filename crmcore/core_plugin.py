"""The core registers its own records, migrations and reports through the same
hooks a plugin uses: there is no private path. Imports of the record
classes wait for the hooks that need them (``crm --help`` never does)."""

from .hookspecs import hookimpl

CONTACT_ALIASES = {
    "e-mail": "email", "email address": "email", "e-mail address": "email", "mail": "email", "emailaddress": "email",
    "first name": "first_name", "firstname": "first_name", "given name": "first_name", "vorname": "first_name",
    "last name": "last_name", "lastname": "last_name", "surname": "last_name", "family name": "last_name", "nachname": "last_name",
    "phone number": "phone", "telephone": "phone", "mobile": "phone", "tel": "phone", "telefon": "phone",
    "company name": "company", "organization": "company", "organisation": "company", "account": "company", "firma": "company",
    "title": "job_title", "position": "job_title", "job": "job_title",
    "address": "street", "street address": "street", "address 1": "street", "straße": "street", "strasse": "street",
    "town": "city", "ort": "city", "stadt": "city", "state": "region", "province": "region", "state/province": "region",
    "zip": "postal_code", "zip code": "postal_code", "zipcode": "postal_code", "postcode": "postal_code", "plz": "postal_code",
    "country code": "country", "country/region": "country", "land": "country",
    "birthday": "birth_date", "date of birth": "birth_date", "dob": "birth_date", "geburtsdatum": "birth_date", "geburtstag": "birth_date",
    "sex": "gender", "lead source": "source", "channel": "source", "contact owner": "owner", "sales rep": "owner",
    "labels": "tags", "tag": "tags", "opt-in": "consent", "optin": "consent", "marketing consent": "consent",
    "newsletter": "consent", "accepts marketing": "consent", "note": "notes", "comments": "notes",
}

ORDER_ALIASES = {
    "order": "ref", "order id": "ref", "order number": "ref", "order no": "ref", "order ref": "ref", "name": "ref",
    "date": "ordered_at", "order date": "ordered_at", "created at": "ordered_at", "purchase date": "ordered_at",
    "e-mail": "email", "email address": "email", "customer email": "email", "customer id": "contact_id",
    "product sku": "sku", "item sku": "sku", "lineitem sku": "sku", "article": "sku", "product id": "sku",
    "product": "description", "item": "description", "lineitem name": "description", "product name": "description",
    "qty": "quantity", "lineitem quantity": "quantity", "amount": "quantity",
    "price": "unit_price", "unit price": "unit_price", "lineitem price": "unit_price",
    "order total": "total", "sales channel": "channel", "source": "channel",
}


@hookimpl
def crm_register_record_types(register):
    from . import entities

    for cls in entities.CORE_RECORD_TYPES:
        register(cls)


@hookimpl
def crm_register_migrations(register):
    from .core_migrations import MIGRATIONS

    for fn in MIGRATIONS:
        register(fn)


@hookimpl
def crm_register_jobs(crm, register):
    # Backups with retention, once a folder is set: crm settings set backup.folder DIR
    if crm.store.kind == "sqlite" and crm.get_setting("backup.folder"):
        register("backup", "crmcore.jobs:backup_job", crm.get_setting("backup.every") or "1d",
                 "a backup into backup.folder, keeping the newest backup.keep (default 7)")


@hookimpl
def crm_register_import_aliases(register):
    register("contacts", CONTACT_ALIASES)
    register("orders", ORDER_ALIASES)


@hookimpl
def crm_register_import_profiles(register):
    from .import_profiles import BUILTIN

    for profile in BUILTIN:
        register(profile)


@hookimpl
def crm_register_reports(register):
    from . import dashboard, report_params
    from .team import context as team_context

    register("dashboard", "dashboard.html", "The whole CRM on one page: contacts, pipeline, revenue and every plugin's section", dashboard.context,
             params=report_params.DASHBOARD)
    register("team", "team.html", "The team's work: activities and tasks per owner and week, overdue tasks, deals won per owner, "
             "lead sources and what they bought", team_context, params=report_params.TEAM)
    register("accounts", "accounts.html", "Wholesale accounts: revenue, reorder interval, and the accounts whose next reorder is late",
             dashboard.accounts_context, params=report_params.ACCOUNTS)


@hookimpl
def crm_register_segment_fields(register, store):
    from .accounts import segment_fields

    segment_fields(register, store)


@hookimpl
def crm_contact_timeline(crm, contact):
    from .timeline import core_events

    return core_events(crm, contact)
