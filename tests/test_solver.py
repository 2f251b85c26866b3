"""Calculator.solve: the model's answer beside the exact one, with an honest provenance."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import lawt.solver
from lawt.encodings import ENTRY_NOT_INVERTIBLE, EOS, make_codec
from lawt.evaluate import CONFIDENCE_BINS
from lawt.matrix_text import MatrixFormatError
from lawt.model import Seq2Seq
from lawt.ops import OperandError
from lawt.predict import Prediction
from lawt.solver import (
    INVALID_OUTPUT,
    TRANSFORMER,
    UNAVAILABLE,
    UNTRAINED_SIZE,
    Calculator,
)

KEYS = ["5%", "2%", "1%", "0.5%"]


@pytest.fixture(scope="module")
def calc(tiny_zoo: Path) -> Calculator:
    return Calculator(root=tiny_zoo)


def test_answer_from_the_model(calc: Calculator) -> None:
    answer = calc.solve("transpose", [[[1, 2], [3, 4]]])
    assert answer.provenance == TRANSFORMER and answer.provenance_detail == "computed by the transformer"
    assert answer.size == "2x2" and answer.operands == [[[1.0, 2.0], [3.0, 4.0]]]
    assert answer.exact_answer == [[[1.0, 3.0], [2.0, 4.0]]]
    assert answer.model_answer is not None and len(answer.model_answer[0]) == 2
    assert list(answer.passes) == KEYS
    assert answer.log_prob is not None and answer.log_prob <= 0
    assert answer.confidence == pytest.approx(math.exp(answer.log_prob))
    assert answer.confidence_per_number == pytest.approx(math.exp(answer.log_prob / 4))  # 2×2: four numbers
    assert answer.decode_ms is not None and answer.decode_ms > 0
    assert len(answer.tokens) == 4  # one entry position per number
    card = answer.model
    assert card is not None and card["encoding"] == "entry" and card["sizes"] == ["2x2"]
    assert card["width"] == 32 and card["parameters"] > 0
    data = answer.to_dict()
    assert {"operation", "model_answer", "exact_answer", "relative_error", "confidence", "provenance",
            "decode_ms", "timing_ms", "tokens", "beams", "invertible", "model"} <= set(data)


def test_untrained_size_is_said(calc: Calculator) -> None:
    answer = calc.solve("transpose", [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    assert answer.provenance == UNTRAINED_SIZE
    assert answer.provenance_detail == "this model was trained on sizes 2x2"
    assert answer.exact_answer == [[[1.0, 4.0, 7.0], [2.0, 5.0, 8.0], [3.0, 6.0, 9.0]]]


def test_missing_model_gives_only_the_exact_answer(calc: Calculator) -> None:
    answer = calc.solve("inverse", [[[2, 0], [0, 4]]])
    assert answer.provenance == UNAVAILABLE and "no trained model" in answer.provenance_detail
    assert answer.model_answer is None and answer.confidence is None and answer.model is None
    assert answer.exact_answer == [[[0.5, 0.0], [0.0, 0.25]]]
    assert answer.invertible == {"exact": True, "determinant": pytest.approx(8.0),
                                 "condition_number": pytest.approx(2.0), "model": None}
    singular = calc.solve("inverse", [[[3, 6], [1, 2]]])
    assert singular.exact_answer is None and singular.invertible is not None
    assert singular.invertible["exact"] is False
    assert str(singular.invertible["determinant"]) == "0.0"  # LU gives -0.0 here
    cond = singular.invertible["condition_number"]
    assert cond is None or cond > 1e10  # numerically infinite


def test_value_outside_the_encoding_is_scaled_into_it(calc: Calculator) -> None:
    """1e200 is beyond P1000's exponents; both operands of a sum are read times 10^-199 (the other entries
    underflow to zero there) and the answer is the model's, scaled back."""
    answer = calc.solve("sum", [[[1e200, 2]], [[1, 2]]])
    assert answer.scaled_by == [-199, -199] and "10^-199" in answer.provenance_detail
    assert answer.exact_answer == [[[1e200, 4.0]]]
    assert answer.tokens  # the model read it and answered (this untrained one with an invalid output)


def test_beams(calc: Calculator) -> None:
    answer = calc.solve("sum", [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], beam=3)
    assert len(answer.beams) == 3
    scores = [b["log_prob"] for b in answer.beams]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(answer.log_prob)
    for b in answer.beams:
        assert set(b) == {"answer", "not_invertible", "log_prob", "relative_error"}
    assert calc.solve("sum", [[[1]], [[2]]]).beams == []


@pytest.mark.parametrize(("operation", "operands", "error", "message"), [
    ("sum", [[[1, 2]]], OperandError, "takes 2 operand"),
    ("sum", [[[1, 2]], [[1], [2]]], OperandError, "same shape"),
    ("eigenvalues", [[[1, 2], [3, 4]]], OperandError, "symmetric"),
    ("inverse", [[[1, 2, 3], [4, 5, 6]]], OperandError, "square"),
    ("transpose", [[[1, 2], [3]]], MatrixFormatError, "different lengths"),
    ("transpose", [[[1, float("nan")]]], MatrixFormatError, "NaN"),
    ("transpose", "[[1, 2]]", OperandError, "list of matrices"),
    ("determinant", [[[1]]], ValueError, "unknown operation"),
])
def test_bad_problems_are_refused(calc: Calculator, operation: str, operands: object, error: type,
                                  message: str) -> None:
    with pytest.raises(error, match=message):
        calc.solve(operation, operands)  # type: ignore[arg-type]


@pytest.mark.parametrize("beam", [0, 9])
def test_beam_width_is_limited(calc: Calculator, beam: int) -> None:
    with pytest.raises(OperandError, match="beam must be between 1 and 8"):
        calc.solve("transpose", [[[1]]], beam=beam)


def test_output_that_does_not_decode(tmp_path: Path, make_model: Callable[..., Seq2Seq],
                                     ship_model: Callable[..., Seq2Seq]) -> None:
    model = make_model("P1000", 0)
    with torch.no_grad():
        model.heads[0].bias[EOS] = 50.0  # ends every answer at once: no dimension tokens, no numbers
    ship_model(tmp_path / "sum", "sum", "P1000", ["2x2"], model=model)
    answer = Calculator(root=tmp_path).solve("sum", [[[1, 2], [3, 4]], [[1, 1], [1, 1]]])
    assert answer.provenance == INVALID_OUTPUT
    assert "does not decode" in answer.provenance_detail
    assert answer.model_answer is None and answer.relative_error is None
    assert answer.passes == dict.fromkeys(KEYS, False)
    assert answer.tokens == ["<eos>"]
    assert answer.exact_answer == [[[2.0, 3.0], [4.0, 5.0]]]


def verdict_prediction(not_invertible: bool) -> Callable[..., Prediction]:
    """A stand-in for ``predict`` whose model answers "not invertible" (or a wrong inverse)."""
    def answer(model: Seq2Seq, codec: object, op: object, operands: list[torch.Tensor], dims: tuple,
               beam: int = 1) -> Prediction:
        n = operands[0].shape[-1]
        return Prediction(parts=[torch.zeros(1, n, n, dtype=torch.float64)],
                          valid=torch.tensor([not not_invertible]), not_invertible=torch.tensor([not_invertible]),
                          log_prob=torch.tensor([[-0.5]]), fields=torch.zeros(1, 1, 2, 1, dtype=torch.long),
                          decode_seconds=0.001, operand_powers=[torch.zeros(1)], answer_powers=[torch.zeros(1)])
    return answer


@pytest.mark.parametrize(("matrix", "singular"), [([[1, 2], [2, 4]], True), ([[1, 2], [3, 4]], False)])
def test_inverse_verdicts(tmp_path: Path, ship_model: Callable[..., Seq2Seq], monkeypatch: pytest.MonkeyPatch,
                          matrix: list[list[float]], singular: bool) -> None:
    ship_model(tmp_path / "inverse", "inverse", "P1000", ["2x2"])
    monkeypatch.setattr(lawt.solver, "predict", verdict_prediction(not_invertible=True))
    answer = Calculator(root=tmp_path).solve("inverse", [matrix])
    assert answer.invertible is not None and answer.invertible["model"] is False
    assert answer.invertible["exact"] is (not singular)
    assert answer.model_answer is None and answer.provenance == TRANSFORMER
    if singular:  # the right verdict is a right answer
        assert answer.relative_error == 0.0 and answer.passes == dict.fromkeys(KEYS, True)
    else:
        assert answer.relative_error is None and answer.passes == dict.fromkeys(KEYS, False)
    monkeypatch.setattr(lawt.solver, "predict", verdict_prediction(not_invertible=False))
    answer = Calculator(root=tmp_path).solve("inverse", [matrix])
    assert answer.invertible is not None and answer.invertible["model"] is True
    assert answer.passes == dict.fromkeys(KEYS, False)  # zeros are never an inverse; no verdict for singular


def test_entry_model_answering_not_invertible(tmp_path: Path, make_model: Callable[..., Seq2Seq],
                                              ship_model: Callable[..., Seq2Seq]) -> None:
    """The answer a well-trained inverse model gives for a singular matrix must not crash the solver."""
    model = make_model("entry", 0)
    with torch.no_grad():
        model.heads[1].bias[ENTRY_NOT_INVERTIBLE] = 50.0
    ship_model(tmp_path / "inverse", "inverse", "entry", ["2x2"], model=model)
    answer = Calculator(root=tmp_path).solve("inverse", [[[1, 2], [2, 4]]])
    assert answer.invertible is not None and answer.invertible["model"] is False
    assert answer.relative_error == 0.0 and answer.tokens == ["<not-invertible>"]
    assert answer.confidence_per_number == pytest.approx(answer.confidence)  # one verdict, not four numbers


def test_broken_model_is_reported(tmp_path: Path, ship_model: Callable[..., Seq2Seq]) -> None:
    ship_model(tmp_path / "transpose", "transpose", "entry", ["2x2"])
    (tmp_path / "transpose" / "model.safetensors").write_bytes(b"broken")
    calc = Calculator(root=tmp_path)
    status = calc.status("transpose")
    assert isinstance(status, str) and "model.safetensors" in status and "checksum" in status
    answer = calc.solve("transpose", [[[1, 2]]])
    assert answer.provenance == UNAVAILABLE and "checksum" in answer.provenance_detail
    assert answer.exact_answer == [[[1.0], [2.0]]]


def test_values_outside_the_training_range_are_scaled_into_it_and_say_so(tiny_zoo: Path) -> None:
    """Entries beyond [1, 10] are read scaled by a power of ten, the answer scaled back: the same model
    answer, 100 times larger, and the answer says it was scaled."""
    calc = Calculator(root=tiny_zoo)
    inside = calc.solve("transpose", [[[1.0, -2.0], [3.0, 9.5]]])
    outside = calc.solve("transpose", [[[100.0, -200.0], [300.0, 950.0]]])
    assert inside.scaled_by == [0] and "10^" not in inside.provenance_detail
    assert outside.scaled_by == [-2] and "10^-2" in outside.provenance_detail
    assert outside.provenance == inside.provenance
    assert outside.tokens == inside.tokens
    assert outside.model_answer == [[[100 * x for x in row] for row in inside.model_answer[0]]]
    assert outside.to_dict()["scaled_by"] == [-2]


def test_card_shows_the_verdict_and_the_other_test_sets(tmp_path: Path, ship_model: Callable[..., Seq2Seq]) -> None:
    """An inverse card measured on its training set and on other test sets shows them all, and the share of
    right *invertible?* answers, overall and at the asked size on each set that has it."""
    ship_model(tmp_path / "inverse", "inverse", "entry", ["2x2"])
    half = dict.fromkeys(KEYS, 0.5)
    table = {"count": 10, "overall": half, "per_size": {"2x2": {"count": 10, **half}}}
    mixed = {**table, "per_size": {"2x2": {"count": 10, **half, "invertibility": 0.8}},
             "invertibility": {"count": 10, "accuracy": 0.9}}
    evaluation = {"operation": "inverse", "encoding": "entry", "tolerances": KEYS, "distributions": {
        "mixed": mixed,
        "near_singular": {**table, "overall": dict.fromkeys(KEYS, 0.1)},
        "integer": {**table, "per_size": {"2x2": {"count": 10, **half, "invertibility": 0.3}}}}}
    config = tmp_path / "inverse" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "evaluation": evaluation}))
    card = Calculator(root=tmp_path).solve("inverse", [[[2, 0], [0, 4]]]).model
    assert card is not None and card["accuracy"] == dict.fromkeys(KEYS, 0.5)
    assert card["verdict_accuracy"] == 0.9 and card["verdict_accuracy_this_size"] == 0.8
    assert card["other_distributions"] == {"near_singular": dict.fromkeys(KEYS, 0.1), "integer": half}
    assert card["other_verdicts_this_size"] == {"integer": 0.3}  # near_singular has no verdict per size here


def test_the_card_gives_the_accuracy_measured_at_an_untrained_size(tmp_path: Path,
                                                                   ship_model: Callable[..., Seq2Seq]) -> None:
    ship_model(tmp_path / "transpose", "transpose", "entry", ["2x2"])
    zero, half = dict.fromkeys(KEYS, 0.0), dict.fromkeys(KEYS, 0.5)
    config = tmp_path / "transpose" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "evaluation": {
        "operation": "transpose", "encoding": "entry", "tolerances": KEYS, "distributions": {"uniform": {
            "count": 10, "overall": half, "per_size": {"2x2": {"count": 10, **half}}}}},
        "untrained_evaluation": {"count": 4, "overall": zero, "per_size": {"3x3": {"count": 4, **zero}}}}))
    calc = Calculator(root=tmp_path)
    trained = calc.solve("transpose", [[[1, 2], [3, 4]]]).model
    assert trained is not None and trained["size_trained"] and trained["accuracy_this_size"]["5%"] == 0.5
    untrained = calc.solve("transpose", [[[1, 2, 3]] * 3]).model
    assert untrained is not None and not untrained["size_trained"]
    assert untrained["accuracy_this_size"] == {"count": 4, **zero}
    assert calc.solve("transpose", [[[1]]]).model["accuracy_this_size"] is None  # measured at neither
    assert lawt.solver.model_card(calc.models["transpose"])["size_trained"] is None  # no size asked


def test_an_answer_says_how_often_answers_as_confident_were_right(tmp_path: Path,
                                                                   ship_model: Callable[..., Seq2Seq]) -> None:
    ship_model(tmp_path / "transpose", "transpose", "entry", ["2x2"])
    half = dict.fromkeys(KEYS, 0.5)
    ranges = [{"from": a, "to": b, "count": 10 * (i + 1), **dict.fromkeys(KEYS, i / 10)}
              for i, (a, b) in enumerate(itertools.pairwise(CONFIDENCE_BINS))]
    config = tmp_path / "transpose" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "evaluation": {
        "operation": "transpose", "encoding": "entry", "tolerances": KEYS, "distributions": {"uniform": {
            "count": 10, "overall": half, "per_size": {"2x2": {"count": 10, **half}}, "calibration": ranges}}}}))
    calc = Calculator(root=tmp_path)
    answer = calc.solve("transpose", [[[1, 2], [3, 4]]])
    c = answer.calibration
    assert c is not None and c["from"] <= answer.confidence_per_number < c["to"]
    i = CONFIDENCE_BINS.index(c["from"])
    assert c["count"] == 10 * (i + 1) and c["accuracy"] == dict.fromkeys(KEYS, i / 10)
    assert answer.to_dict()["calibration"] == c
    assert lawt.solver.calibration_for({"evaluation": {"distributions": {"u": {"calibration": ranges}}}},
                                       1.0)["to"] == 1.0  # the last range holds 1
    assert calc.solve("transpose", [[[1, 2], [3, 4]]], beam=2).calibration is None  # measured greedy only
    assert calc.solve("transpose", [[[1, 2, 3]] * 3]).calibration is None  # an untrained size: not measured there
    assert c["test_set"] == "uniform"  # whole numbers, but the card has no typed measurement


def test_whole_number_operands_are_quoted_the_typed_measurement(tmp_path: Path,
                                                                 ship_model: Callable[..., Seq2Seq]) -> None:
    """What people type (whole numbers, zeros) is not what a model's main test set holds: an answer to such
    operands quotes the card's typed test set, and the card shows the typed accuracy at the size."""
    ship_model(tmp_path / "transpose", "transpose", "entry", ["2x2"])
    ranges = [{"from": a, "to": b, "count": 10, **dict.fromkeys(KEYS, 0.9)}
              for a, b in itertools.pairwise(CONFIDENCE_BINS)]
    typed_ranges = [{**row, "count": 7, **dict.fromkeys(KEYS, 0.2)} for row in ranges]
    main, low = dict.fromkeys(KEYS, 0.9), dict.fromkeys(KEYS, 0.2)
    table = {"count": 10, "overall": main, "per_size": {"2x2": {"count": 10, **main}}}
    typed = {**table, "overall": low, "per_size": {"2x2": {"count": 7, **low}}}
    config = tmp_path / "transpose" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "evaluation": {
        "operation": "transpose", "encoding": "entry", "tolerances": KEYS, "distributions": {
            "uniform": {**table, "calibration": ranges}, "typed": {**typed, "calibration": typed_ranges}}}}))
    calc = Calculator(root=tmp_path)
    whole = calc.solve("transpose", [[[1, 0], [-3, 4]]])
    assert whole.calibration["test_set"] == "typed" and whole.calibration["count"] == 7
    assert whole.calibration["accuracy"]["5%"] == 0.2
    decimal = calc.solve("transpose", [[[1.5, 0], [-3, 4]]])
    assert decimal.calibration["test_set"] == "uniform" and decimal.calibration["accuracy"]["5%"] == 0.9
    assert whole.model["typed_accuracy_this_size"]["5%"] == 0.2
    assert calc.solve("transpose", [[[1, 2, 3]] * 3]).model["typed_accuracy_this_size"] is None  # untrained size


def test_warm_up_runs_every_loaded_model(calc: Calculator, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = lawt.solver.predict
    monkeypatch.setattr(lawt.solver, "predict", lambda model, codec, op, *a, **k: seen.append(op.name) or real(
        model, codec, op, *a, **k))
    calc.warm_up()
    assert sorted(seen) == ["sum", "transpose"]


def test_a_grid_bias_model_answers_and_its_card_names_the_design(tmp_path: Path,
                                                                 ship_model: Callable[..., Seq2Seq]) -> None:
    torch.manual_seed(0)
    model = Seq2Seq.for_codec(make_codec("entry"), d_model=16, n_heads=2, grid_bias=True, index_bias=True)
    ship_model(tmp_path / "product", "product", "entry", ["2x2"], model=model)
    answer = Calculator(root=tmp_path).solve("product", [[[1, 2], [3, 4]], [[0, 1], [1, 0]]])
    assert answer.provenance in (TRANSFORMER, INVALID_OUTPUT), answer.provenance_detail  # the model ran
    assert answer.model is not None and answer.model["features"] == ["grid attention bias", "index bias"]
