"""`crm campaigns ...` end to end through the CLI, with the real segments plugin."""

import email
import email.policy
import json

import pytest

PLUGINS = "campaigns,segments"


@pytest.fixture
def cli(run_cli, write_file):
    def run(*args, env=None):
        return run_cli(list(args), plugins=PLUGINS, env=env)

    assert run("init").exit_code == 0
    for first, mail, consent in (("Ada", "ada@example.com", True), ("Ben", "ben@example.com", True), ("Cy", "cy@example.com", False)):
        args = ["contacts", "add", "--first-name", first, "--email", mail, "--country", "DE"] + (["--consent"] if consent else [])
        assert run(*args).exit_code == 0
    assert run("contacts", "add", "--first-name", "Fay", "--email", "fay@example.com", "--country", "FR", "--consent").exit_code == 0
    assert run("segments", "create", "de", "--rule", 'country == "DE"').exit_code == 0
    assert run("settings", "set", "base_url", "https://crm.example.com").exit_code == 0
    run.body = write_file("body.txt", "Hi {{ first_name }}!\nLeave: {{ unsubscribe_url }}\n")
    run.html = write_file("body.html", "<p>Hi {{ first_name }}</p>")
    return run


def create(cli, name="spring", *extra):
    return cli("campaigns", "create", name, "--segment", "de", "--subject", "Spring, {{ first_name }}", "--template", cli.body,
               "--html-template", cli.html, "--from", "Shop <news@shop.example>", *extra)


def test_create_list_show_preview_send_status_results(cli, smtp):
    result = create(cli, "spring", "--subject", "Last chance", "--share", "50%", "--share", "50%", "--holdout", "0%")
    assert result.exit_code == 0, result.output
    listed = json.loads(cli("campaigns", "list", "--json").output)
    assert [(c["name"], c["segment"], c["status"], c["subjects"]) for c in listed] == [("spring", "de", "draft", ["Spring, {{ first_name }}", "Last chance"])]
    assert "Hi {{ first_name }}!" in cli("campaigns", "show", "spring").output

    preview = cli("campaigns", "preview", "spring", "--contact", "ada@example.com")
    assert preview.exit_code == 0, preview.output
    message = email.message_from_string(preview.output, policy=email.policy.default)
    assert message["Subject"] == "Spring, Ada" and message["To"].addresses[0].addr_spec == "ada@example.com"
    assert message["List-Unsubscribe"] == "<https://crm.example.com/unsubscribe/TOKEN>"  # never a live token in a preview
    assert message.get_body(("plain",)).get_content().startswith("Hi Ada!")

    dry = cli("campaigns", "send", "spring", "--dry-run")
    assert dry.exit_code == 0 and "would send 2" in dry.output and "1 no consent" in dry.output
    assert json.loads(cli("campaigns", "status", "spring", "--json").output)["status"] == "draft"  # nothing written
    assert smtp.handler.messages == []

    sent = cli("campaigns", "send", "spring", "--smtp", smtp.url, "--rate", "100/s")
    assert sent.exit_code == 0, sent.output
    assert "sent 2, failed 0" in sent.output
    assert sorted(m["to"][0] for m in smtp.handler.messages) == ["ada@example.com", "ben@example.com"]
    state = json.loads(cli("campaigns", "status", "spring", "--json").output)
    assert (state["status"], state["sent"], state["skipped"], state["queued"]) == ("sent", 2, 1, 0)
    assert [(v["variant"], v["sent"]) for v in state["variants"]] == [("A", 1), ("B", 1)]
    found = json.loads(cli("campaigns", "results", "spring", "--days", "7", "--json").output)
    assert found["days"] == 7 and found["groups"][0]["members"] == 2 and found["revenue_per_holdout"] is None
    again = cli("campaigns", "send", "spring", "--smtp", smtp.url)
    assert "sent 0" in again.output and len(smtp.handler.messages) == 2


def test_test_message_goes_to_any_address_and_is_not_recorded(cli, smtp):
    assert create(cli).exit_code == 0
    result = cli("campaigns", "test", "spring", "--to", "boss@example.org", env={"CRM_SMTP_URL": smtp.url})
    assert result.exit_code == 0, result.output
    [got] = smtp.handler.messages
    assert got["to"] == ["boss@example.org"] and got["message"]["Subject"] == "[test] Spring, Test"
    assert json.loads(cli("campaigns", "status", "spring", "--json").output)["sent"] == 0


@pytest.mark.parametrize("args, message", [
    (["--from", "news@shop.example\nBcc: victim@example.org"], "--from: 'news@shop.example\\nBcc: victim@example.org' contains a line break"),
    (["--from", "a@example.com, b@example.com"], "must be one address"),
    (["--segment", "nosuch"], "no segment named 'nosuch'"),
    (["--share", "70%"], "--share: the subjects' shares add up to 70%, not 100%"),
    (["--subject", "B", "--share", "50"], "--share: 1 shares for 2 subjects"),
    (["--subject", "B", "--share", "70", "--share", "70"], "add up to 140%"),
    (["--holdout", "150%"], "--holdout: '150%' must be at least 0% and under 100%"),
    (["--holdout", "ten"], "--holdout: 'ten' is not a percentage"),
    (["--html-template", "/no/such/file.html"], "--html-template: no file /no/such/file.html"),
])
def test_create_refuses_bad_input_in_one_line_and_writes_nothing(cli, args, message):
    base = {"--segment": "de", "--from": "news@shop.example", "--template": cli.body}
    for option in list(base):
        if option in args:
            base.pop(option)
    argv = ["campaigns", "create", "bad", "--subject", "Hi"] + [x for kv in base.items() for x in kv] + args
    result = cli(*argv)
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert json.loads(cli("campaigns", "list", "--json").output) == []


def test_template_errors_are_named_at_create_and_the_sandbox_refuses_internals(cli, write_file):
    broken = write_file("broken.txt", "Hi\n{{ first_name ")
    result = cli("campaigns", "create", "x", "--segment", "de", "--subject", "Hi", "--template", broken, "--from", "a@example.com")
    assert result.exit_code == 1 and "--template: line 2:" in result.output
    evil = write_file("evil.txt", "{{ first_name.__class__.__mro__[1].__subclasses__() }}")
    assert cli("campaigns", "create", "evil", "--segment", "de", "--subject", "Hi", "--template", evil, "--from", "a@example.com").exit_code == 0
    preview = cli("campaigns", "preview", "evil", "--contact", "ada@example.com")
    assert preview.exit_code == 1 and "refused by the sandbox" in preview.output, preview.output
    assert "Traceback" not in preview.output


def test_send_needs_a_transport_and_a_sane_rate(cli):
    assert create(cli).exit_code == 0
    nowhere = cli("campaigns", "send", "spring", env={"CRM_SMTP_URL": ""})
    assert nowhere.exit_code == 1 and "--smtp" in nowhere.output
    assert "unknown transport 'ftp://'" in cli("campaigns", "send", "spring", "--smtp", "ftp://x").output
    bad_rate = cli("campaigns", "send", "spring", "--smtp", "smtp://127.0.0.1:1", "--rate", "fast")
    assert bad_rate.exit_code == 1 and "--rate: 'fast' must look like 10/s" in bad_rate.output
    assert json.loads(cli("campaigns", "status", "spring", "--json").output)["status"] == "draft"
    unknown = cli("campaigns", "show", "nosuch")
    assert unknown.exit_code == 1 and "no campaign named 'nosuch'" in unknown.output
    assert "already exists" in create(cli).output
