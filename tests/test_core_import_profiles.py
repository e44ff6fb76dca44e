"""Data as it arrives: shop and mail-tool exports recognised from their headers,
Excel workbooks, binary files named, a file's date order learnt from its
values, two columns for one field, and custom attributes by --map.

The fixtures in tests/fixtures/ are written from each vendor's published
columns (see the profile's ``source`` in crmcore/import_profiles.py)."""

import json
import pathlib
import sys
import types

import pytest

from crmcore import hookimpl
from crmcore import CRMError
from crmcore.importing import ImportFailed, import_contacts, import_orders

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def fixture(name):
    return str(FIXTURES / name)


def snapshot(crm):
    return {t: crm.store.query(f"SELECT * FROM {t} ORDER BY id") for t in ("contacts", "companies", "orders", "order_lines")}


def orders_of(crm):
    """{ref: (date, channel, currency, total, email, [(sku, description, quantity, unit_price)])}"""
    found = {}
    for o in crm.store.query("SELECT o.id, o.ref, o.ordered_at, o.channel, o.currency, o.total, c.email FROM orders o "
                             "JOIN contacts c ON c.id = o.contact_id ORDER BY o.id"):
        lines = crm.store.query("SELECT sku, description, quantity, unit_price FROM order_lines WHERE order_id = ? ORDER BY id", (o["id"],))
        found[o["ref"]] = (str(o["ordered_at"])[:10], o["channel"], o["currency"], o["total"], o["email"],
                           [(r["sku"], r["description"], r["quantity"], r["unit_price"]) for r in lines])
    return found


# -- each recognised export, from its fixture ------------------------------------------


def test_shopify_customers_and_orders(crm):
    result = import_contacts(crm, fixture("shopify_customers.csv"))
    assert (result.profile.name, result.created) == ("shopify-customers", 2)
    anna = crm.find_contact("anna.schmidt@example.de")
    assert (anna["street"], anna["city"], anna["country"], anna["region"], anna["postal_code"]) == ("Hauptstraße 5, 2. OG", "Berlin", "DE", "BE", "10115")
    assert anna["phone"] == "+49301234567"  # from "Default Address Phone", the customer's own being blank
    assert anna["tags"] == ["newsletter", "vip"]
    assert (anna["consent"], anna["consent_source"]) == (True, "Shopify customers export (Accepts Email Marketing)")
    assert anna["consent_at"]  # the export has no opt-in time: the time of the import
    assert anna["custom"] == {"shopify_customer_id": "7012345678901", "accepts_sms_marketing": "no", "total_spent": "64.90", "total_orders": "1"}
    tom = crm.find_contact("tom.baker@example.com")
    assert (tom["consent"], tom["consent_at"], tom["phone"], tom["company"]) == (False, None, "+442079460000", "Baker & Co")

    result = import_orders(crm, fixture("shopify_orders.csv"))
    assert (result.profile.name, result.created, len(result.rejected)) == ("shopify-orders", 2, 0)
    assert orders_of(crm) == {
        # Three rows, two orders: the second row of #1001 has blank totals; the
        # date is the shop's own (21:30 at +01:00 is still 11 March there).
        "#1001": ("2026-03-11", "web", "EUR", 64.9, "anna.schmidt@example.de",
                  [("GRD-001", "Garden gloves", 2.0, 12.95), ("GRD-002", "Pruning shears", 1.0, 39.0)]),
        "#1002": ("2026-03-12", "pos", "GBP", 18.0, "tom.baker@example.com", [("SEED-12", "Seed box", 1.0, 18.0)]),
    }
    again = import_orders(crm, fixture("shopify_orders.csv"))
    assert (again.created, again.skipped) == (0, 2)


def test_shopify_customers_earlier_export_prefers_the_country_code(crm):
    result = import_contacts(crm, fixture("shopify_customers_legacy.csv"))
    assert result.profile.name == "shopify-customers"
    assert result.notes == ["columns 'Country' and 'Country Code' both map to country: using 'Country Code' "
                            "('Country Code' holds a code, 'Country' fills in where it is blank)"]
    assert crm.find_contact("jonas.weber@example.at")["country"] == "AT"
    claire = crm.find_contact("claire.dubois@example.fr")
    assert (claire["country"], claire["consent"], claire["consent_source"]) == ("FR", False, "Shopify customers export (Accepts Marketing)")
    assert crm.find_contact("jonas.weber@example.at")["custom"]["province_code"] == "9"


def test_woocommerce_customers_and_orders(crm):
    result = import_contacts(crm, fixture("woocommerce_customers.csv"))
    assert (result.profile.name, result.created, result.extra_columns) == ("woocommerce-customers", 1, [])
    lea = crm.find_contact("lea.vogel@example.de")
    assert (lea["street"], lea["postal_code"], lea["city"], lea["region"], lea["country"], lea["phone"]) == (
        "Elbchaussee 1", "22763", "Hamburg", "HH", "DE", "+49401234567")
    assert lea["custom"] == {"woocommerce_customer_id": "7", "registered_at": "2025-11-02 08:12:00", "total_spent": "49.90", "order_count": "1"}
    assert (lea["consent"], lea["consent_source"]) == (False, "")  # the export has no marketing column

    result = import_orders(crm, fixture("woocommerce_orders.csv"))
    assert (result.profile.name, result.created) == ("woocommerce-orders", 1)
    # One row per item; the unit price is the line total after the coupon over the quantity.
    assert orders_of(crm) == {"412": ("2026-02-20", "web", "EUR", 49.9, "lea.vogel@example.de",
                                      [("GRD-010", "Watering can", 1.0, 22.5), ("GRD-011", "Plant labels (10)", 3.0, 7.5)])}


def test_mailchimp_audience(crm, write_file):
    result = import_contacts(crm, fixture("mailchimp_subscribed.csv"))
    assert (result.profile.name, result.created) == ("mailchimp-audience", 2)
    lea = crm.find_contact("lea@example.fr")
    assert (lea["consent"], lea["consent_at"], lea["consent_source"]) == (True, "2025-02-03T09:20:11", "Mailchimp audience export (subscribed; CONFIRM_TIME)")
    assert (lea["tags"], lea["country"], lea["region"], lea["birth_date"]) == (["Blog", "VIP"], "FR", "IDF", None)
    assert lea["custom"] == {"birthday": "--04-17", "member_rating": "4"}  # a birthday without a year
    sam = crm.find_contact("sam@example.com")
    assert (sam["consent_at"], sam["consent_source"], sam["custom"]["birthday"]) == (
        "2024-11-30T18:00:00", "Mailchimp audience export (subscribed; OPTIN_TIME)", "--12-25")

    unsubscribed = write_file("unsubscribed_members.csv",
                              "Email Address,First Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LEID,EUID,NOTES,TAGS,"
                              "UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER\n"
                              "lea@example.fr,Léa,4,2025-02-03 09:15:00,,2025-02-03 09:20:11,,118000001,a1b2c3d4e5,,,"
                              "2025-06-01 12:00:00,Spring sale,abc123,NORMAL,\n")
    import_contacts(crm, unsubscribed)
    lea = crm.find_contact("lea@example.fr")
    assert (lea["consent"], lea["consent_source"]) == (False, "Mailchimp audience export: unsubscribed at 2025-06-01 12:00:00 UTC")


def test_hubspot_contacts(crm):
    result = import_contacts(crm, fixture("hubspot_contacts.csv"))
    assert (result.profile.name, result.created) == ("hubspot-contacts", 2)
    maria = crm.find_contact("maria.garcia@example.es")
    assert (maria["consent"], maria["consent_source"]) == (True, "HubSpot contacts export (Marketing contact status)")
    assert (maria["country"], maria["owner"], maria["company"], maria["job_title"], maria["phone"]) == ("ES", "Ana López", "Viveros García", "Buyer", "+34912345678")
    assert maria["custom"] == {"hubspot_record_id": "51", "lead_status": "Open", "hubspot_created": "2025-06-01 10:00"}
    piet = crm.find_contact("piet@example.nl")
    assert (piet["consent"], piet["country"]) == (False, "NL")


# -- choosing a profile ------------------------------------------------------------------


def test_profile_forced_unknown_or_the_wrong_kind(crm, write_file):
    with pytest.raises(CRMError, match=r"--profile nope: no contacts import profile of that name \(known: hubspot-contacts, mailchimp-audience"):
        import_contacts(crm, fixture("hubspot_contacts.csv"), profile="nope")
    with pytest.raises(CRMError, match="this looks like a Shopify orders export .*import it with crm orders import"):
        import_contacts(crm, fixture("shopify_orders.csv"))
    # Headers no profile knows are imported as before; --profile forces one.
    path = write_file("plain.csv", "Email,Marketing contact status\nx@example.com,Marketing contact\n")
    assert import_contacts(crm, path).profile is None
    assert crm.find_contact("x@example.com")["custom"] == {"Marketing contact status": "Marketing contact"}
    result = import_contacts(crm, path, profile="hubspot-contacts")
    assert (result.profile.name, crm.find_contact("x@example.com")["consent"]) == ("hubspot-contacts", True)


def test_cli_prints_the_profile_and_lists_them(run_cli):
    assert run_cli(["init"]).exit_code == 0
    result = run_cli(["contacts", "import", fixture("hubspot_contacts.csv")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Recognised a HubSpot export (profile hubspot-contacts: HubSpot: Contacts > Export (a contacts view as CSV))"
    result = run_cli(["contacts", "import", fixture("mailchimp_subscribed.csv"), "--json"])
    assert json.loads(result.output)["profile"] == "mailchimp-audience"
    listed = json.loads(run_cli(["import-profiles", "--json"]).output)
    assert {(p["name"], p["kind"], p["system"]) for p in listed} == {
        ("shopify-customers", "contacts", "Shopify"), ("shopify-orders", "orders", "Shopify"),
        ("woocommerce-customers", "contacts", "WooCommerce"), ("woocommerce-orders", "orders", "WooCommerce"),
        ("mailchimp-audience", "contacts", "Mailchimp"), ("hubspot-contacts", "contacts", "HubSpot")}
    assert all(p["source"] for p in listed)
    result = run_cli(["orders", "import", fixture("hubspot_contacts.csv"), "--profile", "shopify-customers"])
    assert result.exit_code == 1 and "--profile shopify-customers: no orders import profile" in result.output


def test_a_plugin_registers_a_profile(make_crm, write_file):
    from crmcore.import_profiles import ImportProfile

    def till(data, raw):
        data["channel"] = "pos" if raw.get("Till") else "web"
        return data

    plugin = types.ModuleType("crm_myshop_profile")
    plugin.crm_api_version = 1

    @hookimpl
    def crm_register_import_profiles(register):
        register(ImportProfile(name="myshop-orders", kind="orders", system="MyShop", signature=("Order No", "Buyer E-mail"),
                               columns={"Order No": "ref", "Buyer E-mail": "email", "Placed": "ordered_at", "Item Code": "sku",
                                        "Qty": "quantity", "Each": "unit_price", "Till": None},
                               other_columns="ignore", date_format="DMY", transform=till))

    plugin.crm_register_import_profiles = crm_register_import_profiles
    sys.modules[plugin.__name__] = plugin
    try:
        crm = make_crm(plugins=[plugin])
        import_contacts(crm, write_file("c.csv", "email\nbuyer@example.com\n"))
        path = write_file("sales.csv", "Order No,Buyer E-mail,Placed,Item Code,Qty,Each,Till,Cashier\n"
                                       "A-1,buyer@example.com,03/04/2026,X1,2,5.00,3,Kim\nA-2,buyer@example.com,05/04/2026,X2,1,9.50,,\n")
        result = import_orders(crm, path)
        assert result.profile.name == "myshop-orders"
        assert orders_of(crm) == {"A-1": ("2026-04-03", "pos", "EUR", 10.0, "buyer@example.com", [("X1", "", 2.0, 5.0)]),
                                  "A-2": ("2026-04-05", "web", "EUR", 9.5, "buyer@example.com", [("X2", "", 1.0, 9.5)])}
    finally:
        del sys.modules[plugin.__name__]


def test_profile_rows_stay_all_or_nothing_with_rejects_and_dry_run(crm, tmp_path):
    import_contacts(crm, fixture("shopify_customers.csv"))
    crm.store.execute("DELETE FROM contacts WHERE email = ?", ("tom.baker@example.com",))
    before = snapshot(crm)
    with pytest.raises(ImportFailed, match=r"shopify_orders.csv: row 4: email: no contact with e-mail 'tom.baker@example.com'"):
        import_orders(crm, fixture("shopify_orders.csv"))
    assert snapshot(crm) == before
    dry = import_orders(crm, fixture("shopify_orders.csv"), dry_run=True, rejects_path=str(tmp_path / "bad.csv"))
    assert (dry.created, len(dry.rejected)) == (1, 1) and snapshot(crm) == before
    result = import_orders(crm, fixture("shopify_orders.csv"), rejects_path=str(tmp_path / "bad.csv"))
    assert (result.created, len(result.rejected)) == (1, 1)
    assert list(orders_of(crm)) == ["#1001"] and len(orders_of(crm)["#1001"][5]) == 2
    assert (tmp_path / "bad.csv").read_text().splitlines()[1].startswith("4,email,no contact")


# -- Excel workbooks and binary files ------------------------------------------------------


def test_xlsx_contacts_and_orders_keep_cell_types(crm, tmp_path):
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Kunden"
    sheet.append(["E-mail", "Vorname", "PLZ", "Date of birth", "Newsletter", "Kundennummer"])
    sheet.append(["ada@example.com", "Ada", 10115, dt.datetime(1990, 3, 11), True, 4711])
    sheet.append([None, None, None, None, None, None])  # a blank row, as spreadsheets have
    sheet.append(["bob@example.com", "Bob", "01067", "25/12/1985", False, None])
    orders = book.create_sheet("Bestellungen")
    orders.append(["Order", "E-mail", "Date", "SKU", "Qty", "Price"])
    orders.append(["W-1", "ada@example.com", dt.datetime(2026, 11, 3, 14, 30), "GRD-001", 3, 12.5])
    path = str(tmp_path / "kunden.xlsx")
    book.save(path)

    result = import_contacts(crm, path)
    assert (result.created, result.extra_columns) == (2, ["Kundennummer"])
    ada = crm.find_contact("ada@example.com")
    # A date cell is a date (no day/month guessing); 10115 stays a postal code, not 10115.0.
    assert (str(ada["birth_date"]), ada["postal_code"], ada["consent"], ada["custom"]) == ("1990-03-11", "10115", True, {"Kundennummer": 4711})
    bob = crm.find_contact("bob@example.com")
    assert (str(bob["birth_date"]), bob["postal_code"], bob["consent"]) == ("1985-12-25", "01067", False)

    result = import_orders(crm, path, sheet="Bestellungen")
    assert result.created == 1
    assert orders_of(crm) == {"W-1": ("2026-11-03", "", "EUR", 37.5, "ada@example.com", [("GRD-001", "", 3.0, 12.5)])}
    with pytest.raises(CRMError, match=r"kunden.xlsx: no sheet named 'Orders' \(sheets: Kunden, Bestellungen\)"):
        import_orders(crm, path, sheet="Orders")


def test_xlsx_through_the_cli(run_cli, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Email", "First Name"])
    book.active.append(["cli@example.com", "Cleo"])
    path = str(tmp_path / "book.xlsx")
    book.save(path)
    assert run_cli(["init"]).exit_code == 0
    result = run_cli(["contacts", "import", path, "--dry-run"])
    assert result.exit_code == 0 and "book.xlsx: 1 created" in result.output
    result = run_cli(["contacts", "import", fixture("hubspot_contacts.csv"), "--sheet", "Sheet1"])
    assert result.exit_code == 1 and "--sheet applies to Excel workbooks (.xlsx) only" in result.output


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "this is an Excel 97-2003 workbook (.xls) or another old Office file, not a CSV, JSON or Excel (.xlsx) file; open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx) or as CSV UTF-8"),
        ("customers.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "this is a PDF document"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this is a PNG image"),
        ("scan.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "this is a JPEG image"),
        ("export.csv.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed"),
    ],
)
def test_binary_files_are_named_not_decoded(crm, write_file, name, content, says):
    before = snapshot(crm)
    with pytest.raises(CRMError) as err:
        import_contacts(crm, write_file(name, content))
    text = str(err.value)
    assert says in text and name in text and "\n" not in text and "UTF-8 text" not in text
    assert snapshot(crm) == before


def test_zip_files_that_are_not_workbooks(crm, tmp_path):
    import zipfile

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("subscribed_members_export.csv", "Email Address\na@example.com\n")
    with pytest.raises(CRMError, match=r"export.zip: this is a ZIP archive \(holding subscribed_members_export.csv\), not a CSV or Excel file; unpack it"):
        import_contacts(crm, str(archive))
    ods = tmp_path / "sheet.ods"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<x/>")
    with pytest.raises(CRMError, match=r"sheet.ods: this is an OpenDocument spreadsheet \(.ods\), not a CSV or Excel \(.xlsx\) file; open it and save it as CSV UTF-8"):
        import_contacts(crm, str(ods))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip at all")
    with pytest.raises(CRMError, match="broken.xlsx: not a readable Excel workbook"):
        import_contacts(crm, str(broken))


# -- dates -------------------------------------------------------------------------------


def test_date_order_learnt_from_a_later_value(crm, write_file):
    # Row 2 alone could be 11 March or 3 November; row 4 can only be day first.
    path = write_file("dmy.csv", "email,birth_date\na@example.com,11/03/1990\nb@example.com,\nc@example.com,25/12/1985\n")
    import_contacts(crm, path)
    assert str(crm.find_contact("a@example.com")["birth_date"]) == "1990-03-11"
    path = write_file("mdy.csv", "email,birth_date\nd@example.com,11/03/1990\ne@example.com,12/25/1985\n")
    import_contacts(crm, path)
    assert str(crm.find_contact("d@example.com")["birth_date"]) == "1990-11-03"
    assert str(crm.find_contact("e@example.com")["birth_date"]) == "1985-12-25"


def test_an_ambiguous_file_is_refused_until_the_order_is_given(crm, write_file):
    path = write_file("ambiguous.csv", "email,birth_date\na@example.com,11/03/1990\nb@example.com,01/02/1985\n")
    before = snapshot(crm)
    with pytest.raises(CRMError) as err:
        import_contacts(crm, path)
    assert str(err.value) == (f"{path}: dates such as '11/03/1990' could be day/month/year or month/day/year and no value "
                              "in the file settles it; give the order with --date-format DMY|MDY|YMD")
    assert snapshot(crm) == before
    import_contacts(crm, path, date_format="MDY")
    assert [str(crm.find_contact(e)["birth_date"]) for e in ("a@example.com", "b@example.com")] == ["1990-11-03", "1985-01-02"]
    with pytest.raises(CRMError, match="--date-format 'MD' must be one of DMY, MDY, YMD"):
        import_contacts(crm, path, date_format="MD")


def test_dates_that_break_the_files_order_are_rejected_by_row(crm, write_file):
    path = write_file("mixed.csv", "email,birth_date\na@example.com,25/03/1990\nb@example.com,03/25/1985\n")
    with pytest.raises(ImportFailed, match=r"row 3: birth_date: date '03/25/1985' does not fit the file's day/month/year order"):
        import_contacts(crm, path)


def test_order_dates_and_times_with_offsets(crm, write_file):
    import_contacts(crm, write_file("c.csv", "email\nada@example.com\n"))
    path = write_file("o.csv", "ref,email,ordered_at,sku,quantity,unit_price\n"
                               "1,ada@example.com,03.11.2026,A,1,5\n2,ada@example.com,2026-11-04 23:30:00 -0500,A,1,5\n")
    import_orders(crm, path)
    assert {ref: o[0] for ref, o in orders_of(crm).items()} == {"1": "2026-11-03", "2": "2026-11-04"}
    path = write_file("o2.csv", "ref,email,ordered_at,sku\n3,ada@example.com,04/05/2026,A\n")
    with pytest.raises(CRMError, match="--date-format DMY"):
        import_orders(crm, path)
    import_orders(crm, path, date_format="DMY")
    assert orders_of(crm)["3"][0] == "2026-05-04"


def test_birthdays_without_a_year(crm, write_file):
    path = write_file("b.csv", "email,birthday\na@example.com,17.04.\nb@example.com,--02-29\nc@example.com,1980-06-01\n")
    import_contacts(crm, path)
    assert crm.find_contact("a@example.com")["custom"] == {"birthday": "--04-17"}
    assert crm.find_contact("b@example.com")["custom"] == {"birthday": "--02-29"}
    c = crm.find_contact("c@example.com")
    assert (str(c["birth_date"]), c["custom"]) == ("1980-06-01", {})
    # A month and day alone are not enough for the file's order either.
    with pytest.raises(CRMError, match="dates such as '05/06'"):
        import_contacts(crm, write_file("b2.csv", "email,birthday\nd@example.com,05/06\n"))


# -- custom attributes and two columns for one field -------------------------------------------


def test_map_to_custom_attributes(crm, write_file, run_cli):
    path = write_file("k.csv", "E-Mail,Kundennummer,Filiale\nada@example.com,K-100,Nord\n")
    import_contacts(crm, path, mapping={"Kundennummer": "custom", "Filiale": "custom.branch"})
    assert crm.find_contact("ada@example.com")["custom"] == {"Kundennummer": "K-100", "branch": "Nord"}
    with pytest.raises(CRMError, match="these records have no custom attributes"):
        import_orders(crm, write_file("o.csv", "ref,email,Kasse\n1,ada@example.com,3\n"), mapping={"Kasse": "custom"})

    assert run_cli(["init"]).exit_code == 0
    result = run_cli(["contacts", "import", path, "--map", "Kundennummer=custom.customer_no", "--map", "Filiale=-"])
    assert result.exit_code == 0, result.output
    shown = json.loads(run_cli(["contacts", "list", "--json"]).output)
    assert [c["custom"] for c in shown] == [{"customer_no": "K-100"}]


def test_two_columns_for_one_field(crm, write_file):
    # --map beats a recognised spelling: the user chose.
    path = write_file("two.csv", "Email,E-Mail Address,Land,Country Code\nold@example.com,new@example.com,Deutschland,\n")
    result = import_contacts(crm, path, mapping={"E-Mail Address": "email"})
    assert crm.find_contact("new@example.com")["country"] == "DE"
    assert result.notes == [
        "columns 'Email' and 'E-Mail Address' both map to email: using 'E-Mail Address' ('E-Mail Address' was named with --map, 'Email' is left out)",
        "columns 'Land' and 'Country Code' both map to country: using 'Country Code' ('Country Code' holds a code, 'Land' fills in where it is blank)",
    ]
    # Neither more precise: still refused, with the way out.
    with pytest.raises(CRMError, match="columns 'Email' and 'E-Mail Address' both map to 'email'; use --map to choose"):
        import_contacts(crm, path)


def test_a_single_ambiguous_date_is_never_guessed():
    from crmcore import normalize

    assert str(normalize.date("25/12/2020")) == str(normalize.date("12/25/2020")) == "2020-12-25"
    assert str(normalize.date("11.03.2026")) == "2026-03-11"  # dotted: day first everywhere
    with pytest.raises(ValueError, match=r"ambiguous date '11/03/2026': day/month or month/day\? \(use YYYY-MM-DD\)"):
        normalize.date("11/03/2026")
