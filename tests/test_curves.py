"""Learning curves read from a run's metrics, the trends fitted to them, and ``lawt curve``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lawt.cli import main
from lawt.curves import CurvePoint, at_hours, describe, project, read_curve
from lawt.zoo import CONFIG, ZOO_DIR


def write_metrics(run: Path, points: list[tuple[int, float, float]]) -> None:
    """(step, CPU-seconds, accuracy at 5 %) evaluations with training log lines between them."""
    run.mkdir(parents=True, exist_ok=True)
    with (run / "metrics.jsonl").open("a") as f:
        for step, seconds, acc in points:
            f.write(json.dumps({"step": step, "examples": 64 * step, "loss": 1.0, "cpu_seconds": seconds}) + "\n")
            f.write(json.dumps({"step": step, "examples": 64 * step, "cpu_seconds": seconds,
                                "eval": {"5%": acc, "2%": acc / 2, "1%": acc / 4, "0.5%": 0.0}}) + "\n")


def points(hours: list[float], acc: list[float]) -> list[CurvePoint]:
    return [CurvePoint(100 * i, 6400 * i, h, {"5%": a}) for i, (h, a) in enumerate(zip(hours, acc, strict=True), 1)]


def test_read_curve_keeps_evaluations_only_each_step_once(tmp_path: Path) -> None:
    write_metrics(tmp_path, [(100, 36.0, 0.1), (200, 72.0, 0.2)])
    write_metrics(tmp_path, [(200, 72.0, 0.25), (300, 108.0, 0.3)])  # a resumed run logs step 200 again
    curve = read_curve(tmp_path)
    assert [p.step for p in curve] == [100, 200, 300]
    assert curve[1].accuracy["5%"] == 0.25 and curve[2].cpu_hours == pytest.approx(0.03)
    assert [p.step for p in read_curve(tmp_path, up_to_step=200)] == [100, 200]
    assert read_curve(tmp_path / "missing") == []
    with (tmp_path / "metrics.jsonl").open("a") as f:  # a line the running training has not finished writing
        f.write('{"step": 400, "examples": 25600, "cpu_sec')
    assert [p.step for p in read_curve(tmp_path)] == [100, 200, 300]


def test_a_straight_line_is_solved_exactly() -> None:
    proj = project(points([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]), target=0.9)
    assert proj.reached_at is None and proj.points == 3
    assert proj.linear_hours == pytest.approx(0.9)
    assert proj.log_hours is not None and proj.log_hours > proj.linear_hours  # a log trend is slower here


def test_a_log_linear_curve_is_solved_exactly() -> None:
    hours = [0.1, 0.2, 0.4, 0.8]
    acc = [0.2 + 0.1 * math.log(h / 0.1) for h in hours]
    proj = project(points(hours, acc), target=0.9, fraction=1.0)
    assert proj.log_hours == pytest.approx(0.1 * math.exp(7.0))


def test_reached_flat_and_too_short_curves() -> None:
    assert project(points([0.1, 0.2, 0.3], [0.5, 0.95, 0.97])).reached_at == pytest.approx(0.2)
    flat = project(points([0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.4]))
    assert flat.linear_hours is None and "not rising" in describe(flat)
    assert project(points([0.1, 0.2], [0.1, 0.2])).linear_hours is None


def test_a_finished_rise_is_not_projected() -> None:
    # Rising over the first half of the fitted stretch, then flat within the noise: the straight line through
    # the whole stretch still climbs, but the last evaluations do not.
    hours = [0.1 * i for i in range(1, 21)]
    acc = [0.1 + 0.04 * i for i in range(10)] + [0.5, 0.51, 0.49, 0.5, 0.52, 0.49, 0.5, 0.51, 0.5, 0.49]
    finished = project(points(hours, acc), fraction=1.0)
    assert finished.linear_hours is None and finished.points == 10
    assert "not rising beyond the noise over the last 10 evaluations" in describe(finished)
    noisy = [a + (0.02 if i % 2 else -0.02) for i, a in enumerate(0.1 + 0.02 * i for i in range(20))]
    assert project(points(hours, noisy), fraction=1.0).linear_hours is not None  # noisy, but a real rise


def test_a_projection_is_never_before_the_last_evaluation() -> None:
    # A curve bending over: the fitted line passes the target before the last evaluation, which is still below
    # it; the target must not be projected into the past.
    proj = project(points([0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.5, 0.8, 0.87, 0.89]), target=0.9, fraction=1.0)
    assert proj.linear_hours == pytest.approx(0.5)


def test_curve_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_metrics(tmp_path / "run", [(100, 360.0, 0.1), (200, 720.0, 0.2), (300, 1080.0, 0.3)])
    assert main(["curve", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "0.300" in out and "30.0%" in out and "90 % at 5% projected at 0.9 CPU-hours" in out
    assert main(["curve", str(tmp_path / "run"), "--json", "--target", "25"]) == 0
    result = json.loads(capsys.readouterr().out)[str(tmp_path / "run")]
    assert len(result["curve"]) == 3 and result["projection"]["reached_at"] == pytest.approx(0.3)
    assert main(["curve", str(tmp_path / "nothing")]) == 2
    assert "no evaluations" in capsys.readouterr().err


def test_accuracy_at_equal_budgets_is_interpolated_within_the_run() -> None:
    curve = points([0.5, 1.0, 2.0], [0.2, 0.4, 0.6])
    assert at_hours(curve, 0.75) == pytest.approx(0.3) and at_hours(curve, 1.5) == pytest.approx(0.5)
    assert at_hours(curve, 0.5) == 0.2 and at_hours(curve, 2.0) == 0.6
    assert at_hours(curve, 0.25) is None and at_hours(curve, 3.0) is None  # never extrapolated
    assert at_hours(points([1.0], [0.3]), 1.0) == 0.3 and at_hours([], 1.0) is None
    assert at_hours(curve, 1.0, "verdict") is None  # no such figure in these evaluations


def test_curve_command_compares_runs_at_equal_cpu_hours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_metrics(tmp_path / "a", [(100, 1800.0, 0.2), (200, 3600.0, 0.4)])
    write_metrics(tmp_path / "b", [(100, 3600.0, 0.1), (200, 7200.0, 0.3)])
    with (tmp_path / "b" / "metrics.jsonl").open("a") as f:  # an inverse run's evaluations also have the verdict
        f.write(json.dumps({"step": 300, "examples": 0, "cpu_seconds": 10800.0, "invertibility": 0.9,
                            "eval": dict.fromkeys(["5%", "2%", "1%", "0.5%"], 0.5)}) + "\n")
    assert read_curve(tmp_path / "b")[-1].accuracy["verdict"] == 0.9
    assert main(["curve", str(tmp_path / "a"), str(tmp_path / "b"), "--at", "0.75,1,2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines[2:]] == [["30.0%", "–"], ["40.0%", "10.0%"], ["–", "30.0%"]]
    assert main(["curve", str(tmp_path / "b"), "--at", "3", "--json", "--tolerance", "verdict"]) == 2
    assert "have no verdict" in capsys.readouterr().err  # only the last evaluation has one
    assert main(["curve", str(tmp_path / "a"), "--at", "1,soon"]) == 2
    assert "--at takes positive CPU-hours" in capsys.readouterr().err
    assert main(["curve", str(tmp_path / "a"), "--at", "0.75", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[str(tmp_path / "a")]["at"] == {"0.75": pytest.approx(0.3)}


def test_curve_command_reads_a_model_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A shipped model has no metrics.jsonl: its card's training curve is read, by folder or by name.
    assert main(["curve", "eigenvalues"]) == 0
    assert "\n  90 % at 5%" in capsys.readouterr().out  # the projection's wording follows the shipped curve
    folder = tmp_path / "model"
    folder.mkdir()
    card = json.loads((ZOO_DIR / "eigenvalues" / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps(card))
    assert main(["curve", str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[str(folder)]
    assert len(result["curve"]) == len(card["training"]["curve"]) > 0


def test_a_focus_size_has_a_curve_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Evaluations that measured a focus size on problems of its own (``eval_focus``) give that size's curve;
    one without the size is left out, and a card or a size never measured is refused."""
    rows = [(100, 1800.0, {"1x5x1": 0.80}), (200, 3600.0, {}), (300, 5400.0, {"1x5x1": 0.85})]
    (tmp_path / "run").mkdir()
    with (tmp_path / "run" / "metrics.jsonl").open("w") as f:
        for step, cpu, focus in rows:
            f.write(json.dumps({"step": step, "examples": step * 10, "cpu_seconds": cpu,
                                "eval": dict.fromkeys(["5%", "2%", "1%", "0.5%"], 0.99),
                                "eval_focus": {size: {"count": 200, "5%": share, "2%": share / 2, "1%": 0.1,
                                                      "0.5%": 0.0} for size, share in focus.items()}}) + "\n")
    curve = read_curve(tmp_path / "run", size="1x5x1")
    assert [(p.step, p.accuracy["5%"], p.accuracy["2%"]) for p in curve] == [(100, 0.80, 0.40), (300, 0.85, 0.425)]
    assert list(curve[0].accuracy) == ["5%", "2%", "1%", "0.5%"]
    assert [p.accuracy["5%"] for p in read_curve(tmp_path / "run")] == [0.99] * 3
    assert main(["curve", str(tmp_path / "run"), "--size", "1x5x1", "--at", "1"]) == 0
    assert "82.5%" in capsys.readouterr().out
    assert main(["curve", str(tmp_path / "run"), "--size", "1x4x1"]) == 2
    assert "no evaluations of 1x4x1" in capsys.readouterr().err
    assert main(["curve", "product", "--size", "1x5x1"]) == 2
    assert "--eval-focus-problems" in capsys.readouterr().err
