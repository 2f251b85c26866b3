"""Scratchpads: the Gram matrix written before the singular values, trained on, shown, never judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lawt.data import BatchSampler
from lawt.encodings import IGNORE, make_codec
from lawt.evaluate import accuracy_table
from lawt.model import Seq2Seq
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


@pytest.mark.parametrize("encoding", ["entry", "P10"])
def test_a_scratch_only_batch_leaves_the_answer_out_of_the_loss(encoding: str) -> None:
    op = get_operation("singular_values", "gram")
    codec = make_codec(encoding)
    both, scratch_only = (BatchSampler(op, codec, [(2, 3)], groups=1, seed=4) for _ in range(2))
    scratch_only.scratch_only = True
    full, masked = both.batch(5).tgt_out, scratch_only.batch(5).tgt_out
    problems = op.generate(1, (2, 3), torch.Generator().manual_seed(0))
    working = codec.encode_answer(op.working(problems.operands), None).shape[1] - 1  # the Gram's own positions
    assert torch.equal(masked[:, :working], full[:, :working]) and (full[:, :working] != IGNORE).all()
    assert (masked[:, working:] == IGNORE).all() and (full[:, working:] != IGNORE).any()


def test_scratch_only_needs_a_scratchpad() -> None:
    with pytest.raises(ValueError, match="scratch_only trains a scratchpad alone: set scratchpad too"):
        TrainConfig(operation="singular_values", scratch_only=True).check()


def test_a_working_first_stage_is_kept_as_a_stage_and_its_evaluations_report_the_working(
        tmp_path: Path, train_settings) -> None:
    settings = train_settings(tmp_path / "run", operation="singular_values", scratchpad="gram", sizes="2x2",
                              steps=40, eval_every=20, eval_problems=40, lr=3e-3, warmup_steps=2,
                              scratch_only=True, stop_step=20)
    train(TrainConfig(**settings), show_progress=False)
    train(TrainConfig(**(settings | {"scratch_only": False, "stop_step": 0})), show_progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if "eval" in r]
    assert [r["step"] for r in evaluations] == [20, 40] and all(0 <= r["eval_working"] <= 1 for r in evaluations)
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["earlier"][0]["until_step"] == 20 and saved["earlier"][0]["scratch_only"] is True
    assert saved["scratch_only"] is False


def test_the_evaluation_reports_the_working_only_where_a_model_writes_one() -> None:
    torch.manual_seed(0)
    codec = make_codec("entry")
    padded, plain = get_operation("singular_values", "gram"), get_operation("singular_values")
    model = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, enc_layers=1, dec_layers=1)
    with_working = accuracy_table(model, codec, padded, [(2, 2), (2, 3)], total=20)
    assert set(with_working["working"]["per_size"]) == {"2x2", "2x3"}
    assert with_working["working"]["5%"] == pytest.approx(sum(with_working["working"]["per_size"].values()) / 2)
    assert "working" not in accuracy_table(model, codec, plain, [(2, 2)], total=10)


def test_the_working_error_is_the_relative_error_of_the_scratchpad_alone() -> None:
    op = get_operation("singular_values", "gram")
    a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.float64)
    gram = a.transpose(1, 2) @ a
    off = gram.clone()
    off[0, 0, 0] += 1.0
    assert float(op.working_error([a], [gram, torch.zeros(1, 2, 1)])[0]) == 0.0
    assert float(op.working_error([a], [off, op.base.solve([a])[0]])[0]) == pytest.approx(1 / gram.abs().sum())
    assert get_operation("singular_values").working_error([a], [gram]) is None
