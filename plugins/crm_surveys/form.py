"""The self-contained HTML form of a survey.

One file with inline CSS and JavaScript and no network access: open it from
disk at a shop counter, or publish it as the invitation links' base URL. Each
submission is kept in the browser (localStorage) and downloaded as the CSV
that ``import_responses`` reads: ``token``, ``email``, ``submitted_at``,
``channel`` and one column per question key. Labels are escaped by Jinja2's
autoescape; the question data reaches the script through ``tojson``, which
escapes ``<``, ``>``, ``&`` and quotes.
"""


from crmcore import atomic_write

from .answers import MULTI_SEPARATOR
from .records import SCORED, bounds


def render_form(crm, survey):
    from crmcore import template_environment as environment

    env = environment(crm)
    spec = {"name": survey["name"], "separator": MULTI_SEPARATOR,
            "questions": [{"key": q["key"], "type": q["type"], "required": bool(q["required"])} for q in survey["questions"]]}
    questions = []
    for q in survey["questions"]:
        item = dict(q)
        if q["type"] in SCORED:
            low, high = bounds(q)
            item["options"] = list(range(low, high + 1))
        questions.append(item)
    return env.get_template("survey_form.html").render(survey=survey, questions=questions, spec=spec)


def write_form(crm, survey, path):
    html = render_form(crm, survey)
    with atomic_write(path, "form") as f:
        f.write(html)
    return path
