"""Put a trained model into the zoo: evaluate on 10,000 seeded problems, keep it only if it is better."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from lawt.curves import curve_as_json, model_curve
from lawt.evaluate import UNTRAINED_PROBLEMS, accuracy_table, evaluate, table_score, untrained_squares, write_report
from lawt.ops import Operation
from lawt.ops.base import TYPED
from lawt.predict import TOLERANCES
from lawt.zoo import CONFIG, MAX_WEIGHTS_BYTES, WEIGHTS, ZOO_DIR, ModelLoadError, load_model, read_card, sha256

if TYPE_CHECKING:
    from lawt.ops.base import Dims
    from lawt.zoo import LoadedModel

MARGIN = 2.0  # standard errors by which a candidate must beat the shipped model on the same problems
BOOTSTRAP_RESAMPLES = 2000  # paired resamples of the problems behind the standard error of the bar's shortfall


@dataclass(frozen=True)
class Comparison:
    """A candidate's coverage score minus the shipped model's, measured on the same problems, the standard
    error of that difference, and each size's mean score (candidate, shipped)."""

    gain: float
    standard_error: float
    per_size: dict[str, tuple[float, float]]

    @property
    def better(self) -> bool:
        return self.gain > MARGIN * self.standard_error

    @property
    def worse(self) -> bool:
        return self.gain < -MARGIN * self.standard_error


BAR = "bar"  # the key of the comparison at the operation's bar, beside those keyed by test set
BAR_MEASURE = "shortfall"  # what a history's bar_gain measures (:func:`compare_at_bar`); before it, the mean pass rate


def ships(comparisons: dict[str, Comparison]) -> bool:
    """The zoo's rule: better than the shipped model beyond the noise on one test set (the main one or
    ``typed``) or at the operation's bar, worse beyond the noise on none of them."""
    return any(c.better for c in comparisons.values()) and not any(c.worse for c in comparisons.values())


def compare(candidate: dict[str, torch.Tensor], shipped: dict[str, torch.Tensor], sizes: int) -> Comparison:
    """Pair two models' per-problem scores size by size; a size only one of them was measured on counts 0
    for the other. ``sizes`` is the number of sizes the mean runs over (the operation's, as in
    :func:`coverage_score`)."""
    gain = variance = 0.0
    per_size = {}
    for label in _either(candidate, shipped):
        ours, theirs = candidate.get(label), shipped.get(label)
        diff = (ours if ours is not None else 0.0) - (theirs if theirs is not None else 0.0)
        gain += float(diff.mean())
        variance += float(diff.var()) / len(diff) if len(diff) > 1 else 0.0
        per_size[label] = tuple(float(x.mean()) if x is not None else 0.0 for x in (ours, theirs))
    return Comparison(gain / sizes, variance ** 0.5 / sizes, per_size)


def shortfall(rates: torch.Tensor, share: float) -> torch.Tensor:
    """How far the sizes' pass rates (last dimension) fall short of ``share``, summed: 0 when all meet it."""
    return (share - rates).clamp(min=0).sum(-1)


def compare_at_bar(candidate: dict[str, torch.Tensor], shipped: dict[str, torch.Tensor], share: float, sizes: int,
                   resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Comparison:
    """Pair two models' passes at a bar (1 or 0 per problem, size by size, on the same problems) on the bar's
    own measure: the gain is the cut in the shortfall of the sizes' pass rates below ``share``, averaged over
    ``sizes`` (the bar's), so only sizes under the bar count and a size lifted over it cannot pay for another
    let fall. A size one model was not measured on counts 0 for it. The standard error comes from resampling
    each size's problems with replacement, the same draws for both models."""
    generator = torch.Generator().manual_seed(seed)
    ours_rates, theirs_rates, per_size = [], [], {}
    for label in _either(candidate, shipped):
        ours, theirs = candidate.get(label), shipped.get(label)
        n = len(ours if ours is not None else theirs)
        ours = ours.double() if ours is not None else torch.zeros(n, dtype=torch.float64)
        theirs = theirs.double() if theirs is not None else torch.zeros(n, dtype=torch.float64)
        picks = torch.randint(n, (resamples, n), generator=generator)
        ours_rates.append(torch.cat([ours.mean().view(1), ours[picks].mean(1)]))
        theirs_rates.append(torch.cat([theirs.mean().view(1), theirs[picks].mean(1)]))
        per_size[label] = (float(ours.mean()), float(theirs.mean()))
    gains = (shortfall(torch.stack(theirs_rates, -1), share) - shortfall(torch.stack(ours_rates, -1), share)) / sizes
    return Comparison(float(gains[0]), float(gains[1:].std()), per_size)


def _either(candidate: dict[str, torch.Tensor], shipped: dict[str, torch.Tensor]) -> list[str]:
    """The size labels either model was measured on, the candidate's first."""
    return [*candidate, *(label for label in shipped if label not in candidate)]


def problem_scores(marks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each problem's score, the mean of its marks (:func:`~lawt.evaluate.accuracy_table`), size by size."""
    return {label: m.mean(1) for label, m in marks.items()}


def bar_passes(op: Operation, marks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each problem of the sizes under the operation's bar: 1 if right at the bar's tolerance, else 0."""
    assert op.bar is not None
    column = TOLERANCES.index(op.bar.tolerance)
    return {label: m[:, column] for label, m in marks.items() if op.bar.covers(op.parse_label(label))}


def compare_marks(op: Operation, ours: dict[str, dict[str, torch.Tensor]],
                  theirs: dict[str, dict[str, torch.Tensor]]) -> dict[str, Comparison]:
    """Two models' marks on the same problems, keyed by test set, compared on each test set's scores and,
    where the operation has a bar and its standard test set (the first distribution) was measured, on the
    shortfall below the bar (:data:`BAR`, :func:`compare_at_bar`): a candidate better over all tolerances
    must not fall back where the bar is judged."""
    sizes = len(op.all_sizes())
    result = {d: compare(problem_scores(ours[d]), problem_scores(theirs[d]), sizes) for d in ours}
    standard = op.distributions[0]
    if op.bar is not None and standard in ours:
        result[BAR] = compare_at_bar(bar_passes(op, ours[standard]), bar_passes(op, theirs[standard]),
                                     op.bar.share, len(op.bar_sizes()))
    return result


def coverage_score(op: Operation, report: dict) -> float:
    """Mean of ``size_score`` over *every* size of the operation (unserved sizes = 0), on the report's
    first (training) distribution."""
    return table_score(next(iter(report["distributions"].values())), len(op.all_sizes()))


def ship(candidate: Path, destination: Path | None = None, problems: int = 10_000, force: bool = False,
         untrained_problems: int = UNTRAINED_PROBLEMS, only: list[str] | None = None) -> bool:
    """Evaluate ``candidate`` and copy it to ``destination`` if it beats the model there. Returns shipped?

    A candidate that is the shipped model itself is measured again: its card gets the new evaluation (for
    instance figures a newer ``lawt eval`` records) and keeps its weights and history; with ``only``, just
    those test sets are measured, and the card's other measurements are kept.
    """
    loaded = load_model(candidate)
    op = loaded.op
    destination = destination or ZOO_DIR / op.name
    again = candidate.resolve() == destination.resolve()
    if only and not again:
        raise ValueError("only measures the shipped model again: a candidate is measured on every test set")
    for name in only or []:
        op.check_distribution(name)
    size = (candidate / WEIGHTS).stat().st_size
    if size > MAX_WEIGHTS_BYTES and not again:
        print(f"not shipped: {candidate / WEIGHTS} is {size / 1e6:.1f} MB, over the zoo's limit of "
              f"{MAX_WEIGHTS_BYTES / 1e6:.0f} MB per model (fewer layers, a smaller width or fp16 weights)")
        return False
    trained_on = loaded.distribution
    marks: dict[str, dict[str, torch.Tensor]] = {}
    report = evaluate(loaded.model, loaded.codec, op, loaded.sizes, total=problems,
                      distributions=only or op.report_distributions(trained_on), marks=marks)
    if again and only:
        kept = loaded.card["evaluation"]
        report = {**kept, "distributions": {**kept["distributions"], **report["distributions"]}}
        _write_card({**loaded.card, "evaluation": report}, report, destination)
        print(f"{op.name}: the shipped model measured again on {problems} problems of {', '.join(only)}, card updated")
        return True
    if again:
        untrained = untrained_evaluation(loaded, trained_on, untrained_problems)
        _write_card({**loaded.card, "evaluation": report, **untrained}, report, destination)
        print(f"{op.name}: the shipped model measured again on {problems} problems per test set, card updated")
        return True
    score = coverage_score(op, report)
    previous_score, history = -1.0, []
    try:
        previous = read_card(destination)
        history = previous.get("history", [])
        if previous.get("evaluation"):
            previous_score = coverage_score(op, previous["evaluation"])
    except ModelLoadError:
        pass
    compared = {d: marks[d] for d in (trained_on, TYPED) if d in marks}
    comparisons = _against_shipped(destination, loaded.sizes, problems, compared)
    earned = ships(comparisons) if comparisons else score > previous_score
    better = force or earned
    training = loaded.card.get("training", {})
    main = next(iter(report["distributions"].values()))
    verdict = {"invertible?": main["invertibility"]["accuracy"]} if "invertibility" in main else {}
    paired = {}
    for name, prefix in ((trained_on, ""), (TYPED, "typed_"), (BAR, "bar_")):
        if name in comparisons:
            c = comparisons[name]
            paired |= {f"{prefix}gain": round(c.gain, 4), f"{prefix}standard_error": round(c.standard_error, 4)}
    if BAR in comparisons:
        paired["bar_measure"] = BAR_MEASURE
    history.append({"cpu_seconds": training.get("cpu_seconds"), "examples": training.get("examples"),
                    "encoding": loaded.card["encoding"], "overall": main["overall"], **verdict,
                    "score": round(score, 4), **paired, "shipped": better,
                    **({"forced": True} if better and not earned else {})})
    print(f"{op.name}: candidate score {score:.4f} (shipped: {previous_score:.4f}); "
          + ", ".join(f"{k} {100 * v:.1f}%" for k, v in (main["overall"] | verdict).items()))
    for name, c in comparisons.items():
        where = (f"{op.distributions[0]} problems at the bar ({op.bar.describe()}), in the shortfall of its "
                 "sizes under it" if name == BAR else f"{name} problems")
        print(f"on the same {where}: {c.gain:+.4f} ± {c.standard_error:.4f} (standard error)")
    if comparisons:
        print(f"shipping needs a gain of more than {MARGIN:g} standard errors on one of them and a loss of more "
              "on none")
    if not better:
        if destination.exists():  # keep the measurement of the rejected candidate in the curve
            card = read_card(destination)
            card["history"] = history
            (destination / CONFIG).write_text(json.dumps(card, indent=2) + "\n")
        print("not shipped: not better than the shipped model beyond the noise of the test set")
        return False
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(candidate / WEIGHTS, destination / WEIGHTS)
    untrained = untrained_evaluation(loaded, trained_on, untrained_problems)
    card = {**loaded.card, "evaluation": report, **untrained, "history": history,
            "sha256": sha256(destination / WEIGHTS)}
    curve = model_curve(candidate, training, op.name)
    if curve:
        card["training"] = {**training, "curve": curve_as_json(curve)}
    _write_card(card, report, destination)
    print(f"shipped to {destination}")
    return True


def _against_shipped(destination: Path, sizes: list[Dims], problems: int,
                     marks: dict[str, dict[str, torch.Tensor]]) -> dict[str, Comparison]:
    """Measure the model shipped at ``destination`` on each test set of ``marks`` (keyed by distribution) and
    :func:`compare_marks`; empty when none loads there."""
    try:
        shipped = load_model(destination)
    except ModelLoadError:
        return {}
    theirs = {d: shipped_marks(shipped, sizes, problems, d) for d in marks}
    return compare_marks(shipped.op, marks, theirs)


def shipped_marks(shipped: LoadedModel, sizes: list[Dims], problems: int, distribution: str) -> dict[str, torch.Tensor]:
    """The marks of ``shipped`` on a candidate's problems (the same seed, ``sizes``, ``problems`` and
    ``distribution``; 0 at a size it does not serve) and on the sizes only it serves."""
    theirs: dict[str, torch.Tensor] = {}
    accuracy_table(shipped.model, shipped.codec, shipped.op, sizes, problems, distribution, marks=theirs)
    for dims in sizes:
        label = shipped.op.label(dims)
        if dims not in shipped.sizes and label in theirs:
            theirs[label] = torch.zeros_like(theirs[label])
    only_theirs = [dims for dims in shipped.sizes if dims not in sizes]
    if only_theirs:
        accuracy_table(shipped.model, shipped.codec, shipped.op, only_theirs,
                       problems * len(only_theirs) // len(sizes), distribution, marks=theirs)
    return theirs


def untrained_evaluation(loaded: LoadedModel, distribution: str, per_size: int) -> dict:
    """``{"untrained_evaluation": table}``: the model's accuracy on ``per_size`` problems of each square size
    it was not trained on (:func:`~lawt.evaluate.untrained_squares`), so that its card says how it fares
    there; ``{}`` if there are none."""
    sizes = untrained_squares(loaded.op, loaded.sizes)
    if not sizes or per_size <= 0:
        return {}
    return {"untrained_evaluation": accuracy_table(loaded.model, loaded.codec, loaded.op, sizes,
                                                   per_size * len(sizes), distribution)}


def _write_card(card: dict, report: dict, destination: Path) -> None:
    """The card, and the evaluation's plot beside it (the card holds the numbers)."""
    (destination / CONFIG).write_text(json.dumps(card, indent=2) + "\n")
    write_report(report, destination / "evaluation.json", destination / "evaluation.png")
    (destination / "evaluation.json").unlink()
