"""Scratchpads: the Gram matrix written before the singular values, trained on, shown, never judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lawt.ops import get_operation
from lawt.solver import Calculator
from lawt.train import TrainConfig, train
from lawt.zoo import load_model


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (3, 3), (1, 4)])
def test_the_gram_matrix_is_the_smaller_one_and_holds_the_squared_singular_values(shape: tuple[int, int]) -> None:
    op = get_operation("singular_values", "gram")
    problems = op.generate(5, shape, torch.Generator().manual_seed(0))
    gram, values = op.solve(problems.operands)
    k = min(shape)
    assert gram.shape == (5, k, k) and op.answer_shapes(shape) == [(k, k), (k, 1)]
    eigen = torch.linalg.eigvalsh(gram).flip(-1)
    assert torch.allclose(eigen, values.squeeze(-1) ** 2, rtol=1e-9, atol=1e-9)


def test_only_the_answer_is_judged() -> None:
    op = get_operation("singular_values", "gram")
    problems = op.generate(4, (3, 3), torch.Generator().manual_seed(1))
    gram, values = op.solve(problems.operands)
    assert (op.error(problems.operands, [gram * 7 + 1, values]) == 0).all()
    assert (op.error(problems.operands, [gram, values * 1.1]) > 0.09).all()
    assert op.answer_of([gram, values]) == [values] and op.scratch_of([gram, values]) == [gram]


def test_the_operation_keeps_its_name_sizes_and_scale() -> None:
    plain, padded = get_operation("singular_values"), get_operation("singular_values", "gram")
    assert padded.name == plain.name and padded.all_sizes() == plain.all_sizes()
    assert padded.parse_label("3x5") == (3, 5) and padded.scratch_title == "Gram matrix"
    assert padded.answer_degrees == ((2,), (1,))  # the Gram matrix of 10·A is 100 times A's
    assert plain.answer_of(["x"]) == ["x"] and plain.scratch_of(["x"]) == [] and not plain.scratch_title


@pytest.mark.parametrize(("operation", "scratchpad", "message"), [
    ("singular_values", "trace", "no scratchpad 'trace'; choose from gram"),
    ("transpose", "gram", "transpose has no scratchpad 'gram'; it has none"),
])
def test_an_unknown_scratchpad_is_refused(operation: str, scratchpad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_operation(operation, scratchpad)
    with pytest.raises(ValueError, match=message):
        TrainConfig(operation=operation, scratchpad=scratchpad).check()


def test_a_model_trained_with_a_scratchpad_writes_it_and_is_judged_on_its_answer(
        tmp_path: Path, train_settings) -> None:
    cfg = TrainConfig(**train_settings(tmp_path / "run", operation="singular_values", scratchpad="gram",
                                       sizes="2x2,2x3", steps=6, eval_every=6))
    run = train(cfg, show_progress=False)
    card = json.loads((run / "last" / "config.json").read_text())
    assert card["scratchpad"] == "gram"
    loaded = load_model(run / "last")
    assert loaded.op.answer_shapes((2, 3)) == [(2, 2), (2, 1)]
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (run / "last").rename(zoo / "singular_values")
    answer = Calculator(root=zoo).solve("singular_values", [[[1, 2, 3], [4, 5, 6]]], beam=2).to_dict()
    assert answer["model"]["scratchpad"] == "Gram matrix"
    assert [len(m) for m in answer["model_answer"]] == [2]  # the entry layout always writes every slot
    assert answer["scratchpad"]["exact"] == [[[14.0, 32.0], [32.0, 77.0]]]
    assert [len(m) for m in answer["scratchpad"]["model"]] == [2]
    assert [len(beam["answer"]) for beam in answer["beams"]] == [1, 1]
    judged = get_operation("singular_values").error([torch.tensor([[[1.0, 2, 3], [4, 5, 6]]])],
                                                     [torch.tensor(answer["model_answer"], dtype=torch.float64)])
    assert answer["relative_error"] == pytest.approx(float(judged[0]), rel=1e-6)  # the answer's error alone


@pytest.mark.parametrize("name", ["singular_values", "svd"])
def test_the_wrapped_operation_draws_sizes_and_problems_as_its_own(name: str) -> None:
    plain, padded = get_operation(name), get_operation(name, "gram")
    assert padded.all_sizes() == plain.all_sizes() and padded.size_help() == plain.size_help()
    assert [padded.label(d) for d in padded.all_sizes()] == [plain.label(d) for d in plain.all_sizes()]
    assert padded.dims_of([(3, 5)]) == plain.dims_of([(3, 5)]) and padded.operand_shapes((3, 5)) == [(3, 5)]
    for distribution in ("", "typed"):
        drawn = [op.generate(3, (2, 4), torch.Generator().manual_seed(5), distribution).operands[0]
                 for op in (plain, padded)]
        assert torch.equal(drawn[0], drawn[1])
    assert padded.answer_shapes((2, 4))[1:] == plain.answer_shapes((2, 4))
