"""Recipe chains: the configs and commands that retrain a model trained from another model's weights."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from lawt.curves import CurvePoint, continued, curve_as_json
from lawt.recipes import recipe_chain

ROOT = Path(__file__).resolve().parent.parent


def record(steps: int, lr: float, **extra: object) -> dict:
    """A card's training record, as `lawt train` writes it."""
    recipe = {"lr": lr, "steps": steps, "stop_step": 0, "max_minutes": 3.0, "fit_schedule": True,
              "init_from": "", "out_dir": "runs/x", "warmup_steps": 10, "weight_decay": 0.01}
    return {"steps": steps, "examples": 10 * steps, "cpu_seconds": float(steps), "recipe": recipe, **extra}


def test_a_model_from_scratch_has_one_recipe_stopped_at_its_step() -> None:
    (only,) = recipe_chain("sum", record(30, 1e-3))
    assert only.name == "sum" and only.out_dir == "runs/sum-reproduce"
    assert only.settings["stop_step"] == 30 and only.settings["max_minutes"] == 0.0
    assert only.settings["fit_schedule"] is False and only.settings["out_dir"] == "runs/x"


def test_a_fine_tune_starts_from_the_reproduction_of_its_start() -> None:
    tuned = record(5, 1e-4, started_from=record(40, 1e-3))
    tuned["recipe"]["init_from"] = "src/lawt/zoo/sum"  # the folder it started from, since replaced
    start, own = recipe_chain("sum", tuned)
    assert (start.name, own.name) == ("sum-start", "sum")
    assert start.settings["stop_step"] == 40 and start.settings["lr"] == 1e-3 and start.settings["init_from"] == ""
    assert start.settings["out_dir"] == "runs/sum-start-reproduce"
    assert own.settings["init_from"] == "runs/sum-start-reproduce/last" and own.settings["stop_step"] == 5


def test_record_recipe_writes_the_chain_and_removes_stale_starts(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "scripts" / "train_zoo.py")
    assert spec and spec.loader
    train_zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_zoo)
    configs, model = tmp_path / "configs", tmp_path / "model"
    configs.mkdir()
    model.mkdir()
    (configs / "sum-start-start.json").write_text("{}")  # from a longer chain shipped before
    (configs / "product-start.json").write_text("{}")  # another operation's: kept
    (model / "config.json").write_text(json.dumps({"training": record(5, 1e-4, started_from=record(40, 1e-3))}))
    train_zoo.record_recipe("sum", model, configs)
    assert sorted(p.name for p in configs.iterdir()) == ["product-start.json", "sum-start.json", "sum.json"]
    assert json.loads((configs / "sum.json").read_text())["init_from"] == "runs/sum-start-reproduce/last"
    (model / "config.json").write_text(json.dumps({"training": record(7, 1e-3)}))
    train_zoo.record_recipe("sum", model, configs)
    assert sorted(p.name for p in configs.iterdir()) == ["product-start.json", "sum.json"]


def test_a_continued_curve_follows_its_start_on_one_axis() -> None:
    first = [CurvePoint(10, 100, 0.5, {"5%": 0.2}), CurvePoint(20, 200, 1.0, {"5%": 0.4})]
    start = {"steps": 20, "examples": 200, "cpu_seconds": 3600.0, "curve": curve_as_json(first)}
    curve = continued(start, [CurvePoint(5, 50, 0.25, {"5%": 0.5})], "sum")
    assert [p.step for p in curve] == [10, 20, 25] and [p.examples for p in curve] == [100, 200, 250]
    assert [p.cpu_hours for p in curve] == [0.5, 1.0, 1.25] and curve[-1].accuracy == {"5%": 0.5}


def test_a_start_from_another_operation_shifts_the_curve_but_does_not_join_it() -> None:
    """An eigenvector run started from the eigenvalue model: the eigenvalue model's accuracies are not shown as
    eigenvector accuracies, but its cost still comes first on the axes."""
    first = [CurvePoint(10, 100, 0.5, {"5%": 0.9}), CurvePoint(20, 200, 1.0, {"5%": 0.95})]
    start = {"steps": 20, "examples": 200, "cpu_seconds": 3600.0, "curve": curve_as_json(first),
             "recipe": {"operation": "eigenvalues"}}
    curve = continued(start, [CurvePoint(5, 50, 0.25, {"5%": 0.3})], "eigenvectors")
    assert [(p.step, p.examples, p.cpu_hours, p.accuracy) for p in curve] == [(25, 250, 1.25, {"5%": 0.3})]
