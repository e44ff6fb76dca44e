"""Issue 16, item 4: every CSV the CRM or its HTML writes is spreadsheet-safe.
The OWASP payload list goes through each writer: the rejects file, survey
invitation lists, the survey form's own CSV download (its JavaScript, run in
node), contact exports and ``--csv`` listings."""

import contextlib
import csv
import io
import json
import shutil
import subprocess

import pytest

import crm_surveys
from crm_surveys.form import render_form
from crm_surveys.invitations import CSV_FIELDS, new_token, write_csv
from crmcore.entities import Contact
from crmcore.exporting import export_table
from crmcore.importing import ImportFailed, import_contacts
from crmcore.output import print_rows, safe_cell
from crmcore.testing import OWASP_CSV_PAYLOADS, formula_cells


def read_csv(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def read_file(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_rejects_file_defuses_every_payload(crm, write_file, tmp_path):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["email", "first_name", "city"])
    writer.writerows([f"bad-{i}", p, p] for i, p in enumerate(OWASP_CSV_PAYLOADS))
    writer.writerows([p, "x", "y"] for p in OWASP_CSV_PAYLOADS)  # the payload as the (invalid) e-mail
    rejects = tmp_path / "rejects.csv"
    with contextlib.suppress(ImportFailed):  # rejected rows fail the import; the rejects file is still written
        import_contacts(crm, write_file("in.csv", text.getvalue()), rejects_path=str(rejects))
    rows = read_file(rejects)
    assert len(rows) == 2 * len(OWASP_CSV_PAYLOADS)  # every row but "=2+5@example.com", a valid address
    assert formula_cells(rows) == []
    assert "'@SUM(1+1)" in [cell for row in rows for cell in row]  # defused, not dropped


def test_invitation_list_defuses_every_payload_in_every_column(tmp_path):
    rows = [{f: p for f in CSV_FIELDS} for p in OWASP_CSV_PAYLOADS]
    write_csv(rows, str(tmp_path / "inv.csv"))
    parsed = read_file(tmp_path / "inv.csv")
    assert formula_cells(parsed) == []
    assert parsed[1 + OWASP_CSV_PAYLOADS.index("=2+5@example.com")][0] == "'=2+5@example.com"


def test_new_tokens_never_start_like_a_formula(monkeypatch):
    values = iter(["-starts-with-dash", "=x", "fine-token"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: next(values))
    assert new_token(set()) == "fine-token"  # so the invitation list never has to alter one


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the form's JavaScript")
def test_survey_form_csv_download_defuses_every_payload(make_crm):
    from crm_surveys.definitions import create_survey, get_survey

    crm = make_crm(plugins=[crm_surveys])
    create_survey(crm, "f", "F", [{"key": "comment", "type": "text", "text": "Anything?"}], "https://x.example/f")
    html = render_form(crm, get_survey(crm, "f"))
    start = html.index("function cell(")
    source = html[start:html.index("\n", start)]
    script = source + "\nconst vs = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n" \
        "process.stdout.write(vs.map(v => cell(v)).join(',') + '\\r\\n');\n"
    out = subprocess.run(["node", "-e", script], input=json.dumps(OWASP_CSV_PAYLOADS + ["+4930123456", "plain"]).encode(),
                         capture_output=True, check=True).stdout.decode()
    [row] = read_csv(out)
    assert row == [safe_cell(p) for p in OWASP_CSV_PAYLOADS] + ["+4930123456", "plain"]  # the one rule, in both languages


def test_contact_exports_and_csv_listings_defuse_every_payload(crm, tmp_path, capsys):
    crm.add_many([Contact(email=f"p{i}@example.com", first_name=p, notes=p, city=p[:50].replace("\n", " "))
                  for i, p in enumerate(OWASP_CSV_PAYLOADS)])
    export_table(crm, "contacts", str(tmp_path / "all.csv"), "csv")
    assert formula_cells(read_file(tmp_path / "all.csv")) == []
    print_rows(crm.store.query("SELECT first_name, notes FROM contacts"), ["first_name", "notes"], "csv")
    assert formula_cells(read_csv(capsys.readouterr().out)) == []


def test_every_csv_export_format_defuses_every_payload(make_crm, tmp_path):
    import crm_exports
    from crm_exports.exporter import export, list_formats

    crm = make_crm(plugins=[crm_exports])
    crm.add_many([Contact(email=f"p{i}@example.com", first_name=p, last_name=p, city=p[:60].replace("\n", " "),
                          tags=[p.strip() or "x"], consent=True) for i, p in enumerate(OWASP_CSV_PAYLOADS)])
    checked = []
    for fmt in [f["name"] for f in list_formats(crm)]:
        out = tmp_path / f"{fmt}.out"
        export(crm, fmt, str(out), everyone=True)
        head = out.read_bytes()[:200]
        if head.startswith((b"[", b"{", b"BEGIN:VCARD")):
            continue  # JSON and vCard: exact values, no spreadsheet reads them as formulas
        assert formula_cells(read_file(out)) == [], fmt
        checked.append(fmt)
    assert len(checked) >= 4  # mailchimp, hubspot, google-customer-match, meta-custom-audience, csv
