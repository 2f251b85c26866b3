"""Scoring: errors() and passes() on predictions, accuracy tables and reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import exact_prediction

import lawt.evaluate
from lawt.encodings import ENTRY_NOT_INVERTIBLE, Codec, make_codec
from lawt.evaluate import accuracy_table, calibration_table, evaluate, size_score, untrained_squares, write_report
from lawt.model import Seq2Seq
from lawt.ops import OPERATIONS, Operation
from lawt.ops.base import Dims
from lawt.predict import TOLERANCES, Prediction, errors, passes, predict, tolerance_key

KEYS = ["5%", "2%", "1%", "0.5%"]
ONE_SIZE = {"product": (3, 2, 4), "eigenvalues": (4,), "eigenvectors": (4,), "inverse": (4,)}


def test_the_untrained_squares_reach_the_largest_size() -> None:
    product, eigenvalues = OPERATIONS["product"], OPERATIONS["eigenvalues"]
    trained = [dims for dims in product.all_sizes() if max(dims) <= 5]
    assert untrained_squares(product, trained) == [(n, n, n) for n in range(6, 11)]
    assert untrained_squares(eigenvalues, [(1,), (2,)]) == [(n,) for n in range(3, 11)]
    assert untrained_squares(OPERATIONS["sum"], [(4, 4), (2, 3)]) == [(n, n) for n in range(1, 11) if n != 4]
    assert untrained_squares(OPERATIONS["matvec"], OPERATIONS["matvec"].all_sizes()) == []


def test_tolerance_keys() -> None:
    assert [tolerance_key(t) for t in TOLERANCES] == KEYS


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_exact_answers_pass_every_tolerance(name: str) -> None:
    op = OPERATIONS[name]
    dims = ONE_SIZE.get(name, (3, 2))
    problems = op.generate(20, dims, torch.Generator().manual_seed(0))
    err = errors(op, problems.operands, exact_prediction(op, problems.operands), problems.singular)
    assert bool((err < 1e-6).all()), err
    assert all(bool(mask.all()) for mask in passes(err).values())
    err = errors(op, problems.operands, exact_prediction(op, problems.operands, scale=1.1), problems.singular)
    answerable = torch.ones(20, dtype=torch.bool) if problems.singular is None else ~problems.singular
    assert not bool(passes(err)["5%"][answerable].any())


def test_invalid_outputs_and_wrong_verdicts_score_infinity() -> None:
    op = OPERATIONS["inverse"]
    problems = op.generate(40, (3,), torch.Generator().manual_seed(1), "mixed")
    singular = problems.singular
    assert singular is not None and 0 < int(singular.sum()) < 40
    right = exact_prediction(op, problems.operands)
    assert bool((errors(op, problems.operands, right, singular) == 0)[singular].all())
    # verdicts swapped: "not invertible" for invertible matrices and an answer for singular ones
    swapped = Prediction(parts=right.parts, valid=singular.clone(), not_invertible=~singular,
                         log_prob=right.log_prob, fields=right.fields, decode_seconds=0.0,
                         operand_powers=right.operand_powers, answer_powers=right.answer_powers)
    assert bool(torch.isinf(errors(op, problems.operands, swapped, singular)).all())
    invalid = Prediction(parts=[torch.full_like(right.parts[0], float("nan"))], valid=torch.zeros(40, dtype=torch.bool),
                         not_invertible=torch.zeros(40, dtype=torch.bool), log_prob=right.log_prob,
                         fields=right.fields, decode_seconds=0.0, operand_powers=right.operand_powers,
                         answer_powers=right.answer_powers)
    err = errors(op, problems.operands, invalid, singular)
    assert bool(torch.isinf(err).all())
    assert not any(bool(m.any()) for m in passes(err).values())


def test_valid_outputs_with_nan_count_as_wrong_not_as_nan() -> None:
    op = OPERATIONS["sum"]
    problems = op.generate(4, (2, 2), torch.Generator().manual_seed(2))
    prediction = exact_prediction(op, problems.operands)
    prediction.parts[0][0, 0, 0] = float("inf")
    err = errors(op, problems.operands, prediction, None)
    assert not bool(err.isnan().any())
    assert passes(err)["5%"].tolist() == [False, True, True, True]


def test_calibration_ranges_hold_their_edges() -> None:
    confidence = torch.tensor([0.0, 0.0099, 0.01, 0.3, 0.6, 1.0])
    marks = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]]).bool()
    rows = calibration_table(confidence, marks)
    assert [(r["from"], r["to"], r["count"]) for r in rows] == [(0.0, 0.01, 2), (0.01, 0.03, 1), (0.3, 0.6, 1),
                                                               (0.6, 1.0, 2)]  # empty ranges are left out
    assert [r["5%"] for r in rows] == [0.5, 1.0, 1.0, 1.0] and [r["0.5%"] for r in rows] == [0.0, 0.0, 0.0, 1.0]


def test_passes_thresholds() -> None:
    err = torch.tensor([0.0, 0.004, 0.005, 0.0199, 0.05, float("inf")])
    result = passes(err)
    assert result["0.5%"].tolist() == [True, True, False, False, False, False]
    assert result["2%"].tolist() == [True, True, True, True, False, False]
    assert result["5%"].tolist() == [True, True, True, True, False, False]


@pytest.mark.parametrize(("name", "encoding"), [("transpose", "entry"), ("sum", "P1000"), ("product", "FP15"),
                                                ("eigenvalues", "B1999"), ("singular_values", "P10")])
def test_answers_rounded_to_three_digits_pass_at_half_a_percent(name: str, encoding: str) -> None:
    """The 0.5 % tolerance sits at the rounding limit: an exact answer written in any encoding still passes."""
    op = OPERATIONS[name]
    dims = ONE_SIZE.get(name, (4, 3))
    problems = op.generate(200, dims, torch.Generator().manual_seed(3))
    prediction = exact_prediction(op, problems.operands, through=make_codec(encoding))
    assert bool(passes(errors(op, problems.operands, prediction, None))["0.5%"].all())


# ---------------------------------------------------------------------------------------------- accuracy tables


def oracle(scale: float) -> Callable[..., Prediction]:
    def answer(model: Seq2Seq, codec: Codec, op: Operation, operands: list[torch.Tensor], dims: Dims,
               beam: int = 1) -> Prediction:
        return exact_prediction(op, operands, scale)
    return answer


@pytest.mark.parametrize(("name", "sizes", "encoding"), [
    ("transpose", [(2, 2), (2, 3)], "entry"),
    ("inverse", [(2,), (3,)], "P1000"),
    ("eigenvectors", [(3,)], "FP15/P1000"),
])
def test_accuracy_table_of_a_tiny_model(name: str, sizes: list[Dims], encoding: str,
                                        make_model: Callable[..., Seq2Seq]) -> None:
    op = OPERATIONS[name]
    marks: dict[str, torch.Tensor] = {}
    table = accuracy_table(make_model(encoding, 0), make_codec(encoding), op, sizes, total=21, batch_size=8,
                           marks=marks)
    for label, row in table["per_size"].items():  # per-problem marks, for comparing two models problem by problem
        assert marks[label].shape == (row["count"], 5 if name == "inverse" else 4)
        assert float(marks[label].mean()) == pytest.approx(size_score(row))
        assert [float(m) for m in marks[label].mean(0)[:4]] == pytest.approx([row[k] for k in KEYS])
    expected = {"count", "distribution", "overall", "per_size", "calibration"} | (
        {"invertibility", "near_singular"} if name == "inverse" else set())
    assert set(table) == expected
    assert table["count"] == 21 and table["distribution"] == op.distributions[0]
    assert list(table["overall"]) == KEYS
    assert list(table["per_size"]) == [op.label(d) for d in sizes]
    assert sum(row["count"] for row in table["per_size"].values()) == 21
    calibration = table["calibration"]  # every answer in one confidence range, the ranges in order
    assert sum(row["count"] for row in calibration) == 21
    assert all(0 <= row["from"] < row["to"] <= 1 for row in calibration)
    assert [row["from"] for row in calibration] == sorted(row["from"] for row in calibration)
    hits = sum(row["count"] * row["5%"] for row in calibration)
    assert hits == pytest.approx(21 * table["overall"]["5%"])  # the same answers, grouped another way
    for row in [table["overall"], *table["per_size"].values()]:
        values = [row[k] for k in KEYS]
        assert all(0 <= v <= 1 for v in values)
        assert values == sorted(values, reverse=True)  # a looser tolerance never scores lower
    if name == "inverse":
        verdict = table["invertibility"]
        assert verdict["count"] == 21 and 0 <= verdict["accuracy"] <= 1
        rows = table["per_size"].values()  # the overall verdict is the per-size verdicts weighted by count
        assert sum(row["count"] * row["invertibility"] for row in rows) == pytest.approx(21 * verdict["accuracy"])
        assert set(table["near_singular"]) == {"count", *KEYS}


def test_a_perfect_model_scores_everything(monkeypatch: pytest.MonkeyPatch,
                                           make_model: Callable[..., Seq2Seq]) -> None:
    monkeypatch.setattr(lawt.evaluate, "predict", oracle(1.0))
    model = make_model("entry")
    for name, sizes in (("transpose", [(1, 1), (3, 2)]), ("inverse", [(1,), (4,)]), ("svd", [(3, 2)]),
                        ("eigenvectors", [(4,)])):
        op = OPERATIONS[name]
        marks: dict[str, torch.Tensor] = {}
        table = accuracy_table(model, make_codec("entry"), op, sizes, total=60, batch_size=25, marks=marks)
        assert table["overall"] == dict.fromkeys(KEYS, 1.0)
        assert all(bool((m == 1.0).all()) for m in marks.values()) and len(marks) == len(sizes)
        assert table["calibration"] == [{"from": 0.6, "to": 1.0, "count": 60, **dict.fromkeys(KEYS, 1.0)}]
        assert all(row[k] == 1.0 for row in table["per_size"].values() for k in KEYS)
        if name == "inverse":
            assert table["invertibility"] == {"count": 60, "accuracy": 1.0}
            assert all(row["invertibility"] == 1.0 for row in table["per_size"].values())
            near = table["near_singular"]
            assert all(near[k] in (None, 1.0) for k in KEYS)


def test_evaluating_an_entry_model_that_says_not_invertible(make_model: Callable[..., Seq2Seq]) -> None:
    """A whole batch answered "not invertible" ends decoding after one position; scoring must go on
    (this is what ``lawt eval --distributions all`` and the evaluation inside training meet)."""
    model = make_model("entry", 0)
    with torch.no_grad():
        model.heads[1].bias[ENTRY_NOT_INVERTIBLE] = 50.0
    table = accuracy_table(model, make_codec("entry"), OPERATIONS["inverse"], [(3,)], total=20,
                           distribution="singular")
    assert table["overall"] == dict.fromkeys(KEYS, 1.0)
    assert table["invertibility"] == {"count": 20, "accuracy": 1.0}


def test_test_sets_skip_the_sizes_they_cannot_draw(make_model: Callable[..., Seq2Seq]) -> None:
    """Typed singular integer matrices are found up to 5x5: a 6x6 inverse model is tested on them at 5x5 only,
    and a 6x6-only one not at all."""
    model, codec, op = make_model("entry", 0), make_codec("entry"), OPERATIONS["inverse"]
    report = evaluate(model, codec, op, [(5,), (6,)], total=6, distributions=["integer", "singular_integer"])
    assert list(report["distributions"]["integer"]["per_size"]) == ["5x5", "6x6"]
    assert list(report["distributions"]["singular_integer"]["per_size"]) == ["5x5"]
    assert report["distributions"]["singular_integer"]["count"] == 6
    report = evaluate(model, codec, op, [(6,)], total=4, distributions=["mixed", "singular_integer"])
    assert list(report["distributions"]) == ["mixed"]


def test_a_model_off_by_ten_percent_scores_nothing(monkeypatch: pytest.MonkeyPatch,
                                                   make_model: Callable[..., Seq2Seq]) -> None:
    monkeypatch.setattr(lawt.evaluate, "predict", oracle(1.1))
    table = accuracy_table(make_model("entry"), make_codec("entry"), OPERATIONS["sum"], [(2, 2)], total=30)
    assert table["overall"] == dict.fromkeys(KEYS, 0.0)


def test_accuracy_table_is_seeded(make_model: Callable[..., Seq2Seq]) -> None:
    model, codec, op = make_model("entry", 0), make_codec("entry"), OPERATIONS["transpose"]
    a = accuracy_table(model, codec, op, [(1, 1)], total=30, seed=5)
    b = accuracy_table(model, codec, op, [(1, 1)], total=30, seed=5)
    assert a == b


def test_predict_returns_one_answer_per_problem(make_model: Callable[..., Seq2Seq]) -> None:
    op, codec = OPERATIONS["svd"], make_codec("entry")
    operands = op.generate(3, (3, 2), torch.Generator().manual_seed(0)).operands
    prediction = predict(make_model("entry"), codec, op, operands, (3, 2), beam=2)
    assert [tuple(p.shape) for p in prediction.parts] == [(3, *s) for s in op.answer_shapes((3, 2))]
    assert prediction.log_prob.shape == (3, 2) and prediction.fields.shape[:2] == (3, 2)
    assert prediction.valid.shape == (3,) and prediction.decode_seconds > 0


def test_evaluate_report_and_files(tmp_path: Path, make_model: Callable[..., Seq2Seq]) -> None:
    op = OPERATIONS["eigenvalues"]
    report = evaluate(make_model("entry"), make_codec("entry"), op, [(2,), (3,)], total=10,
                      distributions=["wigner", "laplace"])
    assert report["operation"] == "eigenvalues" and report["encoding"] == "entry"
    assert report["tolerances"] == KEYS
    assert list(report["distributions"]) == ["wigner", "laplace"]
    assert report["distributions"]["laplace"]["distribution"] == "laplace"
    write_report(report, tmp_path / "r.json", tmp_path / "r.png")
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
