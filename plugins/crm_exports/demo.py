"""Demo data of the exports plugin: a few months of logged audience exports,
so the dashboard's marketing-exports section shows what a shop really does."""

import datetime as dt
import os
import tempfile

#: (months ago, format, file name): the monthly newsletter audience and an ads audience.
DEMO_EXPORTS = [(3, "mailchimp", "newsletter"), (2, "mailchimp", "newsletter"), (2, "meta-custom-audience", "lookalike-seed"),
                (1, "mailchimp", "newsletter"), (0, "google-customer-match", "customer-match")]


def add_demo_exports(crm, rng, today=None):
    """Run the real exports (consent and suppression rules apply) into a
    temporary folder, and date their log entries back; writes no files."""
    from .exporter import export

    if crm.store.count("export_log") or not crm.store.count("contacts"):
        return
    today = today or dt.date.today()
    vip = crm.store.query_value("SELECT 1 FROM segments WHERE name = 'vip'") if "segments" in crm.store.table_names() else None
    runs = sorted((today - dt.timedelta(days=30 * months_ago + rng.randrange(3, 8)), fmt, name) for months_ago, fmt, name in DEMO_EXPORTS)
    with tempfile.TemporaryDirectory(prefix="crm-demo-exports-") as folder:
        for day, fmt, name in runs:  # oldest first, so the log's order is the order of time
            file_name = f"{name}-{day.strftime('%Y-%m')}.csv"
            segment = "vip" if vip and name == "lookalike-seed" else None
            result = export(crm, fmt, os.path.join(folder, file_name), segment=segment, everyone=segment is None)
            crm.store.execute("UPDATE export_log SET exported_at = ?, path = ? WHERE id = ?",
                              (f"{day.isoformat()}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00",
                               f"exports/{file_name}", result.log_id))
