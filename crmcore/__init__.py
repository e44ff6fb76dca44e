"""crmcore: a small, plugin-based CRM on SQLite or PostgreSQL.

This package's names are the public API: everything a plugin needs, and all
that the built-in plugins use (``docs/api.md`` documents each one; test
fixtures are in ``crmcore.testing``). Anything imported from a module inside
``crmcore`` instead may change without notice. Names are imported lazily, on
first use, so ``crm --help`` stays fast.
"""

from .hookspecs import API_VERSION, hookimpl, hookspec

# name -> "module:attribute" (module relative to crmcore); "module:" is the module itself.
_PUBLIC = {
    # the CRM and its errors
    "CRM": "app:CRM",
    "CRMError": "errors:CRMError",
    "FieldError": "errors:FieldError",
    "PluginError": "errors:PluginError",
    "StoreError": "errors:StoreError",
    "current_user": "app:current_user",
    # record types and tables
    "record": "schema:record",
    "column": "schema:column",
    "TableSpec": "schema:TableSpec",
    "table_spec": "schema:table_spec",
    "build": "schema:build",
    "decode_row": "schema:decode_row",
    "to_row": "schema:to_row",
    "field_names": "schema:field_names",
    "fields": "schema:fields",
    "field_kind": "schema:field_kind",
    "link_contacts": "migrations:link_contacts",
    "Contact": "entities:Contact",
    "Company": "entities:Company",
    "Deal": "entities:Deal",
    "Activity": "entities:Activity",
    "Order": "entities:Order",
    "OrderLine": "entities:OrderLine",
    "normalize": "normalize:",
    # SQL
    "quote_name": "store:quote_name",
    "SQLiteDialect": "store.sqlite:SQLiteDialect",
    # privacy
    "suppression_key": "privacy:suppression_key",
    "suppression_keys": "privacy:suppression_keys",
    "suppression_checker": "privacy:suppression_checker",
    "suppression_digests": "privacy:suppression_digests",
    "unsubscribe_url": "links:unsubscribe_url",
    # files, import and export
    "atomic_write": "output:atomic_write",
    "written_to": "output:written_to",
    "safe_cell": "output:safe_cell",
    "csv_writer": "output:csv_writer",
    "private_temp": "files:private_temp",
    "put_in_place": "files:put_in_place",
    "progress": "output:progress",
    "read_rows": "importing:read_rows",
    "parse_map": "importing:parse_map",
    "import_records": "importing:import_records",
    "import_contacts": "importing:import_contacts",
    "import_orders": "importing:import_orders",
    "ImportFailed": "importing:ImportFailed",
    "ImportResult": "importing:ImportResult",
    "Reject": "importing:Reject",
    "write_rejects": "importing:write_rejects",
    "export_table": "exporting:export_table",
    "ImportProfile": "import_profiles:ImportProfile",
    # reports and charts
    "render": "reports:render",
    "template_environment": "reports:environment",
    "ReportParam": "reports:ReportParam",
    "data_as_of": "periods:data_as_of",
    "periods": "periods:",
    "report_period": "periods:report_period",
    "charts": "charts:",
    "DEMO_CATALOGUE": "demo:DEMO_CATALOGUE",
    # the web app (crm serve)
    "render_page": "web:render",
    "access": "access:",
    # money in more than one currency
    "base_currency": "currency:base_currency",
    "require_rates": "currency:require_rates",
    "exchange_factor": "currency:exchange_factor",
    # the command line
    "get_crm": "cli:get_crm",
    "crm_for_listing": "cli:crm_for_listing",
    "output_options": "output:output_options",
    "print_rows": "output:print_rows",
    "print_record": "output:print_record",
    "progress_bar": "cli:progress_bar",
    "run_import": "commands:run_import",
    "import_options": "commands:import_options",
    "given": "cli:given",
    "custom_from": "cli:custom_from",
}

__all__ = ["API_VERSION", "hookimpl", "hookspec", *_PUBLIC]


def __getattr__(name):
    try:
        target = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'crmcore' has no attribute {name!r}") from None
    import importlib

    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
