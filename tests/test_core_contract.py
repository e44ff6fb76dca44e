"""The plugin contract: hooks are called through pluggy, one activation decides
which plugins run, the public API is what plugins use, and the structure holds
(no import cycles, the core never imports a plugin)."""

import ast
import pathlib

import attrs
import pytest

import crmcore
from crmcore import CRM, Company, Contact, Deal, PluginError, column, hookimpl, record
from crmcore.errors import CRMError

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


def test_a_wrapper_runs_around_the_whole_batch(make_crm):
    seen = []

    class Timing:
        @hookimpl(wrapper=True)
        def crm_records_saved(self, table, records):
            seen.append(("before", table, len(records)))
            result = yield
            seen.append(("after", table, len(records)))
            return result

    class Listener:
        @hookimpl
        def crm_records_saved(self, table, records):
            seen.append(("saved", table, len(records)))

    crm = make_crm(plugins=[("listener", Listener()), ("timing", Timing())])
    crm.add_many([Contact(email=f"p{i}@example.com") for i in range(3)])
    assert seen == [("before", "contacts", 3), ("saved", "contacts", 3), ("after", "contacts", 3)]


def test_a_wrapper_on_erase_runs_its_body_and_adds_to_the_notes(make_crm):
    class Auditor:
        @hookimpl(wrapper=True)
        def crm_contact_erased(self, contact_id):
            notes = yield
            return [*notes, f"auditor saw {contact_id}"]

    class Plain:
        @hookimpl
        def crm_contact_erased(self, contact_id):
            return ["plain note"]

    crm = make_crm(plugins=[("plain", Plain()), ("auditor", Auditor())])
    cid = crm.add(Contact(email="ada@example.com"))
    assert crm.erase_contact("ada@example.com") == ["plain note", f"auditor saw {cid}"]


def test_firstresult_hook_answers_through_pluggy(make_crm):
    class Segments:
        @hookimpl
        def crm_segment_contact_ids(self, name):
            return [1, 2] if name == "vip" else None

    crm = make_crm(plugins=[("segs", Segments())])
    assert crm.segment_contact_ids("vip") == [1, 2]
    with pytest.raises(CRMError, match="no segment named 'nope'"):
        crm.segment_contact_ids("nope")


def test_trace_prints_each_hook_call_with_its_plugins(run_cli, write_file, monkeypatch):
    assert run_cli(["init"], plugins="products").exit_code == 0
    path = write_file("people.csv", "email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n")
    monkeypatch.setenv("CRM_TRACE_PLUGINS", "1")
    result = run_cli(["contacts", "import", path], plugins="products")
    assert result.exit_code == 0, result.output
    assert "crm: hook crm_records_saved -> " in result.output
    assert "crm: hook crm_records_saved done in" in result.output


def test_a_failing_hook_names_plugin_hook_and_its_source_line(make_crm):
    class Broken:
        @hookimpl
        def crm_records_saved(self, records):
            return records[0]["nope"]

    crm = make_crm(plugins=[("broken", Broken())])
    with pytest.raises(PluginError) as info:
        crm.add(Contact(email="ada@example.com"))
    message = str(info.value)
    assert message.startswith("plugin 'broken' failed in crm_records_saved: KeyError: 'nope'")
    assert "(at tests/test_core_contract.py:" in message
    assert crm.store.count("contacts") == 0


def test_traceback_is_shown_only_when_asked_for(run_cli, monkeypatch):
    quiet = run_cli(["contacts", "show", "nobody@example.com"])
    assert quiet.exit_code == 1 and "Traceback" not in quiet.output
    assert run_cli(["init"]).exit_code == 0
    with pytest.raises(CRMError):  # CliRunner re-raises what the command lets through
        run_cli(["--traceback", "contacts", "show", "nobody@example.com"])
    monkeypatch.setenv("CRM_DEBUG", "1")
    with pytest.raises(CRMError):
        run_cli(["contacts", "show", "nobody@example.com"])


def _register_migrations_a():
    class A:
        crm_plugin_name = "a"

        @hookimpl
        def crm_register_migrations(self, register):
            for fn in MIGRATIONS_A:
                register(fn)

    return A()


def _register_migrations_b():
    class B:
        @hookimpl
        def crm_register_migrations(self, register):
            for fn in MIGRATIONS_B:
                register(fn)

    return B()


def m001_same_name(store):
    store.execute("CREATE TABLE IF NOT EXISTS a_things (id INTEGER PRIMARY KEY)")


def m001_other_name(store):
    store.execute("CREATE TABLE IF NOT EXISTS b_things (id INTEGER PRIMARY KEY)")


MIGRATIONS_A, MIGRATIONS_B = [m001_same_name], [m001_other_name]


def test_registrations_are_recorded_under_the_plugin_that_made_them(make_crm):
    crm = make_crm(plugins=[("a", _register_migrations_a()), ("b", _register_migrations_b())])
    applied = {(r["plugin"], r["name"]) for r in crm.store.query("SELECT plugin, name FROM _crm_migrations")}
    assert {("a", "m001_same_name"), ("b", "m001_other_name")} <= applied


def test_disabled_plugins_hooks_do_not_run_but_their_erase_hook_does(make_crm):
    calls = []

    class Listener:
        @hookimpl
        def crm_records_saved(self, table):
            calls.append(("saved", table))

        @hookimpl
        def crm_contact_erased(self, contact_id):
            calls.append(("erased", contact_id))

    crm = make_crm(plugins=[("listener", Listener())])
    crm.set_enabled("listener", False)
    cid = crm.add(Contact(email="ada@example.com"))
    crm.erase_contact(str(cid))
    assert calls == [("erased", cid)]


def test_a_plugin_failing_on_erase_is_skipped_with_a_warning_and_the_erasure_happens(make_crm):
    class Broken:
        @hookimpl
        def crm_contact_erased(self, contact_id):
            raise RuntimeError("disk on fire")

    class Good:
        @hookimpl
        def crm_contact_erased(self, contact_id):
            return [f"good forgot {contact_id}"]

    crm = make_crm(plugins=[("good", Good()), ("broken", Broken())])
    cid = crm.add(Contact(email="ada@example.com"))
    notes = crm.erase_contact(str(cid))
    assert f"good forgot {cid}" in notes
    assert any(n.startswith("warning: plugin 'broken' failed in crm_contact_erased: RuntimeError: disk on fire") for n in notes)
    assert crm.store.count("contacts") == 0
    assert crm.is_suppressed("ada@example.com")


@record("loyalty_cards")
@attrs.define(kw_only=True)
class Card:
    id: int | None = column()
    contact_id: int | None = column(references="contacts")
    number: str = column("")


class Loyalty:
    crm_plugin_name = "loyalty"

    @hookimpl
    def crm_register_record_types(self, register):
        register(Card)

    @hookimpl
    def crm_register_migrations(self, register):
        register(m001_cards)


def m001_cards(store):
    store.ensure_table(crmcore.TableSpec(table="loyalty_cards", columns=(("id", "INTEGER"), ("contact_id", "INTEGER"),
                                                                           ("number", "TEXT")),
                                         references=(("contact_id", "contacts"),), index=("contact_id",)))


@pytest.mark.parametrize("how", ["disabled", "not loaded"])
def test_erase_merge_and_delete_reach_a_plugins_rows_whether_or_not_it_runs(make_crm, new_db, how):
    crm = make_crm(plugins=[Loyalty()])
    ada, bob, cy, dan = crm.add_many([Contact(email=f"{n}@example.com") for n in ("ada", "bob", "cy", "dan")])
    crm.add_many([Card(contact_id=c, number=f"N{c}") for c in (ada, bob, cy, dan)])
    if how == "disabled":
        crm.set_enabled("loyalty", False)
    else:
        crm.close()
        crm = CRM(new_db("crm.db"), plugins=[])
    crm.erase_contact(str(ada))
    crm.merge_contacts(str(bob), str(cy))
    crm.delete("contacts", [dan])
    rows = crm.store.query("SELECT contact_id, number FROM loyalty_cards ORDER BY number")
    assert rows == [{"contact_id": bob, "number": f"N{bob}"}, {"contact_id": bob, "number": f"N{cy}"}]
    crm.close()


def test_deleting_a_company_through_the_library_detaches_its_contacts_and_deals(crm):
    company = crm.add(Company(name="ACME"))
    person = crm.add(Contact(email="ada@example.com", company_id=company))
    deal = crm.add(Deal(title="Spring", company_id=company, contact_id=person))
    crm.delete("companies", [company])
    assert crm.get("contacts", person)["company_id"] is None
    assert crm.get("deals", deal)["company_id"] is None
    with pytest.raises(CRMError, match="no companies record with id"):
        crm.delete("companies", [company])


def test_a_field_without_a_column_is_reported_naming_the_plugin(run_cli, monkeypatch):
    import crmcore.activation

    @record("loyalty_cards")
    @attrs.define(kw_only=True)
    class CardWithLevel(Card):
        level: str = column("")

    class Upgraded(Loyalty):
        @hookimpl
        def crm_register_record_types(self, register):
            register(CardWithLevel)

    found = ([crmcore.plugins.Plugin("loyalty", Loyalty())], [])
    monkeypatch.setattr(crmcore.activation, "discover", lambda: found)
    assert run_cli(["init"]).exit_code == 0
    found[0][0] = crmcore.plugins.Plugin("loyalty", Upgraded())
    result = run_cli(["migrate"])
    assert result.exit_code == 1
    assert "table loyalty_cards: field(s) level of CardWithLevel have no column; plugin 'loyalty' is missing a migration" in result.output
    if not run_cli.db.startswith("postgresql://"):  # doctor checks SQLite files
        assert "plugin 'loyalty' is missing a migration" in run_cli(["doctor"]).output


@pytest.mark.parametrize("spelling", ["SELECT o.channel FROM orders o WHERE o.contact_id = c.id",
                                      "(SELECT o.channel FROM orders o WHERE o.contact_id = c.id)",
                                      "  ( (SELECT o.channel FROM orders o WHERE o.contact_id = c.id) ) "])
def test_a_set_field_means_membership_however_its_sql_is_parenthesised(make_crm, spelling):
    import crm_segments
    from crm_segments.segments import create_segment, members

    from crmcore import Order

    class Channels:
        @hookimpl
        def crm_register_segment_fields(self, register):
            register("order_channel", spelling, "set", "channels the contact bought through")

    crm = make_crm(plugins=[crm_segments, ("channels", Channels())])
    ada, bob = crm.add_many([Contact(email="ada@example.com"), Contact(email="bob@example.com")])
    # Ada's first order is in the shop, her second on the web: only "first row" SQL would miss her.
    crm.add_many([Order(ref="1", contact_id=ada, ordered_at="2026-01-01", channel="pos"),
                  Order(ref="2", contact_id=ada, ordered_at="2026-02-01", channel="web"),
                  Order(ref="3", contact_id=bob, ordered_at="2026-02-01", channel="pos")])
    create_segment(crm, "web-buyers", rule='order_channel == "web"')
    assert [m["email"] for m in members(crm, "web-buyers")] == ["ada@example.com"]


def test_an_unsubscribed_address_stays_unsubscribed_in_its_punycode_spelling(crm, write_file):
    from crmcore import import_contacts

    crm.suppress("user@bücher.de")
    path = write_file("again.csv", "email,consent\nuser@xn--bcher-kva.de,yes\n")
    import_contacts(crm, path)
    rows = crm.store.query("SELECT email, consent FROM contacts")
    assert rows == [{"email": "user@bücher.de", "consent": 0}]
    assert crm.is_suppressed("USER@xn--bcher-kva.de")


def test_a_suppression_stored_by_older_versions_under_the_punycode_form_still_holds(crm):
    import hashlib

    crm.store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'unsubscribed', '2025-01-01')",
                      (hashlib.sha256(b"user@xn--bcher-kva.de").hexdigest(),))
    assert crm.is_suppressed("user@bücher.de")
    assert crmcore.suppression_checker(crm.store)("user@bücher.de")


# -- structure ------------------------------------------------------------------


def _python_files(folder, tests=False):
    return [p for p in folder.rglob("*.py") if tests or "tests" not in p.parts]


def _imports(path):
    """``[(module, [names])]`` of every import in the file (at any depth)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def test_plugins_use_only_the_public_api():
    public = set(crmcore.__all__)
    offences = []
    for package in PLUGIN_PACKAGES:
        for path in _python_files(package):
            for module, names in _imports(path):
                if module == "crmcore":
                    offences += [f"{path.relative_to(ROOT)}: crmcore.{n} is not public" for n in names if n not in public]
                elif module.startswith("crmcore."):
                    offences.append(f"{path.relative_to(ROOT)}: imports {module}")
    assert offences == []


def test_the_core_never_imports_a_plugin():
    plugin_names = {p.name for p in PLUGIN_PACKAGES}
    offences = [f"{path.relative_to(ROOT)}: {module}" for path in _python_files(ROOT / "crmcore", tests=True)
                for module, _ in _imports(path) if module.split(".")[0] in plugin_names]
    assert offences == []


def _module_graph(folder, package):
    modules = {}
    for path in _python_files(folder):
        rel = path.relative_to(folder).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        modules[".".join([package, *parts])] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = base.split(".")
                    module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name and t != package and not name.startswith(t + ".")}
    return graph


def _cycles(graph):
    """Modules that sit on an import cycle (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("folder", [ROOT / "crmcore", *PLUGIN_PACKAGES], ids=lambda p: p.name)
def test_no_import_cycles(folder):
    package = "crmcore" if folder.name == "crmcore" else folder.name
    assert _cycles(_module_graph(folder, package)) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "loop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def x():\n    from . import a\n")
    assert _cycles(_module_graph(pkg, "loop")) == [["loop.a", "loop.b"]]


def test_moved_names_keep_their_old_import_path_with_a_warning():
    import crmcore.app

    with pytest.warns(DeprecationWarning, match="crmcore.app.email_hash moved to crmcore.suppression_key"):
        old = crmcore.app.email_hash
    assert old("Ada@Example.com") == crmcore.suppression_key("ada@example.com")
    with pytest.warns(DeprecationWarning, match="crmcore.app.CRMError moved to crmcore.CRMError"):
        assert crmcore.app.CRMError is CRMError


def test_timeline_has_every_plugins_events_newest_first(make_crm, tmp_path):
    import crm_exports
    import crm_segments
    import crm_surveys
    from crm_exports.exporter import export
    from crm_segments.segments import create_segment, refresh
    from crm_surveys.answers import record_response
    from crm_surveys.definitions import create_survey, get_survey

    from crmcore import Activity, Order, OrderLine

    crm = make_crm(plugins=[crm_segments, crm_surveys, crm_exports])
    ada = crm.add(Contact(email="ada@example.com", country="DE", consent=True))
    order = crm.add(Order(ref="A-1", contact_id=ada, ordered_at="2026-01-05", total=30.0, currency="EUR"))
    crm.add(OrderLine(order_id=order, sku="TEA-1", quantity=2, unit_price=15.0))
    crm.add(Activity(contact_id=ada, kind="call", subject="Asked about tea", done_at="2026-01-06T10:00:00"))
    crm.add(Deal(title="Tea subscription", contact_id=ada, stage="lead"))
    create_survey(crm, "nps", "", [{"key": "nps", "type": "nps", "text": "Recommend?"}])
    record_response(crm, get_survey(crm, "nps"), {"nps": "9"}, contact_id=ada, submitted_at="2026-01-07T09:00:00")
    create_segment(crm, "germans", rule='country == "DE"')
    refresh(crm, ["germans"])
    export(crm, "csv", str(tmp_path / "out.csv"), everyone=True)
    events = crm.timeline("ada@example.com")
    kinds = {e["kind"] for e in events}
    assert {"order", "call", "deal", "survey", "segment", "export"} <= kinds
    order_event = next(e for e in events if e["kind"] == "order")
    assert order_event["summary"] == "order A-1 30.00 EUR: 2 x TEA-1"
    assert next(e for e in events if e["kind"] == "survey")["summary"] == "answered nps: nps 9"
    assert next(e for e in events if e["kind"] == "segment")["summary"] == "entered segment germans"
    stamps = [str(e["at"]) for e in events]
    assert stamps == sorted(stamps, reverse=True)


def test_contact_overview_has_what_plugins_know_about_the_contact(make_crm):
    import crm_segments
    import crm_surveys
    from crm_segments.segments import create_segment, refresh
    from crm_surveys.answers import record_response
    from crm_surveys.definitions import create_survey, get_survey

    from crmcore.queries import contact_overview

    crm = make_crm(plugins=[crm_segments, crm_surveys])
    ada = crm.add(Contact(email="ada@example.com", country="DE"))
    create_survey(crm, "nps", "", [{"key": "nps", "type": "nps", "text": "Recommend?"}])
    record_response(crm, get_survey(crm, "nps"), {"nps": "4"}, contact_id=ada)
    create_segment(crm, "germans", rule='country == "DE"')
    refresh(crm, ["germans"])
    facts = contact_overview(crm, "ada@example.com")["facts"]
    assert facts["segments"] == "germans" and facts["last NPS"] == 4
    crm.set_enabled("surveys", False)
    assert "last NPS" not in contact_overview(crm, "ada@example.com")["facts"]


def test_addresses_stored_in_punycode_by_older_versions_take_the_canonical_form(new_db):
    from crmcore.core_migrations import m007_canonical_emails

    crm = CRM(new_db("old.db"), plugins=[])
    crm.migrate()
    crm.store.execute("INSERT INTO contacts (email, first_name) VALUES ('user@xn--bcher-kva.de', 'Old')")
    crm.store.execute("INSERT INTO contacts (email, first_name) VALUES ('twin@xn--bcher-kva.de', 'A')")
    crm.store.execute("INSERT INTO contacts (email, first_name) VALUES ('twin@bücher.de', 'B')")
    m007_canonical_emails(crm.store)
    emails = sorted(r["email"] for r in crm.store.query("SELECT email FROM contacts"))
    assert emails == ["twin@bücher.de", "twin@xn--bcher-kva.de", "user@bücher.de"]
    assert crm.find_contact("user@xn--bcher-kva.de")["first_name"] == "Old"
    crm.close()
