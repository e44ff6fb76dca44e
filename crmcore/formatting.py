"""Jinja2 filters for numbers, money and dates in reports."""


def number(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def money(value, currency="EUR"):
    if value is None:
        return "–"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}.get(currency, currency + " ")
    return f"{symbol}{value:,.0f}" if abs(value) >= 1000 else f"{symbol}{value:,.2f}"


def money_in(base):
    """The ``money`` filter of a CRM: amounts without a currency of their own
    are in the base currency (``crm settings set base_currency``)."""

    def money_filter(value, currency=None):
        return money(value, currency or base)

    return money_filter


def percent(value, digits=0):
    if value is None:
        return "–"
    return f"{value:.{digits}f}%"


def quantity(value, digits=2):
    """A quantity without needless decimals: ``3.0`` -> ``3``, ``2.50`` -> ``2.5``,
    ``1234.0`` -> ``1,234``, ``0.3333`` -> ``0.33`` (at most ``digits`` decimals)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return yesno(value)
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{amount:,.{digits}f}"
    if digits:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def yesno(value, words="yes,no"):
    """A boolean as a word (``True`` -> ``yes``); ``words`` is ``"yes-word,no-word"``."""
    if value is None:
        return "–"
    yes, _, no = str(words).partition(",")
    if isinstance(value, str):
        value = value.strip().lower() not in ("", "0", "false", "no", "off")
    return yes if value else no


def cell(value):
    """Any value as a table cell reads it: ``–`` for nothing, a word for a boolean, a fraction
    without needless decimals, whole numbers and text as they are."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return yesno(value)
    if isinstance(value, float):
        return quantity(value)
    return str(value)


FILTERS = {"number": number, "money": money, "percent": percent, "quantity": quantity, "yesno": yesno, "cell": cell}
