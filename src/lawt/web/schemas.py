"""Request and response bodies of the API (they also make the OpenAPI schema)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from lawt.encodings import MAX_DIM
from lawt.matrix_text import MatrixFormatError, check_matrix
from lawt.ops import OPERATIONS

OperationName = Literal[tuple(OPERATIONS)]  # type: ignore[valid-type]
Row = Annotated[list[float], Field(min_length=1, max_length=MAX_DIM)]
Matrix = Annotated[list[Row], Field(min_length=1, max_length=MAX_DIM)]
AnswerMatrix = list[list[float | None]]  # None where a value overflowed
MAX_COMMENT = 100


class Problem(BaseModel):
    """Every error: a sentence naming what is wrong."""

    detail: str


class ComputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: OperationName
    operands: Annotated[list[Matrix | Row], Field(
        min_length=1, max_length=2,
        description="Matrices as lists of rows (1 to 10 rows and columns); a vector may be a plain list.",
        examples=[[[[1, 2], [3, 4]]]])]
    beam: Annotated[StrictInt, Field(ge=1, le=8, description="Beam width; above 1 the alternatives are returned")] = 1

    @field_validator("operands", mode="before")
    @classmethod
    def _matrices(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        checked = []
        for i, item in enumerate(value):
            try:
                checked.append(check_matrix(item, allow_vector=True))
            except MatrixFormatError as exc:
                raise ValueError(f"operand {i + 1}: {exc}") from None
        return checked


class Timing(BaseModel):
    model: float | None
    exact: float


class Invertibility(BaseModel):
    exact: bool
    determinant: float | None
    condition_number: float | None
    model: bool | None


class Beam(BaseModel):
    answer: list[AnswerMatrix] | None
    not_invertible: bool
    log_prob: float | None
    relative_error: float | None


class StartedFrom(BaseModel):
    operation: str  # the model it started from was trained for this operation
    cpu_hours: float  # that model's training, counted in training_cpu_hours


class BarThisSize(BaseModel):
    """The asked size measured on problems of its own (``lawt bar``), against the operation's bar."""

    tolerance: float
    share: float  # the bar: at least this share right within ``tolerance``
    problems: int
    accuracy: float  # the share right within ``tolerance``
    met: bool


class ModelCard(BaseModel):
    operation: str
    encoding: str
    sizes: list[str]
    encoder_layers: int
    decoder_layers: int
    width: int
    heads: int
    features: list[str] = []  # the architecture's optional parts, e.g. "grid attention bias"
    scratchpad: str | None = None  # what the model writes before its answer, e.g. "Gram matrix"
    parameters: int | None
    examples_seen: int | None
    training_cpu_hours: float
    started_from: StartedFrom | None = None  # a model trained from another model's weights
    distribution: str | None
    accuracy: dict[str, float | None] | None
    accuracy_this_size: dict[str, float | None] | None  # at the asked size: measured on untrained sizes too
    typed_accuracy_this_size: dict[str, float | None] | None = None  # the same on typed problems (whole numbers)
    size_trained: bool | None = None  # whether the model was trained on the asked size (None: no size asked)
    evaluated_on: int
    verdict_accuracy: float | None = None  # inverse: share of right "invertible?" answers
    verdict_accuracy_this_size: float | None = None  # the same at the asked size, when the card has it
    other_distributions: dict[str, dict[str, float | None]] = {}  # accuracy on the other test sets
    other_verdicts_this_size: dict[str, float] = {}  # inverse: right verdicts at the asked size on those sets
    bar_this_size: BarThisSize | None = None  # elementary operations, once measured with ``lawt bar --record``


class Calibration(BaseModel):
    """How often the model's test answers whose confidence a number lay in one range were right."""

    from_: float = Field(alias="from", description="the range's lower end (included)")
    to: float = Field(description="its upper end (excluded, but for 1)")
    count: int = Field(description="test answers in the range (greedy decoding)")
    test_set: str = Field(description="the test set measured: 'typed' for operands of whole numbers, when the "
                                      "card has it, else the model's main one")
    accuracy: dict[str, float] = Field(description="share of them within each tolerance, keyed '5%', '2%', …")


class Scratchpad(BaseModel):
    """Intermediate results the model wrote before its answer, beside their exact values; never judged."""

    title: str
    model: list[AnswerMatrix]
    exact: list[AnswerMatrix]


class ComputeResponse(BaseModel):
    operation: str
    size: str
    operands: list[Matrix]
    model_answer: list[AnswerMatrix] | None
    exact_answer: list[AnswerMatrix] | None
    part_names: list[str]
    scaled_by: list[int] = Field(
        description="per operand, the power of ten the model read it multiplied by: operands whose largest entry "
                    "lies outside [1, 10] are scaled into it, as in training, and the answer scaled back (exact)")
    relative_error: float | None
    passes: dict[str, bool]
    confidence: float | None = Field(description="the model's probability of its whole answer")
    confidence_per_number: float | None = Field(
        description="the geometric mean of that probability over the answer's numbers: how sure the model is of "
                    "a typical number (for a 'not invertible' answer, the probability of that answer)")
    calibration: Calibration | None = Field(
        default=None, description="the card's measurement for answers as confident as this one (greedy answers from "
                                  "a trained size and range only)")
    log_prob: float | None
    provenance: str = Field(description="transformer, transformer-untrained-size, model-output-invalid, "
                                        "model-unavailable")
    provenance_detail: str
    decode_ms: float | None
    timing_ms: Timing
    tokens: list[str]
    beams: list[Beam]
    invertible: Invertibility | None
    scratchpad: Scratchpad | None = Field(
        default=None, description="what the model wrote before its answer (its working), beside the exact values")
    model: ModelCard | None


class OperationInfo(BaseModel):
    operation: str
    title: str
    operands: int
    square: bool
    symmetric: bool
    available: bool
    reason: str | None = Field(description="why there is no model (when unavailable)")
    card: ModelCard | None


class Example(BaseModel):
    operation: str
    size: str
    distribution: str
    operands: list[Matrix]
    trained_size: bool = Field(description="whether the model was trained on this size")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(description=f"1 to {MAX_COMMENT} characters, trimmed")]

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value).strip()
        if not value:
            raise ValueError("the comment is empty")
        if len(value) > MAX_COMMENT:
            raise ValueError(f"comments are limited to {MAX_COMMENT} characters, got {len(value)}")
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise ValueError("comments cannot contain control characters")
        return value


class CommentOut(BaseModel):
    id: int
    text: str
    created_at: datetime


class Stats(BaseModel):
    online_now: int = Field(description="distinct visitors seen in the last 5 minutes")
    total_visitors: int
    computations: int
    most_used_operation: str | None
    most_used_count: int


class Health(BaseModel):
    status: str
    models_available: int


def problems(*codes: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for error codes, all shaped like :class:`Problem`."""
    return {code: {"model": Problem} for code in codes}
