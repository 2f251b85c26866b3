"""The ``lawt`` command: solve, models, eval, ship, bench and train, in-process and as a real process."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import exact_prediction

import lawt.bench
import lawt.evaluate
import lawt.ship
from lawt.cli import main
from lawt.model import Seq2Seq
from lawt.ops import OPERATIONS, Operation
from lawt.report import write_models_md
from lawt.zoo import WEIGHTS, load_model, read_card

Run = Callable[..., subprocess.CompletedProcess]
SOLVE_KEYS = {"operation", "model_answer", "exact_answer", "relative_error", "confidence", "provenance", "decode_ms"}


def run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    """``lawt ARGV`` in this process: (exit code, stdout, stderr)."""
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------- solve


def test_solve_json_in_a_real_process(tiny_zoo: Path, lawt_cli: Run) -> None:
    result = lawt_cli(["solve", "transpose", "[[1,2],[3,4]]", "--json", "--root", str(tiny_zoo)])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= SOLVE_KEYS
    assert data["operation"] == "transpose" and data["provenance"] == "transformer"
    assert data["exact_answer"] == [[[1.0, 3.0], [2.0, 4.0]]]
    assert 0 < data["confidence"] <= 1 and data["decode_ms"] > 0
    assert data["relative_error"] is None or data["relative_error"] >= 0


@pytest.mark.parametrize(("operation", "stdin", "expected"), [
    ("transpose", "1 2\n3 4\n", [[[1.0, 3.0], [2.0, 4.0]]]),
    ("transpose", "[[1, 2, 3]]", [[[1.0], [2.0], [3.0]]]),
    ("sum", "1 2\n3 4\n\n10 20\n30 40\n", [[[11.0, 22.0], [33.0, 44.0]]]),
    ("sum", "[[1,2]] | [[3,4]]", [[[4.0, 6.0]]]),
    ("matvec", "1 2\n3 4\n\n1 1", [[[3.0], [7.0]]]),  # a row typed for v is the vector v
    ("product", "1 2\n\n3\n4", [[[11.0]]]),
])
def test_solve_reads_stdin(operation: str, stdin: str, expected: list, tiny_zoo: Path,
                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["solve", operation, "--json", "--root", str(tiny_zoo)], capsys, stdin, monkeypatch)
    assert code == 0, err
    assert json.loads(out)["exact_answer"] == expected
    code, out, _ = run(["solve", operation, "-", "--json", "--root", str(tiny_zoo)], capsys, stdin, monkeypatch)
    assert code == 0 and json.loads(out)["exact_answer"] == expected


def test_solve_prints_a_readable_answer(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["solve", "transpose", "1 2; 3 4", "--root", str(tiny_zoo)], capsys)
    assert code == 0
    assert "Transpose, size 2x2" in out and "provenance: transformer" in out
    assert "exact answer — Transpose:\n[[1, 3],\n [2, 4]]" in out and "confidence:" in out
    code, out, _ = run(["solve", "inverse", "[[1, 2], [2, 4]]", "--root", str(tiny_zoo)], capsys)
    assert code == 0
    assert "provenance: model-unavailable" in out and "exact: not invertible" in out
    assert "model answer: none" in out and "exact answer: none" in out
    code, out, _ = run(["solve", "eigenvectors", "[[2, 1], [1, 2]]", "--root", str(tiny_zoo)], capsys)
    assert code == 0 and "exact answer — eigenvalues λ:\n[[3],\n [1]]" in out


@pytest.mark.parametrize(("args", "message"), [
    (["transpose", "[[1,2],[3]]"], "rows have different lengths"),
    (["transpose", "1 x; 3 4"], "'x' is not a number"),
    (["transpose", "nan 1"], "'nan' is not a number"),
    (["transpose", "1e999"], "too large"),
    (["transpose", ""], "empty"),
    (["transpose", "; ".join(["1 2"] * 11)], "limited to 10x10"),
    (["transpose", "[1 2"], "unbalanced brackets"),
    (["sum", "[[1,2]]", "[[1],[2]]"], "same shape"),
    (["sum", "[[1,2]]"], "takes 2 operand"),
    (["inverse", "[[1,2,3]]"], "square"),
    (["eigenvalues", "[[1,2],[3,4]]"], "symmetric"),
    (["determinant", "[[1]]"], "unknown operation 'determinant'"),
    (["transpose", "[[1]]", "--beam", "9"], "beam must be between 1 and 8"),
])
def test_bad_input_exits_2_with_a_message(args: list[str], message: str, tiny_zoo: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["solve", *args, "--root", str(tiny_zoo)], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_bad_input_in_a_real_process(tiny_zoo: Path, lawt_cli: Run) -> None:
    result = lawt_cli(["solve", "transpose", "--root", str(tiny_zoo)], stdin="1 2\n3\n")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: rows have different lengths (1, 2)\n"


def test_empty_stdin_exits_2_for_one_operand(tiny_zoo: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["solve", "transpose", "--root", str(tiny_zoo)], capsys, "  \n", monkeypatch)
    assert code == 2 and out == "" and err.startswith("error: ")


def test_empty_stdin_exits_2_for_two_operands(tiny_zoo: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["solve", "sum", "--root", str(tiny_zoo)], capsys, "", monkeypatch)
    assert code == 2 and out == "" and err.startswith("error: ")


# ---------------------------------------------------------------------------------------------- models


def test_models_json_lists_all_nine(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["models", "--json", "--root", str(tiny_zoo)], capsys)
    assert code == 0
    rows = json.loads(out)
    assert [r["operation"] for r in rows] == list(OPERATIONS)
    available = {r["operation"]: r for r in rows if r["available"]}
    assert set(available) == {"transpose", "sum"}
    assert available["sum"]["encoding"] == "P1000" and available["sum"]["sizes"] == ["2x2", "2x3"]
    for row in rows:
        if not row["available"]:
            assert set(row) == {"operation", "available", "reason"} and row["reason"]


def test_models_text_and_broken_models(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ship_model(tmp_path / "transpose", "transpose", "entry", ["2x2", "3x3"])
    ship_model(tmp_path / "svd", "svd", "entry", ["2x2"])
    (tmp_path / "svd" / "config.json").unlink()
    code, out, _ = run(["models", "--root", str(tmp_path)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 9
    transpose = next(line for line in lines if line.startswith("transpose"))
    assert "entry" in transpose and "width 32" in transpose and "2x2..3x3 (2 sizes)" in transpose
    assert "not evaluated" in transpose
    code, out, _ = run(["models", "--json", "--root", str(tmp_path)], capsys)
    rows = {r["operation"]: r for r in json.loads(out)}
    # a broken folder is reported under the folder's name; the operation is then unavailable
    assert rows["svd"]["available"] is False


# ---------------------------------------------------------------------------------------------- eval, ship


def test_eval_writes_json_and_png(tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.json"
    code, out, _ = run(["eval", str(tiny_zoo / "sum"), "--problems", "50", "--out", str(out_file)], capsys)
    assert code == 0
    report = json.loads(out_file.read_text())
    table = report["distributions"]["uniform"]
    assert report["operation"] == "sum" and table["count"] == 50
    assert set(table["per_size"]) == {"2x2", "2x3"}
    assert out_file.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "sum [uniform] on 50 problems" in out


def test_eval_other_sizes_and_distributions(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ship_model(tmp_path / "m", "eigenvalues", "entry", ["3x3"])
    out_file = tmp_path / "r.json"
    code, _, _ = run(["eval", str(tmp_path / "m"), "--problems", "14", "--sizes", "2-3", "--distributions", "all",
                      "--out", str(out_file)], capsys)
    assert code == 0
    report = json.loads(out_file.read_text())
    assert list(report["distributions"]) == OPERATIONS["eigenvalues"].all_distributions()
    assert set(report["distributions"]["laplace"]["per_size"]) == {"2x2", "3x3"}  # largest dimension 2 to 3


@pytest.mark.parametrize(("sizes", "message"), [("5x3", "'5x3' is not a size of eigenvalues: square sizes"),
                                                ("x", "'x' is not a size of eigenvalues"),
                                                ("2-y", "a range of sizes is written like 1-5")])
def test_eval_of_sizes_the_operation_does_not_have_exits_2(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                           capsys: pytest.CaptureFixture[str], sizes: str,
                                                           message: str) -> None:
    ship_model(tmp_path / "m", "eigenvalues", "entry", ["3x3"])
    out_file = tmp_path / "r.json"
    code, _, err = run(["eval", str(tmp_path / "m"), "--sizes", sizes, "--out", str(out_file)], capsys)
    assert code == 2 and err.startswith("error: ") and message in err
    assert not out_file.exists()  # once 5x3 was read as 5x5 and evaluated


def test_eval_of_a_broken_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["eval", str(tmp_path / "nothing-here")], capsys)
    assert code == 2 and err.startswith("error: ") and "config.json: missing" in err


def test_ship_to_a_destination(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                               capsys: pytest.CaptureFixture[str]) -> None:
    ship_model(tmp_path / "candidate", "transpose", "entry", ["1x1", "2x2"])
    dest = tmp_path / "zoo" / "transpose"
    code, out, _ = run(["ship", str(tmp_path / "candidate"), "--to", str(dest), "--problems", "20",
                        "--untrained-problems", "2"], capsys)
    assert code == 0 and f"shipped to {dest}" in out
    loaded = load_model(dest)  # checksum and weights consistent
    card = read_card(dest)
    assert card["evaluation"]["distributions"]["uniform"]["count"] == 20
    assert len(card["history"]) == 1 and card["history"][0]["shipped"] is True
    assert (dest / "evaluation.png").exists() and not (dest / "evaluation.json").exists()
    assert loaded.card["sizes"] == ["1x1", "2x2"]
    assert card["untrained_evaluation"]["count"] == 16  # 2 problems at each of 3x3 .. 10x10
    code, out, _ = run(["ship", str(tmp_path / "candidate"), "--to", str(dest), "--problems", "20",
                        "--untrained-problems", "0"], capsys)
    assert code == 1 and "not shipped" in out  # the same model is not better
    code, out, _ = run(["ship", str(tmp_path / "candidate"), "--to", str(dest), "--problems", "20", "--force"],
                       capsys)
    assert code == 0
    assert [h["shipped"] for h in read_card(dest)["history"]] == [True, False, True]
    assert [h.get("forced", False) for h in read_card(dest)["history"]] == [False, False, True]  # against the rule


def test_compare_two_models_on_the_same_problems(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ship_model(tmp_path / "entry", "transpose", "entry", ["1x1", "2x2"])
    ship_model(tmp_path / "p1000", "transpose", "P1000", ["2x2"])
    ship_model(tmp_path / "sum", "sum", "entry", ["2x2"])
    code, out, _ = run(["compare", str(tmp_path / "entry"), str(tmp_path / "entry"), "--problems", "20"], capsys)
    assert code == 1 and "+0.0000 ± 0.0000" in out and "not better beyond the noise" in out
    code, _, err = run(["compare", str(tmp_path / "entry"), str(tmp_path / "sum")], capsys)
    assert code == 2 and "a transpose model" in err and "a sum model" in err

    real_predict = lawt.evaluate.predict  # the entry model answers exactly, the P1000 one as it is (wrong)
    monkeypatch.setattr(lawt.evaluate, "predict", lambda model, codec, op, operands, dims, beam=1: (
        exact_prediction(op, operands) if codec.name == "entry" else real_predict(model, codec, op, operands, dims)))
    code, out, _ = run(["compare", str(tmp_path / "entry"), str(tmp_path / "p1000"), "--problems", "40"], capsys)
    assert code == 0 and "better beyond the noise" in out and "not better" not in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip().startswith(("1x1", "2x2"))}
    assert rows == {"1x1": ["1.000", "0.000"], "2x2": ["1.000", "0.000"]}  # 1x1: the P1000 model does not serve it
    assert "+0.0200" in out  # 2 of the 100 transpose sizes, from 0 to 1
    assert "at the bar (≥ 99 % at 1 % on every size up to 10×10): +0.0198" in out  # 2 of 100 sizes, 0.99 short
    code, out, _ = run(["compare", str(tmp_path / "entry"), str(tmp_path / "p1000"), "--problems", "40",
                        "--distribution", "typed"], capsys)
    assert code == 0 and "at the bar" not in out  # the bar is judged on the standard (uniform) test data
    code, _, _ = run(["compare", str(tmp_path / "p1000"), str(tmp_path / "entry"), "--problems", "40"], capsys)
    assert code == 1


def ship_a_candidate_watched(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, list[Seq2Seq]]:
    """Ship a tiny 2×2 transpose model, then have ``lawt ship`` note the model it loads from the candidate's
    folder (the same weights) in the list returned, so that a faked ``predict`` can answer for it apart."""
    candidate, dest = tmp_path / "candidate", tmp_path / "zoo" / "transpose"
    ship_model(candidate, "transpose", "entry", ["2x2"])
    code, _, _ = run(["ship", str(candidate), "--to", str(dest), "--problems", "20", "--force",
                      "--untrained-problems", "0"], capsys)
    assert code == 0
    real_load, candidates = lawt.ship.load_model, []

    def load(path: Path) -> object:
        loaded = real_load(path)
        if Path(path).resolve() == candidate.resolve():
            candidates.append(loaded.model)
        return loaded

    monkeypatch.setattr(lawt.ship, "load_model", load)
    return candidate, dest, candidates


def test_a_candidate_better_on_typed_problems_only_ships(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same weights, but the candidate answers whole-number operands exactly: a tie on the main test set and
    a gain on the typed one ships; the card's history records both paired gains."""
    candidate, dest, candidates = ship_a_candidate_watched(tmp_path, ship_model, capsys, monkeypatch)
    real_predict = lawt.evaluate.predict

    def predict(model: Seq2Seq, codec: object, op: object, operands: list[torch.Tensor], dims: tuple,
                beam: int = 1) -> object:
        whole = all(torch.equal(x, x.round()) for x in operands)
        if whole and any(model is m for m in candidates):
            return exact_prediction(op, operands)
        return real_predict(model, codec, op, operands, dims)

    monkeypatch.setattr(lawt.evaluate, "predict", predict)
    code, out, _ = run(["ship", str(candidate), "--to", str(dest), "--problems", "20", "--untrained-problems", "0"],
                       capsys)
    assert code == 0 and "on the same uniform problems: +0.0000" in out and "on the same typed problems: +0." in out
    last = read_card(dest)["history"][-1]
    assert last["shipped"] and last["gain"] == 0 and last["typed_gain"] > 0


def test_a_candidate_better_overall_but_worse_at_the_bar_is_not_shipped(
        tmp_path: Path, ship_model: Callable[..., Seq2Seq], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped model is 0.8 % off everywhere (right at 5, 2 and 1 %); the candidate is exact on two problems in
    three and 1.5 % off on the third: a better mean over the four tolerances, but fewer passes at 1 %, where the
    transpose bar is judged. The rule refuses it; without the bar it would ship."""
    candidate, dest, candidates = ship_a_candidate_watched(tmp_path, ship_model, capsys, monkeypatch)

    def predict(model: Seq2Seq, codec: object, op: Operation, operands: list[torch.Tensor], dims: tuple,
                beam: int = 1) -> object:
        answer = exact_prediction(op, operands)
        if any(model is m for m in candidates):
            off = torch.where(operands[0][:, 0, 0] > -10 / 3, 1.0, 1.015)
        else:
            off = torch.full((operands[0].shape[0],), 1.008)
        answer.parts = [p * off[:, None, None] for p in answer.parts]
        return answer

    monkeypatch.setattr(lawt.evaluate, "predict", predict)
    args = ["ship", str(candidate), "--to", str(dest), "--problems", "300", "--untrained-problems", "0"]
    code, out, _ = run(args, capsys)
    assert code == 1 and "not shipped" in out
    assert "on the same uniform problems: +0.00" in out  # ahead, a little, over the 100 sizes' mean
    assert ("on the same uniform problems at the bar (≥ 99 % at 1 % on every size up to 10×10), in the shortfall of "
            "its sizes under it: -0.00") in out
    last = read_card(dest)["history"][-1]
    assert not last["shipped"] and last["gain"] > 2 * last["standard_error"]
    assert last["bar_gain"] < -2 * last["bar_standard_error"] and last["bar_measure"] == "shortfall"
    card = read_card(dest)  # a candidate judged by the earlier measure of the bar, the mean pass rate
    card["history"].append({key: value for key, value in last.items() if key != "bar_measure"})
    (dest / "config.json").write_text(json.dumps(card))
    write_models_md(dest.parent, tmp_path / "MODELS.md")
    rows = [line for line in (tmp_path / "MODELS.md").read_text().splitlines() if line.endswith("| no |")]
    assert len(rows) == 2 and "(*pass rate*)" not in rows[0] and "(*pass rate*)" in rows[1]
    monkeypatch.setattr(type(OPERATIONS["transpose"]), "bar", None)
    code, out, _ = run(args, capsys)
    assert code == 0 and "at the bar" not in out and "bar_gain" not in read_card(dest)["history"][-1]


def test_ship_only_measures_named_test_sets_of_the_shipped_model_again(tmp_path: Path,
                                                                      ship_model: Callable[..., Seq2Seq],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    candidate, dest = tmp_path / "candidate", tmp_path / "zoo" / "transpose"
    ship_model(candidate, "transpose", "entry", ["2x2"])
    run(["ship", str(candidate), "--to", str(dest), "--problems", "20", "--force", "--untrained-problems", "0"],
        capsys)
    before = read_card(dest)["evaluation"]["distributions"]
    code, out, _ = run(["ship", str(dest), "--to", str(dest), "--problems", "12", "--only", "typed"], capsys)
    assert code == 0 and "measured again on 12 problems of typed" in out
    after = read_card(dest)["evaluation"]["distributions"]
    assert list(after) == ["uniform", "typed"] and after["uniform"] == before["uniform"]
    assert after["typed"]["count"] == 12 and after["typed"]["distribution"] == "typed"
    code, _, err = run(["ship", str(dest), "--to", str(dest), "--only", "cauchy"], capsys)
    assert code == 2 and "unknown distribution 'cauchy'" in err
    code, _, err = run(["ship", str(candidate), "--to", str(dest), "--only", "typed"], capsys)
    assert code == 2 and "measures the shipped model again" in err
    assert read_card(dest)["evaluation"]["distributions"] == after


def test_ship_refuses_weights_over_the_size_limit(tmp_path: Path, ship_model: Callable[..., Seq2Seq],
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ship_model(tmp_path / "candidate", "transpose", "entry", ["1x1"])
    monkeypatch.setattr(lawt.ship, "MAX_WEIGHTS_BYTES", (tmp_path / "candidate" / WEIGHTS).stat().st_size - 1)
    dest = tmp_path / "zoo" / "transpose"
    code, out, _ = run(["ship", str(tmp_path / "candidate"), "--to", str(dest), "--problems", "20"], capsys)
    assert code == 1 and "over the zoo's limit" in out and not dest.exists()


# ---------------------------------------------------------------------------------------------- bench, train


def test_bench_quick_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lawt.bench, "ARCH", {"d_model": 32, "n_heads": 4, "enc_layers": 1, "dec_layers": 1})
    code, out, _ = run(["bench", "--quick", "--json"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    keys = ["gen_examples_per_s", "train_examples_per_s_p10", "train_examples_per_s_own",
            "decode_ms_per_example_p10", "decode_ms_per_example_own"]
    assert set(keys) <= set(result)
    assert all(isinstance(result[k], int | float) and result[k] > 0 for k in keys)
    assert result["train_precision"] in ("fp32", "bf16")
    if result["train_precision"] == "bf16":
        assert result["train_examples_per_s_p10_fp32"] > 0 and result["train_examples_per_s_own_fp32"] > 0


def test_train_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"operation": "transpose", "sizes": "2x2", "d_model": 64, "n_heads": 4,
                                  "steps": 100, "eval_problems": 6}))
    out_dir = tmp_path / "run"
    code, out, _ = run(["train", "--config", str(config), "--d-model", "16", "--n-heads", "2", "--steps", "4",
                        "--batch-size", "8", "--log-every", "2", "--lr", "0.001", "--out-dir", str(out_dir)], capsys)
    assert code == 0 and f"run saved in {out_dir}" in out
    saved = json.loads((out_dir / "train_config.json").read_text())
    assert saved["d_model"] == 16 and saved["steps"] == 4 and saved["lr"] == 0.001  # flags override the file
    assert saved["operation"] == "transpose" and saved["eval_problems"] == 6  # the file overrides the defaults
    steps = [json.loads(line)["step"] for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps[:2] == [2, 4]
    assert load_model(out_dir / "last").card["training"]["steps"] == 4


def test_train_refuses_unknown_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"operation": "transpose", "learning_rate": 0.1}))
    code, _, err = run(["train", "--config", str(config)], capsys)
    assert code == 2 and "unknown training settings: learning_rate" in err


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--operation", "bogus", "unknown operation 'bogus'"),
    ("--encoding", "P7", "unknown encoding 'P7'"),
    ("--sizes", "11x11", "'11x11' is not a size of transpose"),
    ("--distribution", "cauchy", "unknown distribution 'cauchy'"),
    ("--precision", "fp16", "precision must be one of auto, fp32, bf16"),
    ("--trainable", "bogus", "trainable: no parameter starts with bogus"),
    ("--typed-share", "2", "typed share must be between 0 and 1"),
    ("--eval-every", "0", "eval_every must be at least 1, not 0"),  # once a ZeroDivisionError at the first step
    ("--n-heads", "3", "d_model 256 must be a multiple of n_heads 3"),
    ("--warmup-steps", "-5", "warmup_steps must not be negative, not -5"),
    ("--lr", "0", "lr must be positive, not 0.0"),
    ("--min-lr-ratio", "1.5", "min_lr_ratio must be between 0 and 1, not 1.5"),
    ("--bilinear", "-8", "bilinear must not be negative, not -8"),
    ("--scratchpad", "gram", "transpose has no scratchpad 'gram'; it has none"),
])
def test_train_refuses_bad_settings_before_any_work(flag: str, value: str, message: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "run"
    code, _, err = run(["train", flag, value, "--steps", "1", "--out-dir", str(out_dir)], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not out_dir.exists()


def test_eval_of_a_shipped_model_leaves_its_folder_as_shipped(tiny_zoo: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("lawt.zoo.ZOO_DIR", tiny_zoo)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (tiny_zoo / "sum").iterdir())
    code, out, _ = run(["eval", str(tiny_zoo / "sum"), "--problems", "10"], capsys)
    assert code == 0 and "report: sum-evaluation.json" in out
    assert sorted(p.name for p in (tiny_zoo / "sum").iterdir()) == before
    assert json.loads((tmp_path / "sum-evaluation.json").read_text())["operation"] == "sum"
    assert (tmp_path / "sum-evaluation.png").exists()
