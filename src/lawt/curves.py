"""Learning curves of training runs: accuracy against CPU-hours, and the CPU-hours a trend needs for a target."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class CurvePoint:
    """One periodic evaluation of a run."""

    step: int
    examples: int
    cpu_hours: float
    accuracy: dict[str, float]  # tolerance ("5%") -> fraction of problems within it; "verdict": right invertible?


@dataclass(frozen=True)
class Projection:
    """CPU-hours at which two trends fitted to a curve's last points reach ``target`` (None: not rising)."""

    target: float
    tolerance: str
    points: int  # how many evaluations the trends were fitted to
    reached_at: float | None  # CPU-hours of the first evaluation at or above the target
    linear_hours: float | None  # accuracy a straight line in CPU-hours
    log_hours: float | None  # accuracy a straight line in log CPU-hours (slower, usually pessimistic)


def read_curve(run: Path, up_to_step: int | None = None, size: str | None = None) -> list[CurvePoint]:
    """The periodic evaluations logged in ``run/metrics.jsonl`` (each step once: the last record wins); with
    ``size``, that size's own measurement (``eval_focus``, logged with ``eval_focus_problems``) where it has one.

    It can be read while the run is writing it.
    """
    by_step: dict[int, CurvePoint] = {}
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    for line in path.read_text().split("\n")[:-1]:  # the last piece is empty, or a line still being written
        record = json.loads(line)
        if "eval" not in record or (up_to_step is not None and record["step"] > up_to_step):
            continue
        if size is not None:
            row = record.get("eval_focus", {}).get(size)
            if row is None:
                continue
            accuracy = {key: value for key, value in row.items() if key.endswith("%")}
            accuracy |= {"verdict": row["invertibility"]} if "invertibility" in row else {}
        else:
            accuracy = record["eval"] | ({"verdict": record["invertibility"]} if "invertibility" in record else {})
        by_step[record["step"]] = CurvePoint(record["step"], record["examples"], record["cpu_seconds"] / 3600,
                                             accuracy)
    return [by_step[s] for s in sorted(by_step)]


def _solve(xs: list[float], ys: list[float], target: float) -> float | None:
    """Where the least-squares line reaches ``target``, no earlier than the last point; None if it is not rising."""
    slope, intercept = statistics.linear_regression(xs, ys)
    return None if slope <= 0 else max(xs[-1], (target - intercept) / slope)


def rising(xs: list[float], ys: list[float]) -> bool:
    """Whether the least-squares slope is above zero by more than two of its standard errors: a rise the
    evaluations' noise does not explain (three points or more)."""
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(xs)
    residual = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys, strict=True)) / (len(xs) - 2)
    return slope > 2 * math.sqrt(residual / sum((x - mean) ** 2 for x in xs))


def project(curve: list[CurvePoint], target: float = 0.9, tolerance: str = "5%",
            fraction: float = 0.5) -> Projection:
    """Fit the last ``fraction`` of the evaluations (at least three) and solve each trend for ``target``.

    No projection when that stretch, or the last half of it (at least five evaluations), does not rise beyond
    the noise: a rise that has finished is not a trend (``points`` then counts the stretch found flat).
    """
    reached = next((p.cpu_hours for p in curve if p.accuracy[tolerance] >= target), None)
    tail = [p for p in curve[-max(3, math.ceil(fraction * len(curve))):] if p.cpu_hours > 0]
    if len(tail) < 3:
        return Projection(target, tolerance, len(tail), reached, None, None)
    for stretch in (tail, tail[-max(5, math.ceil(len(tail) / 2)):]):
        if not rising([p.cpu_hours for p in stretch], [p.accuracy[tolerance] for p in stretch]):
            return Projection(target, tolerance, len(stretch), reached, None, None)
    hours, acc = [p.cpu_hours for p in tail], [p.accuracy[tolerance] for p in tail]
    linear = _solve(hours, acc, target)
    log = _solve([math.log(h) for h in hours], acc, target)
    return Projection(target, tolerance, len(tail), reached, linear, None if log is None else math.exp(log))


def at_hours(curve: list[CurvePoint], hours: float, key: str = "5%") -> float | None:
    """``key``'s accuracy after ``hours`` CPU-hours, interpolated between the evaluations on either side
    (None outside the run's evaluations): runs of different designs compared at equal budgets."""
    points = [(p.cpu_hours, p.accuracy[key]) for p in curve if key in p.accuracy]
    for (h0, a0), (h1, a1) in itertools.pairwise(points):
        if h0 <= hours <= h1:
            return a0 if h1 == h0 else a0 + (a1 - a0) * (hours - h0) / (h1 - h0)
    return points[0][1] if points and points[0][0] == hours else None


def curve_as_json(curve: list[CurvePoint]) -> list[dict]:
    """The curve as plain records, rounded, for cards and ``--json``."""
    return [{**asdict(p), "cpu_hours": round(p.cpu_hours, 4)} for p in curve]


def curve_from_json(records: list[dict]) -> list[CurvePoint]:
    return [CurvePoint(r["step"], r["examples"], r["cpu_hours"], r["accuracy"]) for r in records]


def started_operation(started_from: dict, default: str) -> str:
    """The operation the model a run started from was trained for (older records name none: ``default``)."""
    return started_from.get("recipe", {}).get("operation", default)


def continued(started_from: dict, curve: list[CurvePoint], operation: str) -> list[CurvePoint]:
    """The curve of a run of ``operation`` that started from another model, on one axis with that model's.

    ``started_from`` is the starting model's training record (a card's ``training.started_from``): the steps,
    examples and CPU time its weights cost, by which this run's points are shifted, and its curve, which comes
    first only if it measured the same operation (an eigenvalue model's accuracy is not an eigenvector curve).
    """
    same = started_operation(started_from, operation) == operation
    before = curve_from_json(started_from.get("curve", [])) if same else []
    steps = before[-1].step if before else started_from.get("steps", 0)
    examples, hours = started_from.get("examples", 0), started_from.get("cpu_seconds", 0.0) / 3600
    return before + [replace(p, step=p.step + steps, examples=p.examples + examples, cpu_hours=p.cpu_hours + hours)
                     for p in curve]


def model_curve(folder: Path, training: dict, operation: str) -> list[CurvePoint]:
    """The curve behind the model in ``folder`` (a run's ``best`` or ``last``, with its card's ``training``):
    its run's periodic evaluations up to the model's step, after the curve of the model it started from."""
    curve = read_curve(folder.parent, up_to_step=training.get("steps"))
    if curve and training.get("started_from"):
        curve = continued(training["started_from"], curve, operation)
    return curve


def _hours(value: float) -> str:
    return "over 1,000" if value > 1000 else f"{value:,.1f}"


def describe(projection: Projection) -> str:
    """One line: when the target was reached, or where the two trends put it."""
    goal = f"{100 * projection.target:.0f} % at {projection.tolerance}"
    if projection.reached_at is not None:
        return f"{goal} reached at {projection.reached_at:.2f} CPU-hours"
    if projection.linear_hours is None:
        return f"{goal}: not rising beyond the noise over the last {projection.points} evaluations, no projection"
    log = "not rising" if projection.log_hours is None else _hours(projection.log_hours)
    return (f"{goal} projected at {_hours(projection.linear_hours)} CPU-hours (straight line) to {log} "
            f"(log-linear), from the last {projection.points} evaluations")
