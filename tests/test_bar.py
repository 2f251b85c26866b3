"""``lawt bar``: each size of an operation's bar measured on problems of its own, recorded in the card."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import exact_prediction

import lawt.evaluate
from lawt.cli import main
from lawt.model import Seq2Seq
from lawt.ops import Operation
from lawt.report import write_models_md
from lawt.zoo import CONFIG, read_card

ALL_TRANSPOSE = [f"{m}x{n}" for m in range(1, 11) for n in range(1, 11)]


def exact_but(wrong: tuple[int, ...]) -> Callable[..., object]:
    """A ``predict`` that answers exactly, and 1.5 % off (wrong at the transpose bar's 1 %) at size ``wrong``."""
    def predict(model: Seq2Seq, codec: object, op: Operation, operands: list[torch.Tensor], dims: tuple,
                beam: int = 1) -> object:
        answer = exact_prediction(op, operands)
        if dims == wrong:
            answer.parts = [p * 1.015 for p in answer.parts]
        return answer
    return predict


def bar(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["bar", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_size_under_the_bar_is_named_and_recorded(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "zoo" / "transpose"
    ship_model(folder, "transpose", "entry", ALL_TRANSPOSE)
    monkeypatch.setattr(lawt.evaluate, "predict", exact_but((3, 4)))
    assert main(["ship", str(folder), "--to", str(folder), "--problems", "100", "--untrained-problems", "0"]) == 0
    capsys.readouterr()
    code, out, _ = bar([str(folder), "--problems", "4", "--json"], capsys)
    check = json.loads(out)
    assert code == 1 and not check["met"] and check["under"] == {"3x4": 0.0} and check["unserved"] == []
    assert len(check["per_size"]) == 100 and check["problems_per_size"] == 4 and check["seed"] == 4242
    assert "bar_check" not in read_card(folder)  # measured, not recorded
    code, out, err = bar([str(folder), "--problems", "4", "--record"], capsys)
    assert code == 1 and "99 at or over it" in out and "under:      3x4   0.0 % ± 0.0" in out
    assert out.rstrip().endswith("bar not met") and "recorded as bar_check" in err
    write_models_md(tmp_path / "zoo", tmp_path / "MODELS.md")
    report = (tmp_path / "MODELS.md").read_text()
    assert "Measured apart on 4 problems a size (`lawt bar`, seed 4242" in report
    assert "1 under it — 3x4 0.0 %." in report
    card = read_card(folder)  # other weights: the check no longer belongs to the card
    (folder / CONFIG).write_text(json.dumps({**card, "sha256": "0" * 64}))
    write_models_md(tmp_path / "zoo", tmp_path / "MODELS.md")
    assert "Measured apart" not in (tmp_path / "MODELS.md").read_text()


def test_the_bar_is_met_only_when_every_size_is_served_and_over_it(tmp_path: Path,
                                                                   ship_model: Callable[..., Seq2Seq],
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ship_model(tmp_path / "all", "transpose", "entry", ALL_TRANSPOSE)
    ship_model(tmp_path / "some", "transpose", "entry", ["2x2", "2x3"])
    monkeypatch.setattr(lawt.evaluate, "predict", exact_but(()))
    code, out, _ = bar([str(tmp_path / "all"), "--problems", "2", "--seed", "5", "--record"], capsys)
    assert code == 0 and "(seed 5): 100 at or over it" in out and out.rstrip().endswith("bar met")
    code, out, _ = bar([str(tmp_path / "some"), "--problems", "2", "--json"], capsys)
    check = json.loads(out)
    assert code == 1 and check["under"] == {} and len(check["unserved"]) == 98 and set(check["per_size"]) == {
        "2x2", "2x3"}


def test_an_operation_without_a_bar_or_no_problems_is_refused(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    ship_model(tmp_path / "eig", "eigenvalues", "entry", ["2x2"])
    code, _, err = bar([str(tmp_path / "eig")], capsys)
    assert code == 2 and "eigenvalues has no bar" in err
    ship_model(tmp_path / "t", "transpose", "entry", ["2x2"])
    code, _, err = bar([str(tmp_path / "t"), "--problems", "0"], capsys)
    assert code == 2 and "at least 1" in err
