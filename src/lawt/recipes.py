"""The exact recipes that retrain a shipped model, for ``configs/`` and REPRODUCE.md.

A model trained from scratch has one recipe. A model trained from another model's weights (``init_from``) has
a chain: the starting model's recipe first, then its own, whose ``init_from`` names the reproduction of the
one before. The last recipe is ``<operation>``; those before it are ``<operation>-start``,
``<operation>-start-start`` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass


def reproduce_dir(name: str) -> str:
    """The run folder REPRODUCE.md trains the recipe ``name`` in."""
    return f"runs/{name}-reproduce"


@dataclass(frozen=True)
class Recipe:
    """One training command of a chain: its config name and settings (``stop_step`` is where it stops)."""

    name: str
    settings: dict

    @property
    def out_dir(self) -> str:
        return reproduce_dir(self.name)


def recipe_chain(operation: str, training: dict) -> list[Recipe]:
    """The recipes that retrain a model from its card's ``training`` record, the first to run first."""
    records = [training]
    while "started_from" in records[-1]:
        records.append(records[-1]["started_from"])
    chain: list[Recipe] = []
    for depth, record in reversed(list(enumerate(records))):
        name = operation + "-start" * depth
        settings = {**record["recipe"], "max_minutes": 0.0, "fit_schedule": False, "stop_step": record["steps"]}
        if chain:
            settings["init_from"] = f"{chain[-1].out_dir}/last"
        if depth:  # a start's own run folder is where the next recipe looks for its weights
            settings["out_dir"] = reproduce_dir(name)
        chain.append(Recipe(name, settings))
    return chain
