"""The segment rule language: tokenizer, parser and compiler to parameterised SQL.

    country in ("DE", "AT") and age >= 30 and total_spent > 500
      and days_since_last_order <= 90 and tags contains "vip"
      and not segment("churned")

A rule is parsed into a small tree, then compiled to a SQL condition over the
contact row aliased ``c``. Field names are looked up in a registry of known
fields whose SQL is ours (or a plugin's), and every value the user wrote
becomes a bound parameter: no user text ever reaches the SQL string.

Grammar (keywords are case-insensitive)::

    rule    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | "(" rule ")" | "segment" "(" STRING ")" | test
    test    := FIELD ("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") value
             | FIELD ["not"] "in" "(" value ("," value)* ")"
             | FIELD ["not"] "contains" value
             | FIELD ["not"] "between" value "and" value
             | FIELD "is" ["not"] "null"
    value   := STRING | NUMBER | "true" | "false"

Negations are complements: ``not X`` holds exactly for the contacts where
``X`` does not (a missing value counts as not matching ``X``).
"""

import datetime as dt
import difflib
import re

import attrs

from crmcore import CRMError

TYPES = ("text", "number", "date", "bool", "set")
KEYWORDS = {"and", "or", "not", "in", "contains", "between", "is", "null", "true", "false", "segment"}
COMPARISONS = {"==": "=", "=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
MAX_DEPTH = 50


class RuleError(CRMError):
    """A rule that cannot be parsed or compiled; ``position`` is 1-based."""

    def __init__(self, message, position=None):
        where = f" at position {position}" if position else ""
        super().__init__(f"invalid rule{where}: {message}")
        self.position = position
        self.reason = message


@attrs.frozen
class Field:
    """A field usable in rules: ``sql`` is an expression over the contact ``c``.

    ``params`` are bound each time ``sql`` is used (e.g. today's date)."""

    name: str
    sql: str
    type: str
    description: str = ""
    params: tuple = ()
    normalise: object = None


# -- tokens -------------------------------------------------------------------


@attrs.frozen
class Token:
    kind: str  # str, num, word, op, "(", ")", ",", end
    value: object
    pos: int


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<num>-?\d+(?:\.\d+)?)(?![A-Za-z_\d])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op>==|!=|<=|>=|<|>|=)
      | (?P<punct>[(),])
      | (?P<quote>["'])""",
    re.VERBOSE,
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def tokenize(text):
    if not isinstance(text, str):
        raise RuleError("a rule must be text")
    if "\x00" in text:  # no database text can hold it (PostgreSQL refuses it outright)
        raise RuleError("a rule cannot contain a NUL character", text.index("\x00") + 1)
    bad = _SURROGATE.search(text)
    if bad:  # how Python passes on a command-line byte that is not UTF-8
        raise RuleError("a byte that is not UTF-8 text; type or save the rule as UTF-8", bad.start() + 1)
    tokens, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise RuleError(f"unexpected character {text[i]!r}", i + 1)
        kind = m.lastgroup
        if kind == "quote":
            value, i = _string(text, i)
            tokens.append(Token("str", value, m.start() + 1))
            continue
        if kind == "num":
            tokens.append(Token("num", _number(m.group(), i + 1), i + 1))
        elif kind == "word":
            tokens.append(Token("word", m.group(), i + 1))
        elif kind == "op":
            tokens.append(Token("op", m.group(), i + 1))
        elif kind == "punct":
            tokens.append(Token(m.group(), m.group(), i + 1))
        i = m.end()
    tokens.append(Token("end", None, len(text) + 1))
    return tokens


def _number(raw, pos):
    """A number literal; whole numbers must fit SQLite's 64-bit integers."""
    if "." in raw:
        return float(raw)
    if len(raw.lstrip("-")) <= 19:
        value = int(raw)
        if -2**63 <= value < 2**63:
            return value
    shown = raw if len(raw) <= 24 else raw[:20] + "..."
    raise RuleError(f"number too large: {shown} (whole numbers go up to 9223372036854775807)", pos)


def _string(text, start):
    """A quoted string with backslash escapes; returns (value, index after it)."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise RuleError("unterminated string", start + 1)


# -- tree ---------------------------------------------------------------------


@attrs.frozen
class Condition:
    field: str
    op: str  # one of COMPARISONS' SQL ops, "in", "contains", "between", "null"
    values: tuple
    negate: bool
    pos: int
    value_pos: tuple = ()


@attrs.frozen
class Bool:
    op: str  # and, or
    items: tuple


@attrs.frozen
class Not:
    item: object


@attrs.frozen
class SegmentRef:
    name: str
    pos: int


class Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self):
        return self.tokens[self.i]

    def is_word(self, word):
        return self.tok.kind == "word" and self.tok.value.lower() == word

    def advance(self):
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind, what):
        if self.tok.kind != kind:
            raise RuleError(f"expected {what}, found {self.describe(self.tok)}", self.tok.pos)
        return self.advance()

    def expect_word(self, word):
        if not self.is_word(word):
            raise RuleError(f"expected '{word}', found {self.describe(self.tok)}", self.tok.pos)
        return self.advance()

    @staticmethod
    def describe(tok):
        if tok.kind == "end":
            return "the end of the rule"
        if tok.kind == "str":
            return f"the text {tok.value!r}"
        return f"'{tok.value}'"

    def parse(self):
        if self.tok.kind == "end":
            raise RuleError("the rule is empty", 1)
        tree = self.parse_or()
        if self.tok.kind != "end":
            raise RuleError(f"expected 'and', 'or' or the end of the rule, found {self.describe(self.tok)}", self.tok.pos)
        return tree

    def nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(f"the rule nests deeper than {MAX_DEPTH} levels", self.tok.pos)

    def parse_or(self):
        items = [self.parse_and()]
        while self.is_word("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Bool("or", tuple(items))

    def parse_and(self):
        items = [self.parse_not()]
        while self.is_word("and"):
            self.advance()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else Bool("and", tuple(items))

    def parse_not(self):
        self.nest()
        try:
            if self.is_word("not"):
                self.advance()
                return Not(self.parse_not())
            if self.tok.kind == "(":
                self.advance()
                inner = self.parse_or()
                self.expect(")", "')'")
                return inner
            if self.is_word("segment"):
                pos = self.advance().pos
                self.expect("(", "'(' after segment")
                name = self.expect("str", 'a quoted segment name, as in segment("vip")')
                self.expect(")", "')'")
                return SegmentRef(name.value, pos)
            return self.parse_test()
        finally:
            self.depth -= 1

    def parse_test(self):
        tok = self.tok
        if tok.kind != "word" or tok.value.lower() in KEYWORDS:
            raise RuleError(f"expected a field name, found {self.describe(tok)}", tok.pos)
        self.advance()
        field, pos = tok.value, tok.pos
        if self.tok.kind == "op":
            op = COMPARISONS[self.advance().value]
            value = self.parse_value()
            return Condition(field, op, (value.value,), False, pos, (value,))
        if self.is_word("is"):
            self.advance()
            negate = False
            if self.is_word("not"):
                self.advance()
                negate = True
            self.expect_word("null")
            return Condition(field, "null", (), negate, pos)
        negate = False
        if self.is_word("not"):
            self.advance()
            negate = True
        if self.is_word("in"):
            self.advance()
            self.expect("(", "'(' after in")
            values = [self.parse_value()]
            while self.tok.kind == ",":
                self.advance()
                values.append(self.parse_value())
            self.expect(")", "')' or ','")
            return Condition(field, "in", tuple(v.value for v in values), negate, pos, tuple(values))
        if self.is_word("contains"):
            self.advance()
            value = self.parse_value()
            return Condition(field, "contains", (value.value,), negate, pos, (value,))
        if self.is_word("between"):
            self.advance()
            low = self.parse_value()
            self.expect_word("and")
            high = self.parse_value()
            return Condition(field, "between", (low.value, high.value), negate, pos, (low, high))
        raise RuleError(f"expected an operator after {field!r} (==, !=, <, <=, >, >=, in, contains, between, is null), "
                        f"found {self.describe(self.tok)}", self.tok.pos)

    def parse_value(self):
        tok = self.tok
        if tok.kind in ("str", "num"):
            return self.advance()
        if self.is_word("true") or self.is_word("false"):
            self.advance()
            return Token("bool", tok.value.lower() == "true", tok.pos)
        hint = " (put text in quotes)" if tok.kind == "word" else ""
        raise RuleError(f"expected a value, found {self.describe(tok)}{hint}", tok.pos)


def parse(text):
    """The tree of a rule; ``RuleError`` names the position of a mistake."""
    return Parser(text).parse()


# -- compiling ----------------------------------------------------------------


#: The most conditions segment("...") references may inline into one rule
#: (conditions written in the rule itself cost only their own text).
MAX_CONDITIONS = 10_000


class Compiler:
    """Tree -> (sql, params). ``segments(name)`` returns ``None`` for an
    unknown segment, ``("static", id)`` or ``("dynamic", rule_text)``."""

    def __init__(self, fields, segments=None, dialect=None):
        from crmcore import SQLiteDialect

        self.fields = fields
        self.segments = segments or (lambda name: None)
        self.dialect = dialect or SQLiteDialect()
        self.stack = []
        self.conditions = 0
        self.parsed = {}  # a referenced segment's rule is parsed once

    def count(self, pos):
        """Bound the expanded size: each segment("...") is inlined, so a chain
        of segments each referring several times to the one below grows
        exponentially ("billion laughs"); refuse it before it costs anything."""
        if not self.stack:
            return
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            where = f" (through segment {' -> '.join(self.stack)})" if self.stack else ""
            raise RuleError(f"the rule expands to more than {MAX_CONDITIONS:,} conditions of other segments{where}; "
                            "segment(\"...\") copies the other segment's rule each time it is used, so refer to it "
                            "fewer times or make it a static segment", pos)

    def compile(self, tree):
        sql, params = self.node(tree)
        return sql, params

    def node(self, node):
        if isinstance(node, Bool):
            return _balanced(node.op.upper(), [self.node(item) for item in node.items])
        if isinstance(node, Not):
            sql, params = self.node(node.item)
            return f"NOT coalesce(({sql}), FALSE)", params
        if isinstance(node, SegmentRef):
            return self.segment(node)
        return self.test(node)

    def segment(self, node):
        found = self.segments(node.name)
        if found is None:
            raise RuleError(f"no segment named {node.name!r}", node.pos)
        kind, value = found
        if kind == "static":
            self.count(node.pos)
            return "c.id IN (SELECT contact_id FROM segment_members WHERE segment_id = ?)", [value]
        if node.name in self.stack:
            chain = " -> ".join([*self.stack, node.name])
            raise RuleError(f"segments refer to each other in a circle: {chain}", node.pos)
        self.stack.append(node.name)
        try:
            if node.name not in self.parsed:
                self.parsed[node.name] = parse(value)
            sql, params = self.node(self.parsed[node.name])
        except RuleError as exc:
            if exc.reason.startswith(("segments refer", "the rule expands")):
                raise RuleError(exc.reason, node.pos) from None
            raise RuleError(f"segment {node.name!r} has a broken rule: {exc.reason}", node.pos) from None
        finally:
            self.stack.pop()
        return sql, params

    def field(self, name, pos):
        field = self.fields.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(self.fields), n=4, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `crm segments fields` lists them"
            raise RuleError(f"unknown field {name!r}{hint}", pos)
        return field

    def value(self, field, token, op):
        """Check a literal against the field's type; returns the bound value."""
        kind, value, pos = token.kind, token.value, token.pos
        expected = field.type
        if expected == "number":
            if kind != "num":
                raise RuleError(f"{field.name} is a number, so compare it with a number (found {Parser.describe(token)})", pos)
            return value
        if expected == "bool":
            if kind != "bool":
                raise RuleError(f"{field.name} is yes/no, so compare it with true or false (found {Parser.describe(token)})", pos)
            return int(value)
        if expected == "date":
            if kind != "str":
                raise RuleError(f"{field.name} is a date, so compare it with a quoted date such as \"2024-12-31\"", pos)
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                raise RuleError(f"{value!r} is not a date (use YYYY-MM-DD)", pos) from None
        if kind != "str":
            raise RuleError(f"{field.name} is text, so put the value in quotes: \"{token.value}\"", pos)
        if field.normalise is not None:
            try:
                return field.normalise(value)
            except ValueError as exc:
                raise RuleError(f"{field.name}: {exc}", pos) from None
        return value

    def check_operator(self, field, node):
        op = node.op
        if field.type == "set" and op not in ("=", "!=", "in", "contains", "null"):
            raise RuleError(f"{field.name} is a list: use ==, !=, in, contains or is null", node.pos)
        if field.type == "bool" and op not in ("=", "!=", "null"):
            raise RuleError(f"{field.name} is yes/no: use == or !=", node.pos)
        if op == "contains" and field.type not in ("text", "set"):
            raise RuleError(f"contains works on tags and other lists, and on text; {field.name} is a {field.type}", node.pos)

    def test(self, node):
        self.count(node.pos)
        field = self.field(node.field, node.pos)
        self.check_operator(field, node)
        values = [self.value(field, tok, node.op) for tok in node.value_pos]
        fsql, fparams = f"({field.sql})", list(field.params)
        op = node.op
        if field.type == "set":
            return self.set_test(field, fsql, fparams, node, values)
        if op == "null":
            empty = f"coalesce({fsql}, '') = ''" if field.type == "text" else f"{fsql} IS NULL"
            return (f"NOT ({empty})" if node.negate else empty), fparams
        # Empty text means "not known": it matches no range, only == "".
        known = f" AND {fsql} != ''" if field.type == "text" else ""
        if op in ("=", "<", "<=", ">", ">="):
            sql, params = f"{fsql} {op} ?", fparams + values
            if op != "=" and known:
                sql, params = sql + known, params + fparams
        elif op == "!=":
            sql, params = f"{fsql} = ?", fparams + values
            return f"NOT coalesce({sql}, FALSE)", params
        elif op == "in":
            sql, params = f"{fsql} IN ({', '.join('?' * len(values))})", fparams + values
        elif op == "between":
            sql, params = f"{fsql} BETWEEN ? AND ?", fparams + values
            if known:
                sql, params = sql + known, params + fparams
        else:  # contains on text: a substring
            sql, params = self.dialect.contains_text(fsql), fparams + values
        if node.negate:
            return f"NOT coalesce(({sql}), FALSE)", params
        return sql, params

    def set_test(self, field, fsql, fparams, node, values):
        op = node.op
        if op == "null":
            sql = f"NOT EXISTS {fsql}"
            return (f"NOT ({sql})" if node.negate else sql), fparams
        if op in ("=", "contains"):
            sql, params = f"? IN {fsql}", values + fparams
        elif op == "!=":
            sql, params = f"? IN {fsql}", values + fparams
            return f"NOT coalesce({sql}, FALSE)", params
        else:  # in
            sql, params = _balanced("OR", [(f"? IN {fsql}", [v, *fparams]) for v in values])
            sql = f"({sql})"
        if node.negate:
            return f"NOT coalesce({sql}, FALSE)", params
        return sql, params


def _balanced(op, parts):
    """``(sql, params)`` parts joined with AND or OR as a balanced tree.

    SQLite nests ``a OR b OR c ...`` one level per operator and refuses
    expressions deeper than 1000, so a flat join of a rule with a thousand
    conditions would fail; balanced, the depth grows with the logarithm."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, lparams = _balanced(op, parts[:middle])
    right, rparams = _balanced(op, parts[middle:])
    return f"({left}) {op} ({right})", lparams + rparams


def compile_rule(text, fields, segments=None, dialect=None):
    """A rule -> ``(sql, params)``: a condition over the contact row ``c``
    (``dialect``: the store's, for the SQL that differs; SQLite's by default)."""
    return Compiler(fields, segments, dialect).compile(parse(text))


def _leaves(text):
    """The conditions and segment references of a rule, every level down."""
    stack = [parse(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, Bool):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            yield node


def referenced_fields(text):
    """Field names a rule tests (not those of segments it refers to)."""
    return [node.field for node in _leaves(text) if isinstance(node, Condition)]


def referenced_segments(text):
    """Names used in ``segment("...")`` of a rule (for dependency order)."""
    return [node.name for node in _leaves(text) if isinstance(node, SegmentRef)]
