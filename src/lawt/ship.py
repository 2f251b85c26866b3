"""Put a trained model into the zoo: evaluate on 10,000 seeded problems, keep it only if it is better."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from lawt.curves import continued, curve_as_json, read_curve
from lawt.evaluate import UNTRAINED_PROBLEMS, accuracy_table, evaluate, table_score, untrained_squares, write_report
from lawt.ops import Operation
from lawt.zoo import CONFIG, MAX_WEIGHTS_BYTES, WEIGHTS, ZOO_DIR, ModelLoadError, load_model, read_card, sha256

if TYPE_CHECKING:
    from lawt.zoo import LoadedModel


def coverage_score(op: Operation, report: dict) -> float:
    """Mean of ``size_score`` over *every* size of the operation (unserved sizes = 0), on the report's
    first (training) distribution."""
    return table_score(next(iter(report["distributions"].values())), len(op.all_sizes()))


def ship(candidate: Path, destination: Path | None = None, problems: int = 10_000, force: bool = False,
         untrained_problems: int = UNTRAINED_PROBLEMS) -> bool:
    """Evaluate ``candidate`` and copy it to ``destination`` if it beats the model there. Returns shipped?

    A candidate that is the shipped model itself is measured again: its card gets the new evaluation (for
    instance figures a newer ``lawt eval`` records) and keeps its weights and history.
    """
    loaded = load_model(candidate)
    op = loaded.op
    destination = destination or ZOO_DIR / op.name
    size = (candidate / WEIGHTS).stat().st_size
    if size > MAX_WEIGHTS_BYTES and candidate.resolve() != destination.resolve():
        print(f"not shipped: {candidate / WEIGHTS} is {size / 1e6:.1f} MB, over the zoo's limit of "
              f"{MAX_WEIGHTS_BYTES / 1e6:.0f} MB per model (fewer layers, a smaller width or fp16 weights)")
        return False
    trained_on = loaded.card.get("distribution") or op.distributions[0]
    report = evaluate(loaded.model, loaded.codec, op, loaded.sizes, total=problems,
                      distributions=op.report_distributions(trained_on))
    if candidate.resolve() == destination.resolve():
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
    training = loaded.card.get("training", {})
    main = next(iter(report["distributions"].values()))
    verdict = {"invertible?": main["invertibility"]["accuracy"]} if "invertibility" in main else {}
    history.append({"cpu_seconds": training.get("cpu_seconds"), "examples": training.get("examples"),
                    "encoding": loaded.card["encoding"], "overall": main["overall"], **verdict,
                    "score": round(score, 4), "shipped": force or score > previous_score})
    print(f"{op.name}: candidate score {score:.4f} (shipped: {previous_score:.4f}); "
          + ", ".join(f"{k} {100 * v:.1f}%" for k, v in (main["overall"] | verdict).items()))
    if not (force or score > previous_score):
        if destination.exists():  # keep the measurement of the rejected candidate in the curve
            card = read_card(destination)
            card["history"] = history
            (destination / CONFIG).write_text(json.dumps(card, indent=2) + "\n")
        print("not shipped: not better than the shipped model")
        return False
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(candidate / WEIGHTS, destination / WEIGHTS)
    untrained = untrained_evaluation(loaded, trained_on, untrained_problems)
    card = {**loaded.card, "evaluation": report, **untrained, "history": history,
            "sha256": sha256(destination / WEIGHTS)}
    curve = read_curve(candidate.parent, up_to_step=training.get("steps"))  # the run's periodic evaluations
    if curve and training.get("started_from"):
        curve = continued(training["started_from"], curve, op.name)
    if curve:
        card["training"] = {**training, "curve": curve_as_json(curve)}
    _write_card(card, report, destination)
    print(f"shipped to {destination}")
    return True


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
