"""Answer one problem with its operation's model, beside the exact answer, saying where each came from.

This is the single entry point shared by ``lawt solve``, the Python API and the web server. The exact
solver never stands in for the model: when the model is missing, fails, or sees a size it was not
trained on, :attr:`Answer.provenance` says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lawt.bar import current_check
from lawt.curves import started_operation
from lawt.evaluate import CONFIDENCE_BINS, confidence_range
from lawt.matrix_text import check_matrix
from lawt.ops import OperandError, Operation, get_operation
from lawt.ops.base import TYPED
from lawt.ops.inverse import condition_number, is_singular
from lawt.predict import TOLERANCES, confidence_per_number, errors, predict, tolerance_key
from lawt.scaling import scale_back
from lawt.zoo import ZOO_DIR, LoadedModel, ModelLoadError, discover

# Provenance labels
TRANSFORMER = "transformer"
UNTRAINED_SIZE = "transformer-untrained-size"
INVALID_OUTPUT = "model-output-invalid"
UNAVAILABLE = "model-unavailable"

PROVENANCE_TEXT = {
    TRANSFORMER: "computed by the transformer",
    UNTRAINED_SIZE: "computed by the transformer, on a size it was not trained on",
    INVALID_OUTPUT: "the transformer's output does not decode to an answer of the right shape",
    UNAVAILABLE: "no model answer: model unavailable",
}

Matrix = list[list[float]]


@dataclass
class Answer:
    """Everything known about one computation; ``to_dict`` is the JSON the CLI and API return."""

    operation: str
    size: str
    operands: list[Matrix]
    provenance: str
    provenance_detail: str
    model_answer: list[Matrix] | None = None
    exact_answer: list[Matrix] | None = None
    part_names: list[str] = field(default_factory=list)
    scaled_by: list[int] = field(default_factory=list)  # per operand: the model read it times 10^this
    relative_error: float | None = None
    passes: dict[str, bool] = field(default_factory=dict)
    confidence: float | None = None
    confidence_per_number: float | None = None
    calibration: dict | None = None
    log_prob: float | None = None
    decode_ms: float | None = None
    exact_ms: float = 0.0
    tokens: list[str] = field(default_factory=list)
    beams: list[dict] = field(default_factory=list)
    invertible: dict | None = None
    scratchpad: dict | None = None  # what the model wrote before its answer: {"title", "model", "exact"}
    model: dict | None = None

    def to_dict(self) -> dict:
        return {
            "operation": self.operation, "size": self.size, "operands": self.operands,
            "model_answer": self.model_answer, "exact_answer": self.exact_answer, "part_names": self.part_names,
            "scaled_by": self.scaled_by,
            "relative_error": self.relative_error, "passes": self.passes, "confidence": self.confidence,
            "confidence_per_number": self.confidence_per_number, "calibration": self.calibration,
            "log_prob": self.log_prob, "provenance": self.provenance, "provenance_detail": self.provenance_detail,
            "decode_ms": self.decode_ms, "timing_ms": {"model": self.decode_ms, "exact": self.exact_ms},
            "tokens": self.tokens, "beams": self.beams, "invertible": self.invertible,
            "scratchpad": self.scratchpad, "model": self.model,
        }


PART_NAMES = {
    "eigenvectors": ["eigenvalues λ", "eigenvectors V (columns)"],
    "svd": ["U", "singular values σ", "V"],
    "eigenvalues": ["eigenvalues"],
    "singular_values": ["singular values"],
}


def _lists(parts: list[torch.Tensor]) -> list[Matrix]:
    return [[[_finite(x) for x in row] for row in p[0].tolist()] for p in parts]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def model_card(loaded: LoadedModel, size: str | None = None) -> dict:
    """The card shown beside an answer: architecture, training and measured accuracy (for ``size``: from the
    card's main evaluation if the model was trained on it, else from its evaluation on untrained sizes)."""
    card = loaded.card
    arch = card["architecture"]
    evaluation = card.get("evaluation") or {}
    tables = evaluation.get("distributions", {})
    main = next(iter(tables.values()), None)
    trained = size is not None and size in card["sizes"]
    measured_on = main if trained else card.get("untrained_evaluation")
    this_size = measured_on["per_size"].get(size) if measured_on and size else None
    typed_this_size = tables[TYPED]["per_size"].get(size) if TYPED in tables and trained else None
    others = list(tables.items())[1:]
    return {
        "operation": card["operation"], "encoding": card["encoding"], "sizes": card["sizes"],
        "encoder_layers": arch["enc_layers"], "decoder_layers": arch["dec_layers"], "width": arch["d_model"],
        "heads": arch["n_heads"], "features": loaded.model.cfg.features(), "parameters": card.get("parameters"),
        "scratchpad": loaded.op.scratch_title or None,
        "examples_seen": card.get("training", {}).get("examples"),
        "training_cpu_hours": round(card.get("training", {}).get("cpu_seconds", 0) / 3600, 3),
        "started_from": _started_from(card),
        "distribution": card.get("distribution"),
        "accuracy": main["overall"] if main else None,
        "accuracy_this_size": this_size,
        "typed_accuracy_this_size": typed_this_size,
        "size_trained": None if size is None else trained,
        "evaluated_on": main["count"] if main else 0,
        "verdict_accuracy": (main.get("invertibility") or {}).get("accuracy") if main else None,
        "verdict_accuracy_this_size": (this_size or {}).get("invertibility"),
        "other_distributions": {name: table["overall"] for name, table in others},
        "other_verdicts_this_size": {name: table["per_size"][size]["invertibility"] for name, table in others
                                     if "invertibility" in table["per_size"].get(size, {})},
        "bar_this_size": _bar_this_size(card, size),
    }


def _bar_this_size(card: dict, size: str | None) -> dict | None:
    """The asked size as ``lawt bar`` measured it on problems of its own, against the operation's bar (None
    when the card holds no such measurement of its weights at that size)."""
    check = current_check(card)
    if check is None or size not in check["per_size"]:
        return None
    rate = check["per_size"][size]
    return {"tolerance": check["tolerance"], "share": check["share"], "problems": check["problems_per_size"],
            "accuracy": rate, "met": rate >= check["share"]}


def _started_from(card: dict) -> dict | None:
    """The model a fine-tune or a transfer started from: its operation and the CPU-hours it brought into the
    card's total."""
    start = card.get("training", {}).get("started_from")
    if not start:
        return None
    return {"operation": started_operation(start, card["operation"]),
            "cpu_hours": round(start.get("cpu_seconds", 0.0) / 3600, 3)}


class Calculator:
    """Holds the shipped models (loaded once) and answers problems."""

    def __init__(self, models: dict[str, LoadedModel | ModelLoadError] | None = None,
                 root: Path = ZOO_DIR) -> None:
        self.models = discover(root) if models is None else models

    def warm_up(self) -> None:
        """Run every loaded model once on its smallest trained size. The first inference of a process pays
        about half a second of one-time library initialisation; this way no visitor does."""
        for entry in self.models.values():
            if isinstance(entry, LoadedModel):
                dims = entry.sizes[0]
                problems = entry.op.generate(1, dims, torch.Generator().manual_seed(0))
                with torch.inference_mode():
                    predict(entry.model, entry.codec, entry.op, problems.operands, dims)

    def status(self, name: str) -> LoadedModel | str:
        """The loaded model, or why there is none."""
        entry = self.models.get(name)
        if entry is None:
            return "no trained model has been shipped for this operation yet"
        if isinstance(entry, ModelLoadError):
            return str(entry)
        return entry

    def solve(self, operation: str, operands: list[Matrix], beam: int = 1) -> Answer:
        """Validate, run the model, compute the exact answer and compare. Raises ValueError on bad input."""
        op = get_operation(operation)
        if not isinstance(operands, list):
            raise OperandError("operands must be a list of matrices")
        operands = [check_matrix(m, allow_vector=True) for m in operands]
        tensors = [torch.tensor(m, dtype=torch.float64).unsqueeze(0) for m in operands]
        dims = op.dims_of([tuple(t.shape[1:]) for t in tensors])
        op.check_operands(tensors)
        if not 1 <= beam <= 8:
            raise OperandError("beam must be between 1 and 8")
        size = op.label(dims)
        answer = Answer(operation=op.name, size=size, operands=operands, provenance=TRANSFORMER,
                        provenance_detail="", part_names=PART_NAMES.get(op.name, [op.title]))
        start = time.perf_counter()
        singular = self._exact(op, tensors, answer)
        answer.exact_ms = round(1000 * (time.perf_counter() - start), 3)
        status = self.status(op.name)
        if isinstance(status, str):
            answer.provenance, answer.provenance_detail = UNAVAILABLE, status
            return answer
        answer.model = model_card(status, size)
        self._run_model(status, tensors, dims, beam, singular, answer)
        return answer

    @staticmethod
    def _exact(op: Operation, tensors: list[torch.Tensor], answer: Answer) -> torch.Tensor | None:
        if op.name != "inverse":
            answer.exact_answer = _lists(op.solve(tensors))
            return None
        a = tensors[0]
        singular = is_singular(a)
        determinant = float(torch.linalg.det(a)[0]) + 0.0  # + 0.0: LU gives -0.0 for some singular matrices
        answer.invertible = {"exact": not bool(singular[0]), "determinant": determinant,
                             "condition_number": _finite(float(condition_number(a)[0])), "model": None}
        answer.exact_answer = None if bool(singular[0]) else _lists(op.solve(tensors))
        return singular

    @staticmethod
    def _run_model(loaded: LoadedModel, tensors: list[torch.Tensor], dims: tuple, beam: int,
                   singular: torch.Tensor | None, answer: Answer) -> None:
        """Run the model on the problem and fill in its answer, error, confidence and provenance."""
        op = loaded.op  # the operation as the model writes it: after its scratchpad, if it has one
        with torch.inference_mode():
            prediction = predict(loaded.model, loaded.codec, op, tensors, dims, beam=beam)
        answer.decode_ms = round(1000 * prediction.decode_seconds, 3)
        answer.log_prob = float(prediction.log_prob[0, 0])
        answer.confidence = math.exp(answer.log_prob)
        answer.confidence_per_number = float(confidence_per_number(op, dims, prediction)[0])
        answer.tokens = loaded.codec.describe(prediction.fields[0, 0])
        err = errors(op, tensors, prediction, singular)
        answer.relative_error = _finite(float(err[0]))
        answer.passes = {tolerance_key(t): bool(err[0] < t) for t in TOLERANCES}
        if answer.invertible is not None:
            answer.invertible["model"] = not bool(prediction.not_invertible[0])
        if bool(prediction.valid[0]):
            answer.model_answer = _lists(op.answer_of(prediction.parts))
            if scratch := op.scratch_of(prediction.parts):
                answer.scratchpad = {"title": op.scratch_title, "model": _lists(scratch),
                                     "exact": _lists(op.working(tensors))}
        elif not bool(prediction.not_invertible[0]):
            answer.provenance = INVALID_OUTPUT
        if beam > 1:
            answer.beams = _beams(loaded, op, tensors, dims, prediction, singular)
        if answer.provenance == TRANSFORMER and dims not in loaded.sizes:
            answer.provenance = UNTRAINED_SIZE
            answer.provenance_detail = f"this model was trained on sizes {', '.join(loaded.card['sizes'])}"
        answer.scaled_by = [-int(p[0]) for p in prediction.operand_powers]
        answer.provenance_detail = answer.provenance_detail or PROVENANCE_TEXT[answer.provenance]
        if any(answer.scaled_by):
            answer.provenance_detail += (f"; it read the operands multiplied by {_powers(answer.scaled_by)} (which "
                                         "brings their largest entries into [1, 10], as in training; exact) and its "
                                         "answer was scaled back")
        if answer.provenance == TRANSFORMER and beam == 1:
            answer.calibration = calibration_for(loaded.card, answer.confidence_per_number,
                                                 TYPED if typed_entries(tensors) else None)


def _powers(exponents: list[int]) -> str:
    """``[-2, 0]`` as ``"10^-2 and 10^0"``, one power per operand."""
    return " and ".join(f"10^{e}" for e in exponents)


def typed_entries(tensors: list[torch.Tensor]) -> bool:
    """Whether every entry is a whole number, as in the ``typed`` test set (and in what people type)."""
    return all(bool((t == t.round()).all()) for t in tensors)


def calibration_for(card: dict, confidence: float, test_set: str | None = None) -> dict | None:
    """The card's measurement for answers whose confidence a number lies in the same range as ``confidence``,
    on ``test_set`` if the card has it, else on its main test set: ``{"from", "to", "count", "test_set",
    "accuracy": {tolerance: share}}``; None if it has none."""
    tables = (card.get("evaluation") or {}).get("distributions", {})
    name = test_set if test_set in tables else next(iter(tables), None)
    lower = CONFIDENCE_BINS[int(confidence_range(torch.tensor([confidence], dtype=torch.float64))[0])]
    for row in (tables.get(name) or {}).get("calibration", []):
        if row["from"] == lower:
            return {"from": row["from"], "to": row["to"], "count": row["count"], "test_set": name,
                    "accuracy": {tolerance_key(t): row[tolerance_key(t)] for t in TOLERANCES}}
    return None


def _beams(loaded: LoadedModel, op: Operation, tensors: list[torch.Tensor], dims: tuple, prediction,
           singular: torch.Tensor | None) -> list[dict]:
    """Every beam's answer, score and error, best first."""
    beams = []
    for k in range(prediction.fields.shape[1]):
        decoded = loaded.codec.decode(prediction.fields[:, k], op.answer_shapes(dims))
        answer = scale_back(decoded.parts, prediction.answer_powers)
        err = op.error(tensors, [torch.nan_to_num(p) for p in answer])
        if singular is not None and bool(singular[0]):
            err = torch.where(decoded.not_invertible, 0.0, math.inf)
        err = torch.where(decoded.valid | decoded.not_invertible, err, math.inf)
        beams.append({
            "answer": _lists(op.answer_of(answer)) if bool(decoded.valid[0]) else None,
            "not_invertible": bool(decoded.not_invertible[0]),
            "log_prob": float(prediction.log_prob[0, k]), "relative_error": _finite(float(err[0])),
        })
    return beams
