"""Every hook of the CRM, one empty function each: the docstring is the contract.

Plugin authors implement these with ``@crmcore.hookimpl``. Arguments are passed
by keyword, so an implementation names only the arguments it needs.

Registration hooks receive a ``register`` callback and are called once per CRM
object for every *enabled* plugin. Event hooks run inside the write's
transaction: if an implementation raises, the whole write is rolled back and
the error names the plugin and the hook.

``docs/hooks.md`` is generated from this module (``python -m crmcore.docgen``).
"""

import pluggy

#: Major version of the hook API. A plugin declares the version it was written
#: for as a module attribute ``crm_api_version``; a different major is refused.
API_VERSION = 1

hookspec = pluggy.HookspecMarker("crm")
hookimpl = pluggy.HookimplMarker("crm")


# -- Registration hooks ------------------------------------------------------


@hookspec
def crm_register_record_types(register):
    """Register attrs record classes decorated with ``crmcore.schema.record``.

    ``register(cls)``. Their tables are created and evolved by migrations
    (``crmcore.schema.ensure_table``); the class also drives import validation,
    JSON/CSV output and the fields reports may use."""


@hookspec
def crm_register_migrations(register):
    """Register schema migrations in order: ``register(fn)``.

    ``fn(store)`` is applied once per database and recorded under the plugin's
    name and ``fn.__name__`` (use ``mNNN_what_it_does``). Never drop a table
    holding user data."""


@hookspec
def crm_register_commands(cli):
    """Add click commands or groups to the top-level ``crm`` group ``cli``.

    ``cli.add_lazy_command(name, "package.module:attribute", help)`` names a
    command that is imported only when it runs; ``help`` is its one line in
    ``crm --help``, so listing commands imports none of them.
    ``parent="contacts"`` adds it to an existing group instead.
    ``cli.add_command(command)`` works too, but then every ``crm`` call
    imports the command's module. Commands get the open CRM with
    ``crmcore.cli.get_crm()``. Commands of a disabled plugin are hidden."""


@hookspec
def crm_register_reports(register):
    """Register HTML reports: ``register(name, template, description, context, params=None)``.

    ``context(crm, params) -> dict`` builds the template variables; ``params``
    is a dict of ``--param key=value`` strings. ``template`` is a file name
    found on the template search path. ``params``, a list of
    ``crmcore.ReportParam`` (or dicts of its fields: name, label, type,
    default, choices, ...), declares what the report takes: ``--param`` is
    checked against it before ``context`` runs, and ``crm serve`` shows it as
    the report's form. Without it the context gets every ``--param`` as given."""


@hookspec
def crm_register_template_dirs(register):
    """Add a folder of Jinja2 templates: ``register(path)``.

    Searched after the user's folder and before the core templates."""


@hookspec
def crm_register_dashboard_sections(register):
    """Add a section to the ``dashboard`` report: ``register(title, template, context)``.

    ``template`` is a template file rendered inside the dashboard, where
    ``context(crm) -> dict`` is available as ``ctx``."""


@hookspec
def crm_register_import_aliases(register):
    """Teach the importer header spellings: ``register(table, {"E-Mail": "email"})``.

    Matching ignores case, spaces, dashes and underscores."""


@hookspec
def crm_register_segment_fields(register, store):
    """Add fields usable in segment rules.

    ``register(name, sql, type, description="")``: ``sql`` is a SQL expression
    over the contact row aliased ``c`` (e.g. a correlated sub-select); ``type``
    is one of ``text``, ``number``, ``date``, ``bool`` or ``set`` (``sql``
    then selects the values of the contact, and ``==``/``in`` mean membership).
    Names must be plain identifiers; the SQL is the plugin's, never user text.
    ``store.dialect`` gives the SQL that differs between stores (optional argument)."""


@hookspec
def crm_register_jobs(crm, register):
    """Register work that ``crm run-due`` (run from cron or a systemd timer)
    does when it is due: ``register(name, run, every, description="")``.

    ``run(crm)`` (or ``"module:function"``, imported when the job runs) does
    the work and returns a one-line summary (or ``None``);
    raising marks the run failed (a ``CRMError``'s message is shown as is)
    while the other jobs still run. ``every`` is the interval: ``"15m"``,
    ``"6h"``, ``"1d"``, ``"7d"``. ``crm`` is there to read settings: register
    a job only when it is configured. ``crm jobs`` lists each job's last run."""


@hookspec
def crm_register_export_formats(register):
    """Add marketing export formats: ``register(name, writer, description)``.

    ``writer(contacts, fileobj, options)`` writes the audience; ``contacts`` is
    an iterable of contact dicts that already passed consent and suppression."""


# -- Queries between plugins ----------------------------------------------------


@hookspec(firstresult=True)
def crm_segment_contact_ids(crm, name):
    """Contact ids of the segment called ``name``, or ``None`` if unknown.

    Implemented by the segments plugin; other plugins call
    ``crm.segment_contact_ids(name)`` instead of importing it."""


@hookspec(firstresult=True)
def crm_segment_names(crm):
    """Names of every segment, in order, for reports that break figures down by segment.

    Implemented by the segments plugin; other plugins call
    ``crm.segment_names()``."""


# -- Event hooks ------------------------------------------------------------


@hookspec
def crm_records_saved(crm, table, records):
    """Records were inserted or updated in ``table``.

    Called once per batch (``records`` is a list of row dicts including
    ``id``), inside the write's transaction."""


@hookspec
def crm_records_deleted(crm, table, ids):
    """Rows with these ids are about to be deleted from ``table`` (a batch)."""


@hookspec
def crm_deal_stage_changed(crm, deal, old_stage, new_stage):
    """A deal moved between pipeline stages; ``deal`` is the row dict after the move."""


@hookspec
def crm_contacts_merged(crm, keep_id, duplicate_id):
    """Move this plugin's records of ``duplicate_id`` to ``keep_id``.

    Called before the duplicate contact is deleted."""


@hookspec
def crm_contact_erased(crm, contact_id, email):
    """Remove every piece of personal data this plugin holds on the contact.

    Called before the core deletes the contact. May return a list of short
    notes for the person running the erasure (e.g. where the contact's data
    had been sent), which ``crm contacts erase`` prints."""


@hookspec
def crm_demo_data(crm, rng, contact_ids):
    """Add this plugin's sample data to a demo database.

    ``rng`` is a seeded ``random.Random``; ``contact_ids`` are the demo contacts.
    Called after core demo data (contacts, companies, deals, orders) exists."""


@hookspec
def crm_contact_facts(crm, contact):
    """What a salesperson should know about a contact before a call, beyond
    its own fields (``crm contacts show``, the contact's web page): return a
    dict of short labels to values, e.g. ``{"segments": "vip, germans",
    "last NPS": 9}``; keep it to a few cheap queries.

    ``contact`` is the contact's decoded row. Called for enabled plugins only."""


@hookspec
def crm_contact_timeline(crm, contact):
    """Events of one contact for its timeline (``crm contacts timeline``, the
    contact's web page): return a list of dicts with ``at`` (ISO date or
    timestamp), ``kind`` (a short word such as ``order`` or ``survey``) and
    ``summary`` (one line), optionally ``ref`` (an id to look it up by).

    ``contact`` is the contact's decoded row. Called for enabled plugins only;
    the core adds activities, orders with their lines, deals and the audit trail."""


# -- Web (crm serve) ------------------------------------------------------------


@hookspec
def crm_contact_scope(crm, user):
    """Contacts a user with a territory-limited role (``sales``) may see, beyond those they own.

    ``user`` is the logged-in user dict (``email``, ``name``, ``role``,
    ``territories``). Return ``(sql, params)``, a SQL condition over the
    contact row aliased ``c`` with bound ``?`` parameters, or a set of contact
    ids, or ``None`` for no opinion. Answers of all plugins are combined with
    OR, together with the core's rule (contacts whose ``owner`` is the user's
    e-mail or name); ``crmcore.access`` applies the result to every list, get
    and search, on both stores. Implemented by the segments plugin from the
    user's territories."""


@hookspec
def crm_register_routes(register):
    """Add pages to ``crm serve``: ``register(path, endpoint, permission, methods=("GET",))``.

    ``path`` is a Starlette path (``/things/{id:int}``); ``endpoint(request)``
    returns a Starlette response (``crmcore.web.render(request, template, context)``
    renders a template found on the template search path). ``request.state.crm``
    is the open CRM and ``request.state.user`` the logged-in user dict.
    ``permission`` is one of ``crmcore.access.PERMISSIONS``' names
    (``"contacts:read"``...), ``"login"`` (any logged-in user) or ``"public"``
    (no login; only for paths under ``/s/`` or ``/unsubscribe/``, the only
    ones ``crm serve --public-only`` serves). A POST is refused without the
    session's ``csrf_token`` form field, except on public paths, whose token
    in the URL is the secret."""


@hookspec
def crm_register_permissions(register):
    """Declare a permission for a plugin's pages: ``register(name, roles, description="")``.

    ``name`` looks like ``"exports:download"``; ``roles`` lists the roles that
    hold it (``admin`` holds every permission). Routes, menu items and contact
    panels registered by any plugin may then require it."""


@hookspec
def crm_register_menu_items(register):
    """Add an entry to the web app's menu: ``register(label, path, permission)``.

    Shown only to users holding ``permission``."""


@hookspec
def crm_register_static(register):
    """Serve a folder of the plugin's own files (CSS, images, fonts) in ``crm serve``: ``register(directory)``.

    A file ``directory/app.css`` is served at ``/static/plugins/PLUGIN/app.css``
    (``PLUGIN`` is the plugin's name, as in ``crm plugins list``), with the
    core's static files' headers and access: no login needed, and paths
    outside the folder refused. The CSP allows only the CRM's own address, so
    this is how a plugin's pages get their styles; a disabled plugin's files
    are not served. One folder per plugin."""


@hookspec
def crm_register_contact_panels(register):
    """Add a panel to the contact page: ``register(title, template, context, permission="contacts:read")``.

    ``context(crm, user, contact) -> dict`` builds the variables of
    ``template``, rendered inside the page (``contact`` is the decoded row)."""


# -- Import formats -----------------------------------------------------------


@hookspec
def crm_register_import_profiles(register):
    """Teach the importer another system's export: ``register(ImportProfile(...))``.

    A profile (``crmcore.import_profiles.ImportProfile``) names the system, the
    header columns that identify its export (``signature``), where each column
    goes and, optionally, a per-row ``transform``. ``crm contacts import`` and
    ``crm orders import`` recognise it from a file's header row and print its
    name; ``--profile NAME`` forces it; ``crm import-profiles`` lists them all."""
