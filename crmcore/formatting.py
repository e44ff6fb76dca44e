"""Jinja2 filters for numbers, money and dates in reports."""


def number(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def money(value, currency="EUR"):
    if value is None:
        return "–"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")
    return f"{symbol}{value:,.0f}" if abs(value) >= 1000 else f"{symbol}{value:,.2f}"


def percent(value, digits=0):
    if value is None:
        return "–"
    return f"{value:.{digits}f}%"


FILTERS = {"number": number, "money": money, "percent": percent}
