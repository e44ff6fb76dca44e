"""The fuzz harnesses' per-input checks run on their committed seed corpora,
without atheris, so the harnesses keep working as the code they fuzz changes
(docs/fuzzing.md). A crash the fuzzer found becomes a seed here once fixed."""

import importlib.util
import pathlib

import pytest

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"


def harness(name):
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeds(folder):
    return sorted((FUZZ / "corpus" / folder).iterdir())


@pytest.fixture(scope="module")
def importer():
    return harness("fuzz_importer")


@pytest.fixture(scope="module")
def rules():
    return harness("fuzz_rules")


@pytest.mark.parametrize("seed", seeds("importer"), ids=lambda p: p.name)
def test_importer_harness_accepts_its_seed(importer, seed):
    importer.check_input(seed.read_bytes())


@pytest.mark.parametrize("seed", seeds("rules"), ids=lambda p: p.name)
def test_rules_harness_accepts_its_seed(rules, seed):
    rules.check_input(seed.read_bytes())


def test_harnesses_report_what_they_must_never_see(importer, rules, monkeypatch):
    """A check that cannot fail guards nothing: each harness flags a planted fault."""

    def misplaced(text, *args):
        raise rules.RuleError("planted", len(text) + 5)

    monkeypatch.setattr(rules, "compile_rule", misplaced)
    with pytest.raises(rules.Finding, match="outside the rule"):
        rules.check_input(b"age > 1")

    def two_lines(*args, **kwargs):
        raise importer.CRMError("first\nsecond")

    monkeypatch.setattr(importer, "import_contacts", two_lines)
    with pytest.raises(importer.Finding, match="one non-empty line"):
        importer.check_input(b"email\na@example.com\n")
