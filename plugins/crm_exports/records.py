"""Records of the exports plugin: the export log."""

from attrs import define

from crmcore import column, normalize as n, record


@record("export_log")
@define(kw_only=True)
class ExportLog:
    """One audience written to a file: what, when, by whom, how many, and the
    file's SHA-256 so a copy found later can be matched to its export. Which
    contacts it held is in ``export_log_contacts``."""

    id: int | None = column(converter=n.optional(n.integer))
    format: str = column("", converter=n.text, index=True)
    segment: str = column("", converter=n.text, description="segment name, or empty for --all")
    exported_at: str | None = column(converter=n.optional(n.timestamp), index=True)
    user: str = column("", converter=n.text)
    path: str = column("", converter=n.long_text, description="absolute path of the file written")
    row_count: int = column(0, converter=n.integer)
    sha256: str = column("", converter=n.text, description="SHA-256 of the file written")
    excluded: dict = column(dict, converter=n.json_object, description="contacts left out, per reason")
    options: dict = column(dict, converter=n.json_object)
