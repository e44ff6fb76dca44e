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


FILTERS = {"number": number, "money": money, "percent": percent}
