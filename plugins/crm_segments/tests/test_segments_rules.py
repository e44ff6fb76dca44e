"""The rule language: parsing, every operator against real rows, errors with
positions, and property tests that user text never reaches the SQL."""

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crm_segments
from crm_segments.fields import build_fields
from crm_segments.rules import Bool, Not, RuleError, SegmentRef, Condition, compile_rule, parse
from crm_segments.segments import compile_segment_rule
from crmcore import hookimpl
from crmcore.entities import Contact, Order, OrderLine

TODAY = dt.date(2025, 6, 30)


class FakeFields:
    """Stands in for the products/surveys plugins' registered fields."""

    crm_plugin_name = "fakefields"

    @hookimpl
    def crm_register_segment_fields(self, register, store):
        register("bought_sku", "SELECT l.sku FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.contact_id = c.id", "set",
                 "SKUs bought")
        register("points", f"CAST({store.dialect.json_field('c.custom', 'points')} AS REAL)", "number", "loyalty points")


@pytest.fixture
def shop(make_crm):
    """Five contacts with orders; expected memberships are worked out by hand."""
    crm = make_crm(plugins=[crm_segments, FakeFields()])
    ids = crm.add_many([
        Contact(first_name="Ada", email="ada@example.com", country="DE", city="Berlin", birth_date="1990-07-01",
                tags=["vip", "garden"], consent=True, custom={"points": 120}, created_at="2024-01-05T10:00:00"),
        Contact(first_name="Bo", email="bo@example.com", country="AT", city="Wien", birth_date="1960-06-30", tags=["b2b"],
                created_at="2024-03-01T10:00:00"),
        Contact(first_name="Cy", email="cy@example.com", country="US", city="Austin", tags=[], created_at="2025-01-01T10:00:00"),
        Contact(first_name="Di", email="di@example.com", country=None, city="", tags=["garden"], custom={"points": 5}),
        Contact(first_name="Ed", email="ed@example.com", country="DE", city="München", birth_date="2000-12-31", tags=["vip"]),
    ])
    # Ada: 3 orders, 600 total, last 2025-06-20; Bo: 1 order 100 on 2025-01-10; Cy: 1 order 50 on 2025-06-30.
    order_ids = crm.add_many([
        Order(contact_id=ids[0], ordered_at="2025-01-15", total=100.0),
        Order(contact_id=ids[0], ordered_at="2025-03-15", total=200.0),
        Order(contact_id=ids[0], ordered_at="2025-06-20", total=300.0),
        Order(contact_id=ids[1], ordered_at="2025-01-10", total=100.0),
        Order(contact_id=ids[2], ordered_at="2025-06-30", total=50.0),
    ])
    crm.add_many([
        OrderLine(order_id=order_ids[0], sku="GRD-001", quantity=1, unit_price=100),
        OrderLine(order_id=order_ids[3], sku="KIT-001", quantity=2, unit_price=50),
        OrderLine(order_id=order_ids[4], sku="GRD-001", quantity=1, unit_price=50),
    ])
    crm.ids = dict(zip("abcde", ids))
    return crm


def names(crm, rule):
    sql, params = compile_segment_rule(crm, rule, TODAY)
    rows = crm.store.query(f"SELECT first_name FROM contacts WHERE id IN ({sql}) ORDER BY id", params)
    return [r["first_name"] for r in rows]


# -- parsing ------------------------------------------------------------------


def test_parse_builds_a_tree_with_precedence():
    tree = parse('a == 1 or not b in ("x", \'y\') and segment("vip")')
    assert isinstance(tree, Bool) and tree.op == "or"
    left, right = tree.items
    assert left == Condition("a", "=", (1,), False, 1, left.value_pos)
    assert right.op == "and"
    assert isinstance(right.items[0], Not) and right.items[0].item.values == ("x", "y")
    assert right.items[1] == SegmentRef("vip", 35)


def test_keywords_are_case_insensitive_and_strings_take_escapes():
    tree = parse(r'city == "O\"Hare" AND NOT tags CONTAINS "a\\b"')
    assert tree.items[0].values == ('O"Hare',)
    assert tree.items[1].item.values == ("a\\b",)


@pytest.mark.parametrize("rule, expected", [
    ('country == "DE"', ["Ada", "Ed"]),
    ('country = "DE"', ["Ada", "Ed"]),
    ('country != "DE"', ["Bo", "Cy", "Di"]),           # a missing country is "not DE"
    ('country == "Germany"', ["Ada", "Ed"]),            # country names are normalised
    ('country in ("DE", "AT")', ["Ada", "Bo", "Ed"]),
    ('country not in ("DE", "AT")', ["Cy", "Di"]),
    ('city < "C"', ["Ada", "Cy"]),                     # an empty city is unknown: in no range
    ('city >= "W"', ["Bo"]),
    ('city contains "ü"', ["Ed"]),
    ("total_spent > 100", ["Ada"]),
    ("total_spent >= 100", ["Ada", "Bo"]),
    ("total_spent <= 50", ["Cy", "Di", "Ed"]),
    ("orders_count == 0", ["Di", "Ed"]),
    ("orders_count between 1 and 2", ["Bo", "Cy"]),
    ("orders_count not between 1 and 2", ["Ada", "Di", "Ed"]),
    ("average_order_value == 200", ["Ada"]),
    ("average_order_value is null", ["Di", "Ed"]),
    ("average_order_value is not null", ["Ada", "Bo", "Cy"]),
    ('first_order_date < "2025-01-12"', ["Bo"]),
    ('last_order_date between "2025-06-01" and "2025-06-30"', ["Ada", "Cy"]),
    ("days_since_last_order <= 10", ["Ada", "Cy"]),      # 10 and 0 days before 2025-06-30
    ("days_since_last_order > 100", ["Bo"]),             # 171 days
    ("age >= 35", ["Bo"]),                               # Ada turns 35 on 2025-07-01, Bo is 65 today
    ("age == 34", ["Ada"]),
    ("age < 30", ["Ed"]),
    ("age is null", ["Cy", "Di"]),
    ("consent == true", ["Ada"]),
    ("consent != true", ["Bo", "Cy", "Di", "Ed"]),
    ('tags contains "vip"', ["Ada", "Ed"]),
    ('tags == "garden"', ["Ada", "Di"]),
    ('tags != "garden"', ["Bo", "Cy", "Ed"]),
    ('tags in ("b2b", "garden")', ["Ada", "Bo", "Di"]),
    ('tags not in ("b2b", "garden")', ["Cy", "Ed"]),
    ('tags not contains "vip"', ["Bo", "Cy", "Di"]),
    ("tags is null", ["Cy"]),
    ("tags is not null", ["Ada", "Bo", "Di", "Ed"]),
    ("city is null", ["Di"]),
    ('created_at >= "2024-03-01"', ["Bo", "Cy", "Di", "Ed"]),
    ('bought_sku contains "GRD-001"', ["Ada", "Cy"]),
    ('bought_sku == "KIT-001"', ["Bo"]),
    ("points > 100", ["Ada"]),
    ('country == "DE" and tags contains "vip" and total_spent > 500', ["Ada"]),
    ('country == "US" or tags contains "garden"', ["Ada", "Cy", "Di"]),
    ('not (country == "DE" or orders_count > 0)', ["Di"]),
    ('(country == "DE" or country == "AT") and not total_spent > 150', ["Bo", "Ed"]),
])
def test_every_operator_selects_the_hand_computed_contacts(shop, rule, expected):
    assert names(shop, rule) == expected


def test_not_is_the_complement_even_with_missing_values(shop):
    for rule in ("average_order_value > 100", 'country == "DE"', "age >= 30", 'bought_sku == "GRD-001"'):
        assert sorted(names(shop, rule) + names(shop, f"not ({rule})")) == ["Ada", "Bo", "Cy", "Di", "Ed"]


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize("rule, position, words", [
    ('countri == "DE"', 1, ["unknown field 'countri'", "did you mean country"]),
    ('total_spent > 5 and totl_spent > 1', 21, ["unknown field 'totl_spent'", "total_spent"]),
    ("zzzz > 1", 1, ["unknown field 'zzzz'", "crm segments fields"]),
    ('total_spent > "500"', 15, ["total_spent is a number"]),
    ("country == DE", 12, ["expected a value", "put text in quotes"]),
    ("postal_code == 10115", 16, ["postal_code is text", '"10115"']),
    ('last_order_date > "yesterday"', 19, ["not a date"]),
    ("consent == 1", 12, ["consent is yes/no"]),
    ("consent > true", 1, ["consent is yes/no: use == or !="]),
    ('total_spent contains "x"', 1, ["contains works on tags"]),
    ('tags > "a"', 1, ["tags is a list"]),
    ('country == "Atlantis"', 12, ["unknown country"]),
    ('country == "DE" and', 20, ["expected a field name", "end of the rule"]),
    ('country == "DE" "AT"', 17, ["expected 'and', 'or'"]),
    ('(country == "DE"', 17, ["expected ')'"]),
    ('country in ()', 13, ["expected a value"]),
    ('country == "DE', 12, ["unterminated string"]),
    ("total_spent ~ 5", 13, ["unexpected character '~'"]),
    ("total_spent", 12, ["expected an operator after 'total_spent'"]),
    ("orders_count between 1 or 5", 24, ["expected 'and'"]),
    ("", 1, ["the rule is empty"]),
    ('segment("nope")', 1, ["no segment named 'nope'"]),
    ("segment(vip)", 9, ["quoted segment name"]),
    ("and == 1", 1, ["expected a field name"]),
    # SQLite integers are 64-bit; Python refuses to read integers of over 4300 digits.
    ("total_spent > 9223372036854775808", 15, ["number too large", "9223372036854775808"]),
    ("age < -" + "9" * 5000, 7, ["number too large"]),
    # Python hands a command-line byte that is not UTF-8 over as a lone surrogate, which SQLite cannot take.
    ('city == "M\udcfcnchen"', 11, ["not UTF-8"]),
])
def test_errors_name_the_position_and_say_what_is_wrong(shop, rule, position, words):
    with pytest.raises(RuleError) as info:
        compile_segment_rule(shop, rule, TODAY)
    message = str(info.value)
    assert info.value.position == position
    assert message.startswith(f"invalid rule at position {position}: ")
    assert "\n" not in message
    for word in words:
        assert word in message


def test_numbers_up_to_sqlite_integer_limits_run(shop):
    assert names(shop, "total_spent < 9223372036854775807 and orders_count > -9223372036854775808") == [
        "Ada", "Bo", "Cy", "Di", "Ed"]
    assert names(shop, "total_spent > " + "9" * 400 + ".5") == []  # a decimal this large is infinity


def test_rules_with_thousands_of_conditions_run(shop):
    # SQLite refuses expressions nested over 1000 deep, and it nests "a OR b OR c ..." one level per OR.
    assert names(shop, " or ".join(['city == "Wien"'] + ['city == "Nowhere"'] * 2000)) == ["Bo"]
    assert names(shop, " and ".join(["orders_count >= 1"] * 2000)) == ["Ada", "Bo", "Cy"]
    assert names(shop, "tags in (" + ", ".join(['"b2b"'] + ['"none"'] * 2000) + ")") == ["Bo"]
    assert names(shop, "not tags not in (" + ", ".join(['"garden"'] * 2000) + ")") == ["Ada", "Di"]


def test_deep_nesting_is_a_clear_error_not_a_crash(shop):
    with pytest.raises(RuleError, match="nests deeper"):
        compile_segment_rule(shop, "not " * 500 + "age > 1", TODAY)
    with pytest.raises(RuleError, match="nests deeper"):
        compile_segment_rule(shop, "(" * 500 + "age > 1" + ")" * 500, TODAY)


# -- properties ---------------------------------------------------------------

FIELD_TYPES = {"postal_code": "text", "city": "text", "total_spent": "number", "orders_count": "number", "age": "number",
               "last_order_date": "date", "consent": "bool", "tags": "set", "bought_sku": "set"}
MARK = "\u2603"  # every generated text value carries it, so it is easy to look for in the SQL

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=12).map(lambda s: MARK + s)
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3)))
dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(lambda d: d.isoformat())


def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(kind):
    if kind == "number":
        return numbers.map(lambda n: str(n))
    if kind == "date":
        return dates.map(quote)
    if kind == "bool":
        return st.sampled_from(["true", "false"])
    return texts.map(quote)


@st.composite
def conditions(draw):
    field = draw(st.sampled_from(sorted(FIELD_TYPES)))
    kind = FIELD_TYPES[field]
    if kind == "bool":
        op = draw(st.sampled_from(["==", "!=", "is null", "is not null"]))
    elif kind == "set":
        op = draw(st.sampled_from(["==", "!=", "in", "not in", "contains", "not contains", "is null"]))
    else:
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "between", "not between", "is null", "is not null"]))
    if op.startswith("is"):
        return f"{field} {op}"
    if op.endswith("in"):
        values = draw(st.lists(literal(kind), min_size=1, max_size=3))
        return f"{field} {op} ({', '.join(values)})"
    if op.endswith("between"):
        return f"{field} {op} {draw(literal(kind))} and {draw(literal(kind))}"
    return f"{field} {op} {draw(literal(kind))}"


rules = st.recursive(
    conditions(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda r: f"not ({r})"),
        inner.map(lambda r: f"({r})"),
    ),
    max_leaves=6,
)


def _trusted_sql_only(sql, fields):
    """Remove every trusted fragment; what is left must be operators and placeholders."""
    for field in sorted(fields.values(), key=lambda f: -len(f.sql)):
        sql = sql.replace(field.sql, "")
    return re.sub(r"\b(AND|OR|NOT|IN|BETWEEN|IS|NULL|FALSE|coalesce|instr|strpos|EXISTS)\b|[?()=<>!,\s0'']", "", sql)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules)
def test_generated_rules_bind_every_value_and_run(shop, rule):
    fields = build_fields(shop, TODAY)
    where, params = compile_rule(rule, fields, dialect=shop.store.dialect)
    assert MARK not in where, "a user value reached the SQL text"
    assert _trusted_sql_only(where, fields) == ""
    assert where.count("?") == len(params)
    matched = set(names(shop, rule))
    negated = set(names(shop, f"not ({rule})"))
    assert matched.isdisjoint(negated) and len(matched | negated) == 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(['country', 'total_spent', 'tags', '==', '!=', '<', '>=', 'in', 'not', 'and', 'or', '(', ')', ',',
                              '"DE"', "'x'", '5', '-1.5', 'contains', 'between', 'is', 'null', 'true', 'segment', '"', ';',
                              'DROP TABLE contacts', '--', '/*']), max_size=12).map(" ".join),
))
def test_any_text_compiles_safely_or_fails_with_a_clear_error(shop, text):
    fields = build_fields(shop, TODAY)
    try:
        where, params = compile_rule(text, fields, dialect=shop.store.dialect)
    except RuleError as exc:
        assert str(exc).startswith("invalid rule") and "\n" not in str(exc)
        assert 1 <= exc.position <= len(text) + 1  # every parse or compile error points into the rule
        return
    assert _trusted_sql_only(where, fields) == ""
    assert where.count("?") == len(params)
    shop.store.query(f"SELECT count(*) FROM contacts c WHERE {where}", params)
