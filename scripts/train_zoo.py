"""Train the zoo's models one after another, each for a time budget, and ship each one that improves.

    python scripts/train_zoo.py --minutes 15 sum matvec eigenvalues

Each operation trains from ``configs/<operation>.json`` in its run folder (resuming from its checkpoint),
then ``lawt ship`` evaluates the best checkpoint on 10,000 problems and replaces the shipped model only if
it is better; the shipped model's exact recipe (fitted schedule, stopping step) then replaces the config,
so ``lawt train --config configs/<operation>.json`` reproduces it. Extra ``--set key=value`` settings
override the recipe (e.g. ``--set steps=20000 --set stop_step=0`` to train further).

    python scripts/train_zoo.py --from-run runs/matvec-long matvec

ships a run trained some other way (``lawt train``) in the same manner, without training; ``--model last``
ships the run's final weights instead of its best-evaluated ones (the run's own evaluations are small).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lawt.allocator import keep_freed_memory
from lawt.cli import parse_boolean
from lawt.recipes import recipe_chain
from lawt.ship import ship
from lawt.train import TrainConfig, train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def recipe(operation: str, overrides: list[str], minutes: float) -> TrainConfig:
    settings = json.loads((CONFIGS / f"{operation}.json").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        kind = type(getattr(TrainConfig, key))
        settings[key] = parse_boolean(value) if kind is bool else kind(value)
    settings["max_minutes"] = minutes
    return TrainConfig.from_dict(settings)


def record_recipe(operation: str, model: Path, configs: Path = CONFIGS) -> None:
    """Write the shipped model's exact recipe to ``configs/``: the fitted schedule, stopped at its step.

    A model trained from another model's weights also gets that model's recipe (``<operation>-start.json``);
    start recipes of an earlier model that this one does not need are removed.
    """
    chain = recipe_chain(operation, json.loads((model / "config.json").read_text())["training"])
    for stale in set(configs.glob(f"{operation}-start*.json")) - {configs / f"{r.name}.json" for r in chain}:
        stale.unlink()
    for recipe in chain:
        (configs / f"{recipe.name}.json").write_text(json.dumps(recipe.settings, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operations", nargs="+")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per operation (wall clock)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--problems", type=int, default=10_000, help="evaluation problems before shipping")
    parser.add_argument("--from-run", type=Path, help="ship this run folder instead of training (one operation)")
    parser.add_argument("--model", choices=("best", "last"), default="best", help="which of the run's models to ship")
    args = parser.parse_args()
    if args.from_run and len(args.operations) != 1:
        parser.error("--from-run takes exactly one operation")
    keep_freed_memory()
    for operation in args.operations:
        out = args.from_run or train(recipe(operation, args.set, args.minutes), show_progress=False)
        if ship(out / args.model, problems=args.problems):
            record_recipe(operation, out / args.model)


if __name__ == "__main__":
    main()
