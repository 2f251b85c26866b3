"""The analysis scripts under scripts/, run as a user runs them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ship_tiny, tiny_model

from lawt.encodings import ENTRY_NOT_INVERTIBLE
from lawt.ops import OPERATIONS
from lawt.zoo import save_model

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_digit_errors_counts_every_entry_once(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["2x2"])
    result = run_script("digit_errors.py", str(tmp_path / "sum"), "--size", "2x2", "--problems", "40")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["entries"] == 160
    assert sum(d["entries"] for d in report["by_decade"].values()) <= 160  # exact zeros belong to no decade
    rates = report["field_wrong"]
    assert set(rates) == {"sign", "exponent", "digit 1", "digit 2", "digit 3"}
    assert max(rates.values()) <= report["entry_wrong"] <= min(1.0, sum(rates.values()))


@pytest.mark.parametrize("size", ["x", "2x3x4", "11x11"])
def test_digit_errors_refuses_a_size_the_operation_does_not_have(tmp_path: Path, size: str) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["2x2"])
    result = run_script("digit_errors.py", str(tmp_path / "sum"), "--size", size, "--problems", "4")
    assert result.returncode == 2 and f"{size!r} is not a size of sum" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("script", ["error_by_magnitude.py", "verdict_errors.py", "spectrum_positions.py"])
def test_a_size_the_operation_does_not_have_is_a_usage_error(tmp_path: Path, script: str) -> None:
    operation = {"error_by_magnitude.py": "matvec", "verdict_errors.py": "inverse"}.get(script, "eigenvalues")
    ship_tiny(tmp_path / "model", operation, "entry", ["2x2"])
    result = run_script(script, str(tmp_path / "model"), "--sizes", "2x2,2x", "--problems", "4")
    assert result.returncode == 2 and f"'2x' is not a size of {operation}" in result.stderr
    assert "Traceback" not in result.stderr


def test_digit_errors_refuses_a_token_layout(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "P1000", ["2x2"])
    result = run_script("digit_errors.py", str(tmp_path / "sum"), "--size", "2x2", "--problems", "4")
    assert result.returncode == 2
    assert "not a three-digit entry-layout model" in result.stderr


def test_verdict_errors_of_a_model_that_always_says_not_invertible(tmp_path: Path) -> None:
    model = tiny_model("entry", 0)
    with torch.no_grad():
        model.heads[1].bias[ENTRY_NOT_INVERTIBLE] = 50.0  # "not invertible" whatever the sign
    ship_tiny(tmp_path / "inverse", "inverse", "entry", ["2x2", "3x3"], model=model)
    result = run_script("verdict_errors.py", str(tmp_path / "inverse"), "--problems", "8")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["per_size"]
    assert list(rows) == ["2x2", "3x3"]
    for row in rows.values():
        for kind in ("invertible_uniform", "invertible_grid", "invertible_integer"):
            assert row[kind] == {"greedy_wrong": 1.0, "probability_wrong": 1.0}
        for kind in ("rank_deficient", "singular_integer"):
            assert row[kind] == {"greedy_wrong": 0.0, "probability_wrong": 0.0}


def test_verdict_errors_refuses_another_operation(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["2x2"])
    result = run_script("verdict_errors.py", str(tmp_path / "sum"), "--problems", "4")
    assert result.returncode == 2 and "not an entry-layout inverse model" in result.stderr


def test_error_by_magnitude_splits_every_size_into_quartiles(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "matvec", "matvec", "entry", ["2x2", "1x3"])
    result = run_script("error_by_magnitude.py", str(tmp_path / "matvec"), "--problems", "40")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["per_size"]
    assert list(rows) == ["2x2", "1x3"]
    for row in rows.values():
        assert row["answer_norm_quartiles"] == sorted(row["answer_norm_quartiles"])
        quartiles = row["by_quartile"]
        assert len(quartiles) == 4  # ten problems each: the overall accuracy is their mean
        assert sum(q["accuracy_5%"] for q in quartiles) / 4 == pytest.approx(row["accuracy_5%"])


def load_script(name: str):
    """A script under scripts/ imported as a module, for its functions."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dot_statistics_measures_the_error_against_the_terms() -> None:
    dot = load_script("dot_precision")
    terms = torch.tensor([[3.0, 1.0], [2.0, -1.0], [4.0, -3.95], [1.0, 1.0]])  # r = 1, 1/3, 0.0063, 1
    exact = terms.sum(1)
    answer = exact + torch.tensor([0.04, -0.03, 0.0, 0.0])  # 1 % and 1 % of Σ|terms|; exact; exact
    valid = torch.tensor([True, True, True, False])  # the last did not decode: an infinite error
    relative = torch.tensor([0.01, 0.03, 0.0, torch.inf])
    row = dot.dot_statistics(terms, answer, valid, relative)
    assert row["accuracy_5%"] == 0.75
    assert row["answers_with_r_over_0.1"] == 3  # the cancelling third problem is left out
    assert row["median_error_share"] == pytest.approx(0.01)
    assert row["p90_error_share"] == float("inf")
    r_low, r_next = 0.05 / 7.95, 1 / 3  # the 1st percentile of four lies 3 % of the way between the lowest two
    assert row["r_1st_percentile"] == pytest.approx(r_low + 0.03 * (r_next - r_low), abs=1e-5)


def test_dot_precision_reports_each_length_of_a_matvec_model(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "matvec", "matvec", "entry", ["1x2", "1x3", "2x2"])
    result = run_script("dot_precision.py", str(tmp_path / "matvec"), "--lengths", "2,3", "--problems", "50")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report["per_size"]) == ["1x2", "1x3"]
    for row in report["per_size"].values():
        assert 0 <= row["accuracy_5%"] <= 1
        assert 0 < row["answers_with_r_over_0.1"] <= 50
        assert 0 <= row["r_1st_percentile"] <= row["r_5th_percentile"] <= 1


def test_dot_precision_refuses_other_operations_and_unserved_lengths(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["1x2"])
    ship_tiny(tmp_path / "product", "product", "entry", ["1x2x1"])
    result = run_script("dot_precision.py", str(tmp_path / "sum"))
    assert result.returncode == 2 and "not a matvec or product one" in result.stderr
    result = run_script("dot_precision.py", str(tmp_path / "product"), "--lengths", "2,3")
    assert result.returncode == 2 and "does not serve: 1x3x1" in result.stderr


@pytest.mark.parametrize("lengths", ["2,x", "0", ""])
def test_dot_precision_refuses_lengths_that_are_not_positive_whole_numbers(tmp_path: Path, lengths: str) -> None:
    ship_tiny(tmp_path / "matvec", "matvec", "entry", ["1x2"])
    result = run_script("dot_precision.py", str(tmp_path / "matvec"), "--lengths", lengths)
    assert result.returncode == 2 and "expected whole numbers ≥ 1" in result.stderr


def test_position_statistics_judges_each_value_of_the_spectrum() -> None:
    spectrum = load_script("spectrum_positions")
    exact = torch.tensor([[4.0, 1.0, -3.0], [2.0, 0.5, -0.5]])
    answer = torch.tensor([[4.1, 2.0, -3.0], [9.0, 9.0, 9.0]])
    valid = torch.tensor([True, False])  # the second did not decode: wrong at every position
    rows = spectrum.position_statistics(answer, exact, valid)
    assert [row["own_within_5%"] for row in rows] == [0.5, 0.0, 0.5]
    assert rows[0]["median_error_share"] == pytest.approx(0.1 / (8 / 3), abs=1e-5)  # the lower of the two
    assert rows[1]["median_error_share"] == pytest.approx(1 / (8 / 3), abs=1e-5)


def test_trace_features_are_the_power_traces_as_entry_scaled_roots() -> None:
    spectrum = load_script("spectrum_positions")
    a = torch.diag(torch.tensor([3.0, -1.0]))[None]
    features = spectrum.quadratic_design(spectrum.power_traces(a, "eigenvalues", 2))  # 1, 2, √10, products
    z1, z2 = 2.0, 10**0.5
    assert features[0].tolist() == pytest.approx([1.0, z1, z2, z1 * z1, z1 * z2, z2 * z2])
    features = spectrum.quadratic_design(spectrum.power_traces(a, "singular_values", 1))  # tr AᵀA = 10: an entry²
    assert features[0].tolist() == pytest.approx([1.0, z2, 10.0])


def test_the_one_trace_baseline_is_exact_on_1x1_and_not_on_3x3() -> None:
    spectrum = load_script("spectrum_positions")
    for name in ("eigenvalues", "singular_values"):
        op = OPERATIONS[name]
        for n, exact in ((1, True), (3, False)):
            problems = op.generate(200, op.parse_label(f"{n}x{n}"), torch.Generator().manual_seed(1))
            rows = spectrum.trace_baselines(op, op.parse_label(f"{n}x{n}"), problems, 500, seed=2)
            assert list(rows) == [f"traces_1_to_{d}" for d in range(1, n + 1)]
            first = rows["traces_1_to_1"]
            assert (first["accuracy_5%"] == 1.0) is exact
            assert (first["positions"][0]["median_error_share"] < 1e-6) is exact


def test_spectrum_positions_reports_each_size_of_an_eigenvalue_model(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "eigenvalues", "eigenvalues", "entry", ["2x2", "3x3"])
    result = run_script("spectrum_positions.py", str(tmp_path / "eigenvalues"), "--problems", "30", "--baseline",
                        "--fit-problems", "100")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report["per_size"]) == ["2x2", "3x3"]
    assert list(report["per_size"]["3x3"]["baselines"]) == ["traces_1_to_1", "traces_1_to_2", "traces_1_to_3"]
    assert [len(row["positions"]) for row in report["per_size"].values()] == [2, 3]
    for row in report["per_size"].values():
        assert 0 <= row["accuracy_5%"] <= 1
        assert all(0 <= p["own_within_5%"] <= 1 and p["median_error_share"] >= 0 for p in row["positions"])


def test_spectrum_positions_reads_the_answer_after_a_scratchpad(tmp_path: Path) -> None:
    card = {"operation": "singular_values", "encoding": "entry", "sizes": ["2x3"], "scratchpad": "gram",
            "training": {"examples": 0, "cpu_seconds": 0.0}}
    save_model(tiny_model("entry"), card, tmp_path / "singular_values", half=False)
    result = run_script("spectrum_positions.py", str(tmp_path / "singular_values"), "--problems", "20",
                        "--baseline", "--fit-problems", "50")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)["per_size"]["2x3"]
    assert len(row["positions"]) == 2 and list(row["baselines"]) == ["traces_1_to_1", "traces_1_to_2"]
    assert 0 <= row["scratchpad_within_5%"] <= 1


@pytest.mark.parametrize(("sizes", "message"), [("4x4", "does not serve: 4x4"), ("3x2", "not a size of eigenvalues"),
                                                ("x", "not a size of eigenvalues")])
def test_spectrum_positions_refuses_sizes_it_cannot_measure(tmp_path: Path, sizes: str, message: str) -> None:
    ship_tiny(tmp_path / "eigenvalues", "eigenvalues", "entry", ["2x2", "3x3"])
    result = run_script("spectrum_positions.py", str(tmp_path / "eigenvalues"), "--sizes", sizes)
    assert result.returncode == 2 and message in result.stderr


def test_spectrum_positions_refuses_other_operations(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["2x2"])
    result = run_script("spectrum_positions.py", str(tmp_path / "sum"))
    assert result.returncode == 2 and "not an eigenvalue or singular-value one" in result.stderr


@pytest.mark.parametrize("script", ["digit_errors.py", "dot_precision.py", "error_by_magnitude.py",
                                    "spectrum_positions.py", "verdict_errors.py"])
def test_a_folder_without_a_model_is_a_usage_error(tmp_path: Path, script: str) -> None:
    result = run_script(script, str(tmp_path), "--problems", "5")
    assert result.returncode == 2 and "config.json: missing" in result.stderr
    assert "Traceback" not in result.stderr
