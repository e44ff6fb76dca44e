"""Realistic, reproducible sample data: the same seed gives the same CRM.

Names, cities and phone formats per country, companies, a pipeline of deals,
activities and about five orders per contact over three years with lines
from ``DEMO_CATALOGUE`` (which the products plugin turns into its
catalogue). Plugins add their data through ``crm_demo_data``.
"""

import datetime as dt
import random

from .entities import Activity, Company, Contact, Deal, Order, OrderLine

COUNTRIES = {
    # code: (weight, first names, last names, [(city, region, postal prefix)], phone prefix, national digits)
    "DE": (30, ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lea", "Paul", "Hannah", "Jürgen", "Käthe", "Maximilian"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch"],
           [("Berlin", "Berlin", "10"), ("Hamburg", "Hamburg", "20"), ("München", "Bayern", "80"), ("Köln", "Nordrhein-Westfalen", "50"), ("Leipzig", "Sachsen", "04")],
           "+49 151 ", 8),
    "AT": (8, ["Lena", "Tobias", "Katharina", "Florian", "Julia", "Stefan"], ["Gruber", "Huber", "Bauer", "Wagner", "Pichler", "Steiner"],
           [("Wien", "Wien", "10"), ("Graz", "Steiermark", "80"), ("Linz", "Oberösterreich", "40")], "+43 664 ", 7),
    "CH": (6, ["Luca", "Mia", "Noah", "Elena", "Matteo", "Lara"], ["Meier", "Keller", "Brunner", "Zürcher", "Frei", "Gerber"],
           [("Zürich", "ZH", "80"), ("Basel", "BS", "40"), ("Genève", "GE", "12")], "+41 79 ", 7),
    "US": (20, ["James", "Emily", "Michael", "Olivia", "David", "Ava", "Daniel", "Mia"], ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "O'Connor"],
           [("New York", "NY", "100"), ("Austin", "TX", "787"), ("Seattle", "WA", "981"), ("Chicago", "IL", "606")], "+1 212 555 ", 4),
    "GB": (12, ["Oliver", "Amelia", "Harry", "Isla", "George", "Freya"], ["Taylor", "Evans", "Wilson", "Thomas", "Roberts", "Walker"],
           [("London", "England", "SW1"), ("Manchester", "England", "M1"), ("Edinburgh", "Scotland", "EH1")], "+44 7700 900", 3),
    "FR": (10, ["Léa", "Hugo", "Chloé", "Louis", "Camille", "Gabriel"], ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard"],
           [("Paris", "Île-de-France", "75"), ("Lyon", "Auvergne-Rhône-Alpes", "69"), ("Marseille", "Provence-Alpes-Côte d'Azur", "13")], "+33 6 ", 8),
    "NL": (6, ["Daan", "Emma", "Sem", "Tess", "Lars", "Fleur"], ["de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser"],
           [("Amsterdam", "Noord-Holland", "10"), ("Utrecht", "Utrecht", "35"), ("Rotterdam", "Zuid-Holland", "30")], "+31 6 ", 8),
    "ES": (5, ["Lucía", "Hugo", "Martina", "Mateo", "Paula", "Álvaro"], ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez"],
           [("Madrid", "Madrid", "28"), ("Barcelona", "Cataluña", "08"), ("Valencia", "Valencia", "46")], "+34 6", 8),
    "SE": (3, ["Elsa", "William", "Alice", "Lucas", "Maja", "Oskar"], ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson"],
           [("Stockholm", "Stockholm", "11"), ("Göteborg", "Västra Götaland", "41")], "+46 70 ", 7),
}

#: The demo shop's catalogue: (sku, name, category, price, cost, weight kg). The
#: products plugin builds its demo catalogue from this list.
DEMO_CATALOGUE = [
    ("GRD-001", "Garden hose 25 m", "Garden", 39.90, 18.20, 2.4),
    ("GRD-002", "Hose reel", "Garden", 59.00, 27.50, 4.1),
    ("GRD-003", "Pruning shears", "Garden", 24.50, 9.80, 0.3),
    ("GRD-004", "Raised bed kit", "Garden", 129.00, 71.00, 18.0),
    ("GRD-005", "Organic compost 40 l", "Garden", 8.90, 3.10, 20.0),
    ("KIT-001", "Chef's knife 20 cm", "Kitchen", 79.00, 31.00, 0.25),
    ("KIT-002", "Cutting board oak", "Kitchen", 34.00, 12.40, 1.2),
    ("KIT-003", "Cast iron pan 28 cm", "Kitchen", 64.90, 26.00, 2.9),
    ("KIT-004", "Knife sharpener", "Kitchen", 19.90, 6.20, 0.2),
    ("KIT-005", "Coffee grinder", "Kitchen", 89.00, 41.00, 1.1),
    ("OUT-001", "Camping stove", "Outdoor", 49.00, 22.00, 0.9),
    ("OUT-002", "Gas cartridge 450 g", "Outdoor", 7.50, 2.90, 0.7),
    ("OUT-003", "Headlamp 300 lm", "Outdoor", 29.90, 11.00, 0.1),
    ("OUT-004", "Sleeping bag -5 °C", "Outdoor", 119.00, 58.00, 1.6),
    ("OUT-005", "Trekking poles", "Outdoor", 69.00, 29.00, 0.5),
    ("HOM-001", "Linen bed set", "Home", 99.00, 42.00, 1.4),
    ("HOM-002", "Wool throw", "Home", 59.00, 23.00, 0.9),
    ("HOM-003", "Scented candle", "Home", 14.90, 4.10, 0.4),
    ("HOM-004", "Desk lamp", "Home", 45.00, 19.00, 1.3),
    ("HOM-005", "Storage baskets (3)", "Home", 29.00, 11.50, 1.0),
]

# Items bought together more often than chance, so cross-selling has signal.
COMPANIONS = {"GRD-001": "GRD-002", "KIT-001": "KIT-004", "OUT-001": "OUT-002", "KIT-003": "KIT-002", "HOM-001": "HOM-002"}
CHANNELS = ["web", "web", "web", "store", "store", "phone", "marketplace"]
SOURCES = ["website", "newsletter", "trade fair", "referral", "google ads", "social", "store"]
OWNERS = ["alice", "bob", "carla", "deniz"]
INDUSTRIES = ["Retail", "Hospitality", "Landscaping", "Wholesale", "Catering", "Facilities"]
#: The currency each demo country's customers pay in, and about what one euro
#: bought in it over the demo's years (the ECB's reference rates, rounded).
CURRENCY_OF = {"CH": "CHF", "US": "USD", "GB": "GBP", "SE": "SEK"}
EURO_RATES = {"CHF": 0.95, "USD": 1.09, "GBP": 0.86, "SEK": 11.4}


def demo_rates(start, end):
    """Daily ``(base, currency, day, rate)`` from ``start`` to ``end``, working
    days only (a weekend order takes Friday's rate), drifting smoothly around
    ``EURO_RATES``; no random draws, so the seed's data stays the same."""
    import math

    rows, day = [], start
    while day <= end:
        if day.weekday() < 5:
            n = day.toordinal()
            for i, (code, rate) in enumerate(sorted(EURO_RATES.items())):
                drift = 0.035 * math.sin(n / 97.0 + i) + 0.012 * math.sin(n / 13.0 + 2 * i)
                rows.append(("EUR", code, day.isoformat(), round(rate * (1 + drift), 4)))
        day += dt.timedelta(days=1)
    return rows


def local_price(price, currency):
    """A demo catalogue price (euros) on the price list of ``currency``: .90 endings, whole kronor."""
    if currency == "EUR":
        return price
    value = price * EURO_RATES[currency]
    return float(max(1, round(value, -1)) - 1) if currency == "SEK" else max(0.9, round(value) - 0.1)


COMPANY_SUFFIX = {"DE": "GmbH", "AT": "GmbH", "CH": "AG", "US": "Inc.", "GB": "Ltd", "FR": "SARL", "NL": "B.V.", "ES": "S.L.", "SE": "AB"}


def _ascii(text):
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum() and ord(c) < 128).lower()


def generate(crm, n_contacts=1000, seed=42, progress=False, today=None):
    """Create demo records through the normal write path; returns counts."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    start = today - dt.timedelta(days=3 * 365)
    codes = list(COUNTRIES)
    weights = [COUNTRIES[c][0] for c in codes]
    counts = {}

    # Demo data adds to what is there: numbers in names, e-mails, domains and
    # order refs continue after the highest one already in use.
    company_base = _highest(crm, "SELECT domain AS v FROM companies WHERE domain LIKE '%.example'", r"-(\d+)\.example")
    contact_base = _highest(crm, "SELECT email AS v FROM contacts WHERE email LIKE '%@example.%'", r"\.(\d+)@example\.")
    order_base = max(100000, _highest(crm, "SELECT ref AS v FROM orders WHERE ref LIKE 'SO-%'", r"SO-(\d+)"))

    n_companies = max(1, n_contacts // 12)
    companies = []
    for i in range(company_base, company_base + n_companies):
        code = rng.choices(codes, weights)[0]
        _, _, last, cities, _, _ = COUNTRIES[code]
        city, region, postal = rng.choice(cities)
        name = f"{rng.choice(last)} {rng.choice(['Garten', 'Küchen', 'Outdoor', 'Home', 'Trading', 'Supplies'])} {COMPANY_SUFFIX[code]} {i + 1}"
        companies.append(Company(name=name, domain=f"{_ascii(name.split()[0])}-{i + 1}.example", industry=rng.choice(INDUSTRIES),
                                 size=rng.choice(["1-10", "11-50", "51-200", "201-1000"]), city=city, region=region,
                                 postal_code=postal + str(rng.randint(100, 999)), country=code, owner=rng.choice(OWNERS)))
    company_ids = crm.add_many(companies)
    counts["companies"] = len(company_ids)

    contacts = []
    days_span = (today - start).days
    for i in range(contact_base, contact_base + n_contacts):
        code = rng.choices(codes, weights)[0]
        _, first, last, cities, phone_prefix, digits = COUNTRIES[code]
        fn, ln = rng.choice(first), rng.choice(last)
        city, region, postal = rng.choice(cities)
        company_index = rng.randrange(n_companies) if rng.random() < 0.35 else None
        created = start + dt.timedelta(days=int(days_span * rng.random() ** 0.8))
        consent = rng.random() < 0.7
        contacts.append(Contact(
            first_name=fn, last_name=ln, email=f"{_ascii(fn)}.{_ascii(ln)}.{i + 1}@example.{'com' if code in ('US', 'GB') else code.lower()}",
            phone=phone_prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits)) if rng.random() < 0.8 else None,
            company=companies[company_index].name if company_index is not None else "",
            company_id=company_ids[company_index] if company_index is not None else None,
            job_title=rng.choice(["", "Owner", "Buyer", "Head chef", "Office manager", "Gardener"]),
            street=f"{rng.choice(['Main', 'Park', 'Station', 'Lake', 'Hill'])} {rng.choice(['Street', 'Road', 'Avenue'])} {rng.randint(1, 120)}",
            city=city, region=region, postal_code=postal + str(rng.randint(100, 999)), country=code,
            birth_date=dt.date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.6 else None,
            gender=_gender(fn, rng.choice(["female", "male", "female", "male", "diverse", ""])), source=rng.choice(SOURCES),
            owner=rng.choice(OWNERS), tags=rng.sample(["vip", "newsletter", "b2b", "wholesale", "garden", "kitchen", "outdoor"], rng.randint(0, 2)),
            consent=consent, consent_at=f"{created.isoformat()}T10:00:00" if consent else None,
            consent_source="signup form" if consent else "",
            created_at=f"{created.isoformat()}T09:00:00", updated_at=f"{created.isoformat()}T09:00:00",
        ))
    contact_ids = []
    with _bar(progress, len(contacts), "Demo contacts") as bar:
        for i in range(0, len(contacts), 2000):
            contact_ids.extend(crm.add_many(contacts[i:i + 2000]))
            bar.update(min(2000, len(contacts) - i))
    counts["contacts"] = len(contact_ids)
    created_of = {cid: c.created_at[:10] for cid, c in zip(contact_ids, contacts)}

    stages = [s for s, _ in crm.stages]
    open_stages = [s for s in stages if s not in ("won", "lost")] or stages
    deals = []
    for _ in range(max(1, n_contacts // 5)):
        cid = rng.choice(contact_ids)
        stage = rng.choices(open_stages + ["won", "lost"], [5] * len(open_stages) + [4, 3])[0]
        status = stage if stage in ("won", "lost") else "open"
        amount = round(rng.lognormvariate(7.5, 0.9), -1)
        opened = dt.date.fromisoformat(created_of[cid])
        # random draws in the order they always had: the same seed gives the same data
        title = f"{rng.choice(['Spring', 'Summer', 'Autumn', 'Winter'])} order {rng.choice(['garden', 'kitchen', 'outdoor', 'home'])} range"
        owner = rng.choice(OWNERS)
        expected = today + dt.timedelta(days=rng.randint(5, 120)) if status == "open" else None
        # a deal closes after it was opened, and not after today
        closed = min(today, opened + dt.timedelta(days=rng.randint(5, 60))) if status != "open" else None
        deals.append(Deal(title=title, contact_id=cid, amount=amount, currency="EUR", stage=stage, owner=owner, status=status,
                          expected_close=expected, closed_at=closed,
                          created_at=f"{opened.isoformat()}T10:00:00", updated_at=f"{(closed or opened).isoformat()}T10:00:00"))
    counts["deals"] = len(crm.add_many(deals))

    activities = []
    for _ in range(int(n_contacts * 1.5)):
        cid = rng.choice(contact_ids)
        kind = rng.choice(["call", "email", "meeting", "note", "task"])
        when = dt.date.fromisoformat(created_of[cid]) + dt.timedelta(days=rng.randint(0, 400))
        done = when <= today and (kind != "task" or rng.random() < 0.6)
        channel = rng.choice(["phone", "email", "store", "web", "social"])
        channel = {"call": "phone", "email": "email"}.get(kind, channel)  # calls are on the phone, e-mails by e-mail
        activities.append(Activity(contact_id=cid, kind=kind, channel=channel,
                                   subject=rng.choice(["Asked about delivery times", "Quote follow-up", "Complaint: late parcel", "Product advice", "Catalogue request", "Reorder reminder"]),
                                   owner=rng.choice(OWNERS), due_at=f"{when.isoformat()}T11:00:00" if kind == "task" else None,
                                   done_at=f"{min(when, today).isoformat()}T11:30:00" if done else None))
    counts["activities"] = len(crm.add_many(activities))

    # Customers pay in their country's currency; the rates convert their orders to the base currency.
    from .currency import store_rates

    store_rates(crm, demo_rates(start - dt.timedelta(days=7), today), "demo")
    currency_of = {cid: CURRENCY_OF.get(c.country, "EUR") for cid, c in zip(contact_ids, contacts)}
    orders, lines_per_order = [], []
    for cid in contact_ids:
        first_day = max(start, dt.date.fromisoformat(created_of[cid]))
        span = max(1, (today - first_day).days)
        for _ in range(min(15, max(0, int(rng.gammavariate(2.0, 2.5))))):
            day = first_day + dt.timedelta(days=rng.randrange(span))
            lines = []
            for _ in range(rng.choices([1, 2, 3, 4], [50, 30, 15, 5])[0]):
                sku, name, _, price, _, _ = rng.choice(DEMO_CATALOGUE)
                lines.append(OrderLine(sku=sku, description=name, quantity=rng.choice([1, 1, 1, 2, 3]),
                                       unit_price=local_price(price, currency_of[cid])))
                if sku in COMPANIONS and rng.random() < 0.5:
                    mate = next(p for p in DEMO_CATALOGUE if p[0] == COMPANIONS[sku])
                    lines.append(OrderLine(sku=mate[0], description=mate[1], quantity=1, unit_price=local_price(mate[3], currency_of[cid])))
            total = round(sum(l.quantity * l.unit_price for l in lines), 2)
            orders.append(Order(ref=f"SO-{order_base + len(orders) + 1}", contact_id=cid, ordered_at=day, channel=rng.choice(CHANNELS),
                                currency=currency_of[cid], total=total))
            lines_per_order.append(lines)
    with _bar(progress, len(orders), "Demo orders") as bar:
        n_lines = 0
        for i in range(0, len(orders), 5000):
            ids = crm.add_many(orders[i:i + 5000])
            batch = []
            for oid, lines in zip(ids, lines_per_order[i:i + 5000]):
                for line in lines:
                    line.order_id = oid
                    batch.append(line)
            n_lines += len(crm.add_many(batch))
            bar.update(len(ids))
    counts["orders"] = len(orders)
    counts["order lines"] = n_lines

    with crm.store.transaction():
        crm.emit("crm_demo_data", crm=crm, rng=rng, contact_ids=contact_ids)
    return counts


#: First names of the demo that are usually given to girls; the others to boys.
FEMALE_NAMES = {"Anna", "Sophie", "Marie", "Lea", "Hannah", "Käthe", "Lena", "Katharina", "Julia", "Mia", "Elena", "Lara",
                "Emily", "Olivia", "Ava", "Amelia", "Isla", "Freya", "Léa", "Chloé", "Camille", "Emma", "Tess", "Fleur",
                "Lucía", "Martina", "Paula", "Elsa", "Alice", "Maja"}


def _gender(first_name, drawn):
    """The gender that goes with a demo first name; "diverse" and unknown ("") stay as drawn."""
    if drawn in ("female", "male"):
        return "female" if first_name in FEMALE_NAMES else "male"
    return drawn


def _highest(crm, sql, pattern):
    """The highest number ``pattern`` (one group) finds in the values of ``sql``; 0 if none."""
    import re

    found = (re.search(pattern, str(r["v"] or "")) for r in crm.store.query(sql))
    return max((int(m.group(1)) for m in found if m), default=0)


def _bar(show, length, label):
    from .output import progress

    return progress(length, label, show)

