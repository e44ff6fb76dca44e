"""The survey records: surveys, their questions, invitations, responses and answers."""

from attrs import define

from crmcore import column, FieldError, normalize as n, record

#: Question types. Only ``nps`` counts toward NPS; ``rating`` is 1..scale.
QUESTION_TYPES = ("nps", "csat", "ces", "rating", "choice", "multiple", "text")
#: Fixed ranges of the scored types (``rating`` takes its own ``scale``).
RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
SCORED = ("nps", "csat", "ces", "rating")


def bounds(question):
    """``(low, high)`` of a scored question (a stored question dict), else ``None``."""
    if question["type"] == "rating":
        return 1, question["scale"] or 5
    return RANGES.get(question["type"])


SURVEY_STATUSES = ("open", "closed")
#: Column names the response import reserves for linking and metadata.
RESERVED_KEYS = ("token", "email", "contact_id", "submitted_at", "channel", "ref")


def _choices(value):
    """Options from a list, or from ``"A, B, C"`` text."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [n.text(c) for c in value if n.text(c)]


@record("surveys")
@define(kw_only=True)
class Survey:
    id: int | None = column(converter=n.optional(n.integer))
    name: str = column("", converter=n.text, unique=True)
    description: str = column("", converter=n.long_text)
    status: str = column("open", converter=n.one_of(*SURVEY_STATUSES))
    base_url: str = column("", converter=n.text, description="where the web form is published; links add ?token=")
    closed_at: str | None = column(converter=n.optional(n.timestamp))
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))

    def __attrs_post_init__(self):
        if not self.name:
            raise FieldError("name", "a survey needs a name")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", f"{self.base_url!r} must start with http:// or https://")


@record("survey_questions")
@define(kw_only=True)
class Question:
    id: int | None = column(converter=n.optional(n.integer))
    survey_id: int | None = column(converter=n.optional(n.integer), references="surveys")
    position: int = column(0, converter=n.integer)
    key: str = column("", converter=n.text, description="short name: CSV column and --answer KEY=VALUE")
    text: str = column("", converter=n.text, description="the question as the respondent reads it")
    type: str = column("text", converter=n.one_of(*QUESTION_TYPES))
    required: bool = column(True, converter=n.boolean)
    scale: int | None = column(converter=n.optional(n.integer), description="highest value of a rating question")
    choices: list = column(list, converter=_choices)

    def __attrs_post_init__(self):
        if not self.key or not self.key.replace("_", "").replace("-", "").isalnum():
            raise FieldError("key", f"{self.key!r} must be a short name of letters, digits, - and _")
        if self.key.lower() in RESERVED_KEYS:
            raise FieldError("key", f"{self.key!r} is reserved for the response import ({', '.join(RESERVED_KEYS)})")
        if not self.text:
            raise FieldError("text", f"question {self.key!r} needs a text")
        if self.type == "rating":
            self.scale = 5 if self.scale is None else self.scale
            if not 2 <= self.scale <= 100:
                raise FieldError("scale", f"question {self.key!r}: a rating scale must be 2-100")
        elif self.scale is not None:
            raise FieldError("scale", f"question {self.key!r}: only rating questions have a scale")
        if self.type in ("choice", "multiple"):
            if len(self.choices) < 2:
                raise FieldError("choices", f"question {self.key!r} needs at least two choices")
            if len({c.casefold() for c in self.choices}) != len(self.choices):
                raise FieldError("choices", f"question {self.key!r} has duplicate choices")
            if self.type == "multiple" and any(";" in c for c in self.choices):
                raise FieldError("choices", f"question {self.key!r}: choices of a multiple-choice question cannot contain ';'")
        elif self.choices:
            raise FieldError("choices", f"question {self.key!r}: only choice questions have choices")


@record("survey_invitations")
@define(kw_only=True)
class Invitation:
    id: int | None = column(converter=n.optional(n.integer))
    survey_id: int | None = column(converter=n.optional(n.integer), references="surveys")
    contact_id: int | None = column(converter=n.optional(n.integer), references="contacts")
    token: str = column("", converter=n.text, unique=True, description="SHA-256 of the link's token (the token itself is never stored)")
    batch: str = column("", converter=n.text, index=True, description="one invite run; response rates are per batch")
    segment: str = column("", converter=n.text, description="segment the invitation was sent to")
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))


@record("survey_responses")
@define(kw_only=True)
class Response:
    id: int | None = column(converter=n.optional(n.integer))
    survey_id: int | None = column(converter=n.optional(n.integer), references="surveys")
    contact_id: int | None = column(converter=n.optional(n.integer), references="contacts")
    invitation_id: int | None = column(converter=n.optional(n.integer), references="survey_invitations")
    channel: str = column("", converter=n.text, description="web, phone, store, email, import...")
    ref: str | None = column(converter=n.optional(n.text), description="the survey tool's response id (re-imports skip it)")
    submitted_at: str | None = column(converter=n.optional(n.timestamp), index=True)
    followup_id: int | None = column(converter=n.optional(n.integer), description="follow-up task activity")
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))


@record("survey_answers")
@define(kw_only=True)
class Answer:
    id: int | None = column(converter=n.optional(n.integer))
    response_id: int | None = column(converter=n.optional(n.integer), references="survey_responses")
    question_id: int | None = column(converter=n.optional(n.integer), references="survey_questions")
    number: float | None = column(converter=n.optional(n.number), description="the score of a scored question")
    value: str = column("", converter=n.long_text, description="free text or the chosen option")
    choices: list = column(list)


RECORD_TYPES = (Survey, Question, Invitation, Response, Answer)
