"""Import profiles: the exports of the systems our users come from, recognised
from their header row alone.

A profile says which system wrote a file (Shopify, WooCommerce, Mailchimp,
HubSpot), which of its columns go to which field, and how a row of that export
becomes a contact or an order line: consent with its source and time, a
channel, a unit price from a line total. ``crm contacts import`` and ``crm
orders import`` pick the profile whose signature columns the file has (the
most specific one wins), print which, and take ``--profile NAME`` to force
one; ``--map`` still overrides any single column.

Detection looks at the header once per file, never per row. Each profile's
``transform`` runs once per row on the already mapped values, so it is kept to
a few dictionary look-ups.

A plugin adds a profile with the ``crm_register_import_profiles(register)``
hook::

    from crmcore import hookimpl
    from crmcore.import_profiles import ImportProfile

    @hookimpl
    def crm_register_import_profiles(register):
        register(ImportProfile(name="myshop-orders", kind="orders", system="MyShop",
                               signature=("Order No", "Buyer E-mail"),
                               columns={"Order No": "ref", "Buyer E-mail": "email", "Placed": "ordered_at"}))

Column targets are a field name, ``custom.NAME`` (a custom attribute of a
contact) or ``None`` (the column is left out).
"""

import csv
import re

import attrs

KINDS = ("contacts", "orders")


@attrs.frozen
class ImportProfile:
    """One export format.

    ``signature``: headers that together identify the export (compared as the
    importer compares headers: case, spaces, ``-_./`` do not matter).
    ``columns``: header -> field, ``custom.NAME`` or ``None`` (left out).
    ``other_columns``: what happens to the file's other columns: ``"custom"``
    (kept as custom attributes of a contact, the importer's default, and
    common header spellings still apply) or ``"ignore"`` (only ``columns``,
    field names and ``--map`` count). ``date_format``: the export's date order (``YMD``...) when
    the vendor documents one. ``transform(data, raw)``: called per row with the
    mapped values and the original cells; returns the values to import.
    ``source``: where the columns come from (help page, sample), shown by
    ``crm import-profiles``."""

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    system: str
    signature: tuple = attrs.field(converter=tuple)
    columns: dict = attrs.field(factory=dict)
    description: str = ""
    source: str = ""
    other_columns: str = attrs.field(default="custom", validator=attrs.validators.in_(("custom", "ignore")))
    date_format: str | None = None
    transform: object = None
    plugin: str = "core"

    def as_dict(self):
        return {"name": self.name, "kind": self.kind, "system": self.system, "description": self.description,
                "signature": list(self.signature), "date_format": self.date_format, "source": self.source,
                "plugin": self.plugin}


def registered(crm):
    """Every profile of the enabled plugins (the core's included), by name."""
    found = {}

    def register(profile):
        if not isinstance(profile, ImportProfile):
            raise TypeError(f"register() takes an ImportProfile, not {type(profile).__name__}")
        found[profile.name] = profile

    crm.emit("crm_register_import_profiles", register=register)
    return found


def _key(text):
    # As the importer compares headers (crmcore.importing._header_key).
    return re.sub(r"[\s_\-./]+", "", str(text)).casefold()


def detect(profiles, headers, kind):
    """The profile of ``kind`` whose signature the headers have (the one with
    the longest signature if several do), else ``None``."""
    keys = {_key(h) for h in headers}
    best = None
    for p in profiles.values():
        if p.kind == kind and p.signature and all(_key(s) in keys for s in p.signature):
            if best is None or len(p.signature) > len(best.signature):
                best = p
    return best


def detect_other_kind(profiles, headers, kind):
    """A profile of the other kind the file matches: a Shopify orders export
    given to ``crm contacts import`` gets a pointer instead of a mapping error."""
    other = "orders" if kind == "contacts" else "contacts"
    return detect(profiles, headers, other)


# -- helpers for transforms --------------------------------------------------------


def _blank(value):
    return value is None or (type(value) is str and not value.strip())


def _first(raw, *headers):
    for h in headers:
        v = raw.get(h)
        if not _blank(v):
            return v
    return None


def _join(*parts):
    return ", ".join(str(p).strip() for p in parts if not _blank(p))


def _yes_no(value, field):
    from . import normalize
    from .schema import FieldError

    try:
        return normalize.boolean(value)
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def _timestamp(value, field):
    from . import dates, normalize
    from .schema import FieldError

    try:
        return normalize.timestamp(dates.convert(value, "YMD"))
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def _number(value, field):
    from . import normalize
    from .schema import FieldError

    try:
        return normalize.number(value)
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


# -- Shopify ------------------------------------------------------------------------

SHOPIFY_CUSTOMERS_SOURCE = (
    "Shopify Help Center, 'Exporting customers' and the customer CSV column descriptions "
    "(help.shopify.com/en/manual/customers/import-export-customers, "
    "help.shopify.com/en/manual/migrating-to-shopify/transporter-app/csv-customers); "
    "both the admin export of 2024 onwards ('Customer ID', 'Default Address ...', 'Accepts Email Marketing') "
    "and the earlier one ('Company', 'Address1', 'Country Code', 'Accepts Marketing')"
)


def _shopify_customer(data, raw):
    address2 = _first(raw, "Default Address Address2", "Address2")
    if address2:
        data["street"] = _join(data.get("street"), address2)
    if _blank(data.get("phone")):
        phone = _first(raw, "Default Address Phone")
        if phone:
            data["phone"] = phone
    column = "Accepts Email Marketing" if "Accepts Email Marketing" in raw else "Accepts Marketing"
    if column in raw:
        data["consent"] = _yes_no(raw[column], column)
        data["consent_source"] = f"Shopify customers export ({column})"
    return data


SHOPIFY_CUSTOMERS = ImportProfile(
    name="shopify-customers",
    kind="contacts",
    system="Shopify",
    description="Shopify admin: Customers > Export (CSV for Excel, Numbers or other programs)",
    source=SHOPIFY_CUSTOMERS_SOURCE,
    signature=("First Name", "Last Name", "Email", "Total Spent", "Total Orders", "Tax Exempt"),
    columns={
        "Customer ID": "custom.shopify_customer_id",
        "Email": "email", "First Name": "first_name", "Last Name": "last_name",
        "Company": "company", "Default Address Company": "company",
        "Address1": "street", "Default Address Address1": "street",
        "Address2": None, "Default Address Address2": None,
        "City": "city", "Default Address City": "city",
        "Province": "region", "Province Code": "custom.province_code", "Default Address Province Code": "region",
        "Country": "country", "Country Code": "country", "Default Address Country Code": "country",
        "Zip": "postal_code", "Default Address Zip": "postal_code",
        "Phone": "phone", "Default Address Phone": None,
        "Accepts Email Marketing": None, "Accepts Marketing": None,
        "Accepts SMS Marketing": "custom.accepts_sms_marketing",
        "Total Spent": "custom.total_spent", "Total Orders": "custom.total_orders",
        "Note": "notes", "Tags": "tags", "Tax Exempt": None,
    },
    transform=_shopify_customer,
)

SHOPIFY_ORDERS_SOURCE = (
    "Shopify Help Center, 'Exporting orders' (help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders) "
    "and the order CSV column descriptions "
    "(help.shopify.com/en/manual/migrating-to-shopify/transporter-app/csv-orders); one row per line item, "
    "order-level columns (Total, Currency, Financial Status ...) blank on an order's later rows; times as "
    "'2025-10-07 09:50:26 +0200' (a public sample: docs.xbp.app, 'Shopify order export format'); admin export of 2025"
)


def _shopify_order(data, raw):
    source = data.get("channel")
    if not _blank(source):
        data["channel"] = "pos" if str(source).strip().lower() == "pos" else "web"
    return data


SHOPIFY_ORDERS = ImportProfile(
    name="shopify-orders",
    kind="orders",
    system="Shopify",
    description="Shopify admin: Orders > Export (one row per line item)",
    source=SHOPIFY_ORDERS_SOURCE,
    signature=("Name", "Email", "Financial Status", "Lineitem quantity", "Lineitem name"),
    columns={
        "Name": "ref", "Email": "email", "Created at": "ordered_at", "Currency": "currency", "Total": "total",
        "Lineitem quantity": "quantity", "Lineitem name": "description", "Lineitem price": "unit_price",
        "Lineitem sku": "sku", "Source": "channel",
    },
    other_columns="ignore",
    date_format="YMD",
    transform=_shopify_order,
)


# -- WooCommerce ----------------------------------------------------------------------

WOO_SOURCE = (
    "WooCommerce Customer / Order / Coupon Export extension, built-in 'Default' CSV formats "
    "(woocommerce.com/document/ordercustomer-csv-export/, its developer documentation "
    "woocommerce.com/document/ordercustomer-csv-export-developer-documentation/, and the column list of "
    "woocommerce.com/document/import-and-export-of-woocommerce-orders/); version 5.x, column keys "
    "'guaranteed to never change' per its developer documentation"
)


def _woo_customer(data, raw):
    address2 = _first(raw, "billing_address_2")
    if address2:
        data["street"] = _join(data.get("street"), address2)
    if _blank(data.get("email")):
        email = _first(raw, "billing_email")
        if email:
            data["email"] = email
    return data


WOOCOMMERCE_CUSTOMERS = ImportProfile(
    name="woocommerce-customers",
    kind="contacts",
    system="WooCommerce",
    description="WooCommerce > Export (Customer / Order / Coupon Export): customers, default CSV format",
    source=WOO_SOURCE,
    signature=("customer_id", "user_login", "email", "billing_first_name", "billing_country"),
    columns={
        "customer_id": "custom.woocommerce_customer_id", "user_login": None, "email": "email",
        "first_name": "first_name", "last_name": "last_name", "date_registered": "custom.registered_at",
        "billing_first_name": None, "billing_last_name": None, "billing_full_name": None,
        "billing_company": "company", "billing_email": None, "billing_phone": "phone",
        "billing_address_1": "street", "billing_address_2": None, "billing_postcode": "postal_code",
        "billing_city": "city", "billing_state": "region", "billing_state_code": None, "billing_country": "country",
        "total_spent": "custom.total_spent", "order_count": "custom.order_count",
        **{f"shipping_{c}": None for c in ("first_name", "last_name", "full_name", "company", "address_1", "address_2",
                                            "postcode", "city", "state", "state_code", "country")},
    },
    transform=_woo_customer,
)


def _woo_order(data, raw):
    # The format gives the line's total after discounts; the unit price is
    # that over the quantity, so the lines add up to what was paid.
    line_total = raw.get("item_total")
    if not _blank(line_total):
        quantity = _number(data.get("quantity") or 1, "item_quantity")
        if quantity > 0:
            data["unit_price"] = round(_number(line_total, "item_total") / quantity, 4)
    data["channel"] = "web"
    return data


WOOCOMMERCE_ORDERS = ImportProfile(
    name="woocommerce-orders",
    kind="orders",
    system="WooCommerce",
    description="WooCommerce > Export (Customer / Order / Coupon Export): orders, 'Default - One Row per Item' CSV format",
    source=WOO_SOURCE,
    signature=("order_number", "order_date", "billing_email", "item_name", "item_quantity"),
    columns={
        "order_number": "ref", "order_date": "ordered_at", "order_currency": "currency", "order_total": "total",
        "billing_email": "email", "item_sku": "sku", "item_name": "description", "item_quantity": "quantity",
    },
    other_columns="ignore",
    date_format="YMD",
    transform=_woo_order,
)


# -- Mailchimp ------------------------------------------------------------------------

MAILCHIMP_SOURCE = (
    "Mailchimp Help, 'View or export an audience' (mailchimp.com/help/view-export-contacts/): the export ZIP holds "
    "subscribed, unsubscribed and cleaned CSVs with the audience's merge fields ('Email Address', 'First Name', "
    "'Birthday' as MM/DD ...) followed by MEMBER_RATING, OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, LATITUDE, "
    "LONGITUDE, GMTOFF, DSTOFF, TIMEZONE, CC, REGION, LAST_CHANGED, LEID, EUID, NOTES, TAGS (UNSUB_* or CLEAN_* "
    "in the unsubscribed and cleaned files); column order and TAGS as '\"VIP\",\"Blog\"' checked against public "
    "sample exports in open-source test suites; audience export of 2024-2025"
)


def _mailchimp(data, raw):
    tags = data.get("tags")
    if type(tags) is str and tags.strip():
        data["tags"] = [t.strip() for t in next(csv.reader([tags], skipinitialspace=True)) if t.strip()]
    if "UNSUB_TIME" in raw:
        data["consent"] = False
        when = _first(raw, "UNSUB_TIME")
        data["consent_source"] = "Mailchimp audience export: unsubscribed" + (f" at {when} UTC" if when else "")
    elif "CLEAN_TIME" in raw:
        data["consent"] = False
        data["consent_source"] = "Mailchimp audience export: cleaned (address bounced)"
    else:
        # A member of the subscribed file opted in; CONFIRM_TIME is when a
        # double opt-in was confirmed, OPTIN_TIME when the form was sent.
        column = "CONFIRM_TIME" if not _blank(raw.get("CONFIRM_TIME")) else "OPTIN_TIME"
        data["consent"] = True
        data["consent_source"] = f"Mailchimp audience export (subscribed; {column})"
        when = raw.get(column)
        if not _blank(when):
            data["consent_at"] = _timestamp(when, column)
    return data


MAILCHIMP_AUDIENCE = ImportProfile(
    name="mailchimp-audience",
    kind="contacts",
    system="Mailchimp",
    description="Mailchimp: Audience > Export audience (subscribed, unsubscribed or cleaned members CSV)",
    source=MAILCHIMP_SOURCE,
    signature=("Email Address", "MEMBER_RATING", "OPTIN_TIME", "LEID"),
    columns={
        "Email Address": "email", "First Name": "first_name", "Last Name": "last_name",
        "Phone Number": "phone", "Birthday": "birth_date", "Address": "custom.address", "Company": "company",
        "CC": "country", "REGION": "region", "NOTES": "notes", "TAGS": "tags",
        "MEMBER_RATING": "custom.member_rating",
        **{c: None for c in ("OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF",
                             "DSTOFF", "TIMEZONE", "LAST_CHANGED", "LEID", "EUID", "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE",
                             "UNSUB_CAMPAIGN_ID", "UNSUB_REASON", "UNSUB_REASON_OTHER", "CLEAN_TIME",
                             "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID")},
    },
    transform=_mailchimp,
)


# -- HubSpot --------------------------------------------------------------------------

HUBSPOT_SOURCE = (
    "HubSpot Knowledge Base, 'Export your records' (knowledge.hubspot.com/import-and-export/export-records) and "
    "'Set contacts as marketing contacts' (knowledge.hubspot.com/records/set-contacts-as-marketing): a contacts "
    "view exported as CSV, default columns Record ID, First Name, Last Name, Email, Phone Number, Contact owner, "
    "Lead Status, Marketing contact status, Create Date; HubSpot CRM of 2024-2025. 'Marketing contact status' is "
    "HubSpot's own marketing flag, not a record of opt-in: review consent after importing"
)

_HUBSPOT_MARKETING = {"marketing contact": True, "set as marketing": True, "true": True, "yes": True,
                      "non-marketing contact": False, "set as non-marketing": False, "false": False, "no": False, "": False}


def _hubspot(data, raw):
    from .schema import FieldError

    column = "Marketing contact status"
    if column in raw:
        value = str(raw[column] or "").strip().casefold()
        if value not in _HUBSPOT_MARKETING:
            raise FieldError(column, f"{raw[column]!r} is neither 'Marketing contact' nor 'Non-marketing contact'")
        data["consent"] = _HUBSPOT_MARKETING[value]
        data["consent_source"] = f"HubSpot contacts export ({column})"
    optout = raw.get("Unsubscribed from all email")
    if not _blank(optout) and _yes_no(optout, "Unsubscribed from all email"):
        data["consent"] = False
        data["consent_source"] = "HubSpot contacts export (Unsubscribed from all email)"
    return data


HUBSPOT_CONTACTS = ImportProfile(
    name="hubspot-contacts",
    kind="contacts",
    system="HubSpot",
    description="HubSpot: Contacts > Export (a contacts view as CSV)",
    source=HUBSPOT_SOURCE,
    signature=("Record ID", "Email", "Contact owner"),
    columns={
        "Record ID": "custom.hubspot_record_id", "Email": "email", "First Name": "first_name", "Last Name": "last_name",
        "Phone Number": "phone", "Mobile Phone Number": "custom.mobile_phone", "Contact owner": "owner",
        "Lead Status": "custom.lead_status", "Lifecycle Stage": "custom.lifecycle_stage",
        "Marketing contact status": None, "Unsubscribed from all email": None,
        "Create Date": "custom.hubspot_created", "Last Activity Date": None,
        "Company Name": "company", "Job Title": "job_title", "Street Address": "street", "City": "city",
        "State/Region": "region", "Postal Code": "postal_code", "Country/Region": "country",
    },
    transform=_hubspot,
)

BUILTIN = (SHOPIFY_CUSTOMERS, SHOPIFY_ORDERS, WOOCOMMERCE_CUSTOMERS, WOOCOMMERCE_ORDERS, MAILCHIMP_AUDIENCE, HUBSPOT_CONTACTS)
