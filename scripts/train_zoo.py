"""Train the zoo's models one after another, each for a time budget, and ship each one that improves.

    python scripts/train_zoo.py --minutes 15 sum matvec eigenvalues

Each operation trains from ``configs/<operation>.json`` in its run folder (resuming from its checkpoint),
then ``lawt ship`` evaluates the best checkpoint on 10,000 problems and replaces the shipped model only if
it is better. Extra ``--set key=value`` settings override the recipe (e.g. ``--set steps=20000``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lawt.ship import ship
from lawt.train import TrainConfig, train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def recipe(operation: str, overrides: list[str], minutes: float) -> TrainConfig:
    settings = json.loads((CONFIGS / f"{operation}.json").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        settings[key] = type(getattr(TrainConfig, key))(value)
    settings["max_minutes"] = minutes
    return TrainConfig.from_dict(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operations", nargs="+")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per operation (wall clock)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--problems", type=int, default=10_000, help="evaluation problems before shipping")
    args = parser.parse_args()
    for operation in args.operations:
        cfg = recipe(operation, args.set, args.minutes)
        out = train(cfg, show_progress=False)
        ship(out / "best", problems=args.problems)


if __name__ == "__main__":
    main()
