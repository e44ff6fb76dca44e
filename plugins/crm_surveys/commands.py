"""``crm surveys ...``: thin click commands over the library modules."""

import json
import re

import click

from crmcore import get_crm, output_options, print_record, print_rows, progress_bar

QUESTION_HELP = ("A question as TYPE:KEY:TEXT (repeatable, in order). Types: nps, csat, ces, rating(N), "
                 "choice(A,B,...), multiple(A,B,...), text; a ? after the type makes it optional.")


@click.group()
def surveys():
    """Customer feedback: NPS, CSAT, CES, ratings, choices and free text."""


@surveys.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the survey is for.")
@click.option("--question", "questions", multiple=True, required=True, metavar="TYPE:KEY:TEXT", help=QUESTION_HELP)
@click.option("--base-url", default="", help="Where the web form is published; invitation links add ?token=...")
def surveys_create(name, description, questions, base_url):
    """Define a survey on the command line.

    Example: crm surveys create post-purchase --question "nps:recommend:How likely are you to recommend us?"
    --question "text:comment:What could we do better?" """
    from .definitions import create_survey, parse_question_option

    crm = get_crm()
    parsed = [parse_question_option(q, i) for i, q in enumerate(questions, start=1)]
    sid = create_survey(crm, name, description, parsed, base_url, where=f"survey {name!r}")
    click.echo(f"Created survey {sid} ({name}) with {len(parsed)} questions")


@surveys.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
def surveys_load(file):
    """Create a survey from a YAML or JSON definition file (name, description,
    base_url, questions with key, type, text, required, scale, choices)."""
    from .definitions import get_survey, load_survey

    crm = get_crm()
    sid = load_survey(crm, file)
    survey = get_survey(crm, sid)
    click.echo(f"Created survey {sid} ({survey['name']}) with {len(survey['questions'])} questions")


@surveys.command("list")
@output_options
def surveys_list(fmt):
    """Surveys with their status and counts of questions, invitations and responses."""
    from .definitions import list_surveys

    rows = list_surveys(get_crm())
    print_rows(rows, ["id", "name", "status", "description", "questions", "invitations", "responses", "created_at", "closed_at"], fmt,
               ["id", "name", "status", "questions", "invitations", "responses"])


@surveys.command("show")
@click.argument("survey")
@output_options
def surveys_show(survey, fmt):
    """A survey and its questions in order."""
    from .definitions import get_survey

    row = get_survey(get_crm(), survey)
    if fmt == "json":
        print_record(row, "json")
        return
    questions = row.pop("questions")
    if fmt == "csv":
        print_rows(questions, ["position", "key", "type", "required", "scale", "choices", "text"], "csv")
        return
    print_record(row)
    click.echo("")
    print_rows(questions, ["position", "key", "type", "required", "scale", "choices", "text"])


@surveys.command("close")
@click.argument("survey")
def surveys_close(survey):
    """Close a survey: its data stays, new invitations and responses are refused."""
    from .definitions import close_survey

    row = close_survey(get_crm(), survey)
    click.echo(f"Closed survey {row['name']}")


@surveys.command("invite")
@click.argument("survey")
@click.option("--segment", required=True, help="Invite the contacts of this segment.")
@click.option("--base-url", help="Base URL of the published form (default: the survey's base_url).")
@click.option("--batch", help="Name of this batch of invitations (default: segment and time).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="CSV file for the mail tool (default or -: standard output).")
def surveys_invite(survey, segment, base_url, batch, output):
    """Create one invitation with a unique token per contact of a segment and
    write the list (email, name, personal link) as CSV.

    Contacts without e-mail, without marketing consent, on the suppression
    list or already invited to this survey are skipped."""
    from .invitations import invite, write_csv

    output = None if output == "-" else output  # -o -: standard output, the default
    rows, skipped = invite(get_crm(), survey, segment, base_url, batch)
    write_csv(rows, output)
    note = ", ".join(f"{n} {reason}" for reason, n in skipped.items() if n)
    click.echo(f"Invited {len(rows)} contact(s)" + (f"; skipped {note}" if note else "") + (f"; list written to {output}" if output else ""), err=True)


@surveys.command("batches")
@click.argument("survey")
@output_options
def surveys_batches(survey, fmt):
    """Invitations, responses and response rate per invitation batch."""
    from .invitations import batches

    rows = batches(get_crm(), survey)
    print_rows(rows, ["batch", "segment", "sent_at", "invitations", "responses", "response_rate"], fmt)


@surveys.command("import-responses")
@click.argument("survey")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), help="File format (default: from the extension).")
@click.option("--map", "mapping", multiple=True, metavar="HEADER=KEY", help="Map a column to a question key, to token/email/contact_id/submitted_at/channel/ref, or to - to ignore it (repeatable).")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write bad rows here (row, column, reason) and import the rest.")
@click.option("--dry-run", is_flag=True, help="Validate and count, but write nothing.")
@click.option("--anonymous", is_flag=True, help="Accept responses that are linked to no contact.")
@click.option("--channel", default="import", show_default=True, help="Channel of rows without a channel column.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def surveys_import_responses(survey, file, fmt, mapping, rejects, dry_run, anonymous, channel, as_json):
    """Import responses exported by a survey tool (or the HTML form).

    Columns map to questions by key or question text; respondents are linked
    by token, email or contact_id; rows whose response id (ref, "Response
    ID", "Respondent ID", "#") was imported before are skipped. Every answer
    is checked against its question. One bad row stops the import and nothing is written, unless
    --rejects is given."""
    from crmcore import parse_map

    from .importer import import_responses

    crm = get_crm()
    with progress_bar(file, "Importing responses") as bar:
        result = import_responses(crm, survey, file, fmt=fmt, mapping=parse_map(mapping), rejects_path=rejects,
                                  dry_run=dry_run, anonymous=anonymous, channel=channel, progress=bar.update)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    verb = "would be imported (dry run: nothing written)" if dry_run else "imported"
    click.echo(f"{file}: {result.created} response(s) {verb}, {result.skipped} already imported, {len(result.rejected)} rejected")
    if result.rejected and rejects:
        click.echo(f"Rejected rows written to {rejects}")


@surveys.command("answer")
@click.argument("survey")
@click.argument("contact")
@click.option("--answer", "answers", multiple=True, metavar="QUESTION=VALUE", help="Answer without prompting (repeatable); multiple choices separated by ';'.")
@click.option("--channel", default="phone", show_default=True, help="Where the feedback was given: phone, store, ...")
def surveys_answer(survey, contact, answers, channel):
    """Record one response for CONTACT (id or e-mail), e.g. on the phone or in
    the store: prompts for every question, or takes --answer QUESTION=VALUE."""
    from crmcore import CRMError

    from .answers import AnswerError, record_response, validate
    from .definitions import get_survey, require_open

    crm = get_crm()
    row = get_survey(crm, survey)
    require_open(row)
    person = crm.find_contact(contact)
    if answers:
        given = {}
        for pair in answers:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise CRMError(f"--answer {pair!r} must look like QUESTION=VALUE")
            given[key.strip()] = value
    else:
        given = {}
        name = f"{person['first_name']} {person['last_name']}".strip() or person["email"]
        click.echo(f"{row['name']}: feedback from {name}")
        for q in row["questions"]:
            given[q["key"]] = _prompt(q, validate, AnswerError)
    rid = record_response(crm, row, given, contact_id=person["id"], channel=channel)
    followup = crm.store.query_value("SELECT followup_id FROM survey_responses WHERE id = ?", (rid,))
    click.echo(f"Recorded response {rid}" + (f"; follow-up task {followup} created" if followup else ""))


def _hint(q):
    if q["type"] in ("choice", "multiple"):
        options = "; ".join(f"{i}={c}" for i, c in enumerate(q["choices"], start=1))
        return f" [{options}{'; several separated by ;' if q['type'] == 'multiple' else ''}]"
    if q["type"] == "text":
        return ""
    from .records import bounds

    return " ({}-{})".format(*bounds(q))


def _prompt(q, validate, AnswerError):
    """Ask until the answer fits; choices may be given by number."""
    label = q["text"] + _hint(q) + ("" if q["required"] else " (optional)")
    while True:
        raw = click.prompt(label, default="", show_default=False)
        if q["type"] in ("choice", "multiple"):
            picks = [p.strip() for p in raw.split(";")]
            picks = [q["choices"][int(p) - 1] if p.isdigit() and 1 <= int(p) <= len(q["choices"]) else p for p in picks]
            raw = ";".join(p for p in picks if p)
        try:
            validate(q, raw)
            return raw
        except AnswerError as exc:
            click.echo(f"  {exc.reason}", err=True)


@surveys.command("form")
@click.argument("survey")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="HTML file to write (default: SURVEY-form.html; -: standard output).")
def surveys_form(survey, output):
    """Write a self-contained HTML form for the survey (works offline, no
    server). Submissions are kept in the browser and downloaded as the CSV
    that `crm surveys import-responses` reads; a ?token=... in the address
    (the invitation link) links the answers to the contact."""
    from .definitions import get_survey
    from .form import write_form

    from crmcore import written_to

    crm = get_crm()
    row = get_survey(crm, survey)
    with written_to(output or re.sub(r"[^\w.-]+", "-", row["name"]).strip(".-") + "-form.html") as target:
        path = write_form(crm, row, target)
    if output != "-":
        click.echo(path)


@surveys.command("scores")
@click.argument("survey")
@click.option("--by", type=click.Choice(["segment", "product", "month", "channel"]), help="Break the scores down.")
@click.option("--segment", "segments", multiple=True, help="Break down by current membership of these segments (repeatable; implies --by segment) instead of the invitation's segment.")
@output_options
def surveys_scores(survey, by, segments, fmt):
    """NPS (with its 95% margin of error), CSAT (% of 4-5), CES and rating
    means per scored question, overall or by segment, product, month or channel."""
    from .scores import scores

    if segments and by not in (None, "segment"):
        raise click.UsageError("--segment goes with --by segment")
    by = "segment" if segments else by
    rows = scores(get_crm(), survey, by, segments)
    fields = ["group", "question", "type", "responses", "score", "margin", "promoters", "passives", "detractors"]
    if fmt:
        print_rows(rows, fields, fmt)
        return
    for r in rows:
        r["margin"] = None if r["margin"] is None else f"±{r['margin']}"
    print_rows(rows, fields if by else fields[1:])


@surveys.command("comments")
@click.argument("survey")
@click.option("--detractors", is_flag=True, help="Only comments of NPS detractors.")
@output_options
def surveys_comments(survey, detractors, fmt):
    """Free-text answers with the respondent's score and segment."""
    from .scores import comments

    rows = comments(get_crm(), survey)
    if detractors:
        rows = [r for r in rows if r["category"] == "detractor"]
    print_rows(rows, ["response", "contact_id", "email", "submitted_at", "question", "score", "category", "segment", "comment"], fmt,
               ["response", "email", "score", "segment", "comment"])
