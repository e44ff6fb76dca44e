"""Contact values as the export formats want them: E.164 phones and English
country names. A leaf module: the formats and the vCard writer both use it."""

import functools
import re


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def e164(phone, country=None):
    """The phone as E.164 (``+4930123456``) or ``""`` when it cannot be one.

    Stored phones are already E.164 when the contact had a country; others
    are parsed with the contact's country as a last try."""
    if not phone:
        return ""
    if _E164.fullmatch(phone):
        return phone
    if not country:
        return ""
    from crmcore import normalize

    try:
        value = normalize.phone(phone, country)
    except ValueError:
        return ""
    return value if _E164.fullmatch(value) else ""


@functools.lru_cache(maxsize=None)
def country_name(code):
    """English name of an ISO 3166-1 alpha-2 code (HubSpot wants names)."""
    if not code:
        return ""
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return getattr(found, "common_name", None) or (found.name if found else code)
