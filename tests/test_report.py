"""MODELS.md and REPRODUCE.md are generated from real cards, shipping keeps only better models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lawt.encodings import make_codec
from lawt.model import Seq2Seq
from lawt.ops import get_operation
from lawt.report import write_models_md, write_reproduce_md
from lawt.ship import compare, compare_at_bar, coverage_score, ship
from lawt.train import TrainConfig
from lawt.zoo import read_card, save_model


def tiny_candidate(folder: Path, seed: int, operation: str = "transpose", sizes: tuple[str, ...] = ("1x1", "1x2"),
                   distribution: str = "uniform") -> Path:
    torch.manual_seed(seed)
    model = Seq2Seq.for_codec(make_codec("entry"), d_model=32, n_heads=2, enc_layers=1, dec_layers=1)
    recipe = TrainConfig(operation=operation, sizes=",".join(sizes), distribution=distribution).__dict__
    card = {"operation": operation, "encoding": "entry", "sizes": list(sizes), "distribution": distribution,
            "training": {"examples": 640, "steps": 10, "cpu_seconds": 36.0, "wall_seconds": 18.0, "recipe": recipe},
            "evaluation": None}
    save_model(model, card, folder)
    return folder


def test_ship_then_report(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    candidate = tiny_candidate(tmp_path / "run" / "best", 0)
    with (tmp_path / "run" / "metrics.jsonl").open("w") as f:  # the run's periodic evaluations, one after the model
        for step in (5, 10, 15):
            f.write(json.dumps({"step": step, "examples": 64 * step, "cpu_seconds": 3.6 * step,
                                "eval": {"5%": step / 20, "2%": 0.1, "1%": 0.05, "0.5%": 0.0}}) + "\n")
    assert ship(candidate, zoo / "transpose", problems=40, untrained_problems=3)
    card = read_card(zoo / "transpose")
    assert [p["step"] for p in card["training"]["curve"]] == [5, 10]
    table = card["evaluation"]["distributions"]["uniform"]
    assert table["count"] == 40 and set(table["per_size"]) == {"1x1", "1x2"}
    untrained = card["untrained_evaluation"]  # the square sizes it was not trained on, up to 10x10
    assert list(untrained["per_size"]) == [f"{n}x{n}" for n in range(2, 11)] and untrained["count"] == 27
    assert len(card["history"]) == 1 and card["history"][0]["shipped"]
    assert (zoo / "transpose" / "evaluation.png").stat().st_size > 0

    # The same weights again are not better: the shipped model stays, the measurement joins the history.
    weights_before = (zoo / "transpose" / "model.safetensors").read_bytes()
    assert not ship(tiny_candidate(tmp_path / "b", 0), zoo / "transpose", problems=40, untrained_problems=3)
    assert (zoo / "transpose" / "model.safetensors").read_bytes() == weights_before
    history = read_card(zoo / "transpose")["history"]
    assert [h["shipped"] for h in history] == [True, False]
    assert "gain" not in history[0] and history[1]["gain"] == 0.0 and history[1]["standard_error"] == 0.0
    assert "invertible?" not in read_card(zoo / "transpose")["history"][0]

    out = tmp_path / "MODELS.md"
    write_models_md(zoo, out)
    text = out.read_text()
    assert "| transpose | entry | 1/1 | 32 |" in text
    assert "| sum | – |" in text  # operations without a model are listed as such
    rows = table["per_size"]
    under = [f"{size} {100 * rows[size]['1%']:.1f}" for size in ("1x1", "1x2") if rows[size]["1%"] < 0.99]
    assert ("**Bar** (≥ 99 % at 1 % on every size up to 10×10, 100 sizes): "
            + f"{98 + len(under)} under it on this test" + (f" — {', '.join(under)} %" if under else "")
            + "; 98 not served by the model.") in text
    assert "| 10 | 640 | 0.010 | 50.0 |" in text  # the learning curve of the shipped model's run
    candidates = [line for line in text.splitlines() if line.startswith("| 0.01 | 640 |")]  # the ship history
    assert [c.endswith("| – | – | yes |") for c in candidates] == [True, False]
    assert candidates[1].endswith("| +0.0000 ± 0.0000 | +0.0000 ± 0.0000 | no |")  # main and typed test sets
    top = next(line for line in text.splitlines() if line.startswith("| transpose | entry |"))
    typed = read_card(zoo / "transpose")["evaluation"]["distributions"]["typed"]["overall"]["5%"]
    assert top.endswith(f"| {100 * typed:.1f} |")  # the typed column
    assert "**Sizes it was not trained on** (uniform;" in text and "| 10x10 | 3 |" in text
    assert (tmp_path / "models.png").stat().st_size > 0
    write_reproduce_md(zoo, tmp_path / "REPRODUCE.md")
    reproduce = (tmp_path / "REPRODUCE.md").read_text()
    assert "lawt train --config configs/transpose.json" in reproduce and "stops at step 10" in reproduce
    assert "## sum" in reproduce and "No model shipped yet." in reproduce
    json.dumps(card)  # the card stays plain JSON


def test_a_candidate_must_beat_the_shipped_model_beyond_the_noise_of_the_same_problems() -> None:
    def scores(*rows: list[float]) -> dict[str, torch.Tensor]:
        return {f"1x{i + 1}": torch.tensor(row, dtype=torch.float64) for i, row in enumerate(rows)}

    shipped = scores([0.0, 1.0] * 50, [0.5] * 100)
    assert compare(shipped, shipped, 2).gain == 0.0 and not compare(shipped, shipped, 2).better
    one_more = scores([1.0, 1.0] + [0.0, 1.0] * 49, [0.5] * 100)  # one problem of 200 more: noise
    small = compare(one_more, shipped, 2)
    assert small.gain == pytest.approx(0.005) and small.standard_error > 0 and not small.better
    many_more = scores([1.0] * 100, [0.5] * 100)  # fifty more, every other problem of a size
    assert compare(many_more, shipped, 2).better and not compare(shipped, many_more, 2).better
    # A size only the shipped model was measured on counts 0 for the candidate, and the other way round.
    assert compare(scores([0.0] * 10), scores([0.0] * 10, [1.0] * 10), 4).gain == pytest.approx(-0.25)
    assert compare(scores([0.0] * 10, [1.0] * 10), scores([0.0] * 10), 4).gain == pytest.approx(0.25)


def passes(*rates: float, n: int = 1000) -> dict[str, torch.Tensor]:
    """Per-problem passes (1 or 0) of sizes 1x1, 1x2, ..., each with the given share of passes."""
    return {f"1x{i + 1}": (torch.arange(n) < round(rate * n)).double() for i, rate in enumerate(rates)}


def test_at_the_bar_only_the_shortfall_of_sizes_under_it_counts() -> None:
    """A bar of 95 %: lifting a size from 96 to 100 % gains nothing and cannot pay for another size let fall from
    94 to 90 %, though the mean pass rate is the same; lifting a size under the bar to it is a gain."""
    shipped = passes(0.96, 0.94, 0.80)
    level_mean = compare_at_bar(passes(1.0, 0.90, 0.80), shipped, 0.95, 3)
    assert level_mean.gain == pytest.approx(-0.04 / 3) and level_mean.worse
    assert level_mean.per_size["1x1"] == (1.0, 0.96)
    over_the_bar = compare_at_bar(passes(1.0, 0.94, 0.80), shipped, 0.95, 3)
    assert over_the_bar.gain == 0.0 and not over_the_bar.better and not over_the_bar.worse
    lifted = compare_at_bar(passes(0.96, 0.97, 0.85), shipped, 0.95, 3)
    assert lifted.gain == pytest.approx((0.01 + 0.05) / 3) and lifted.better
    noise = compare_at_bar(passes(0.96, 0.94, 0.801), shipped, 0.95, 3)  # one problem in 1,000 more
    assert 0 < noise.gain < 2 * noise.standard_error
    assert compare_at_bar(passes(0.96, 0.94), shipped, 0.95, 4).gain == pytest.approx(-0.80 / 4)  # 1x3 unserved


def test_shipping_the_shipped_model_measures_its_card_again(tmp_path: Path) -> None:
    folder = tmp_path / "zoo" / "transpose"
    assert ship(tiny_candidate(tmp_path / "run" / "best", 0), folder, problems=40, untrained_problems=2)
    card = read_card(folder)
    stale = {**card, "evaluation": {**card["evaluation"], "distributions": {}}}  # as if measured by older code
    del stale["untrained_evaluation"]
    (folder / "config.json").write_text(json.dumps(stale))
    weights = (folder / "model.safetensors").read_bytes()
    assert ship(folder, folder, problems=40, untrained_problems=2)
    again = read_card(folder)
    assert again["evaluation"] == card["evaluation"]  # the same seeded problems, the same answers
    assert again["untrained_evaluation"] == card["untrained_evaluation"]
    assert again["history"] == card["history"] and again["training"] == card["training"]
    assert (folder / "model.safetensors").read_bytes() == weights
    assert not (folder / "evaluation.json").exists() and (folder / "evaluation.png").exists()


def test_the_inverse_size_table_shows_the_verdict_per_size(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    assert ship(tiny_candidate(tmp_path / "run" / "best", 0, "inverse", ("2x2", "3x3"), "mixed"), zoo / "inverse",
                problems=20)
    card = read_card(zoo / "inverse")
    table = card["evaluation"]["distributions"]["mixed"]
    assert card["history"][0]["invertible?"] == table["invertibility"]["accuracy"]  # kept for rejected ones too
    write_models_md(zoo, tmp_path / "MODELS.md")
    text = (tmp_path / "MODELS.md").read_text()
    assert "| size | problems | 5% | 2% | 1% | 0.5% | invertible? right |" in text
    for size in ("2x2", "3x3"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {size} | 10 |"))
        assert row.split("|")[-2].strip() == f"{100 * table['per_size'][size]['invertibility']:.1f}"


def test_a_model_started_from_another_operation_says_so_under_its_curve(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    assert ship(tiny_candidate(tmp_path / "run" / "best", 0), zoo / "transpose", problems=20)
    card = read_card(zoo / "transpose")
    card["training"]["curve"] = [{"step": 30, "examples": 900, "cpu_hours": 1.01,
                                  "accuracy": {"5%": 0.5, "2%": 0.4, "1%": 0.3, "0.5%": 0.2}}]
    card["training"]["started_from"] = {"steps": 20, "examples": 800, "cpu_seconds": 3600.0,
                                        "recipe": {"operation": "sum"}}
    (zoo / "transpose" / "config.json").write_text(json.dumps(card))
    write_models_md(zoo, tmp_path / "MODELS.md")
    assert "The run started from the sum model (20 steps, 800 examples, 1.00 CPU-hours)" in (
        tmp_path / "MODELS.md").read_text()


def reproduce_text(tmp_path: Path, edit: Callable[[dict], None]) -> tuple[str, dict]:
    """REPRODUCE.md for a shipped tiny model whose card's training record ``edit`` changed, and that record."""
    candidate = tiny_candidate(tmp_path / "run" / "best", 0)
    card = read_card(candidate)
    edit(card["training"])
    (candidate / "config.json").write_text(json.dumps(card))
    assert ship(candidate, tmp_path / "zoo" / "transpose", problems=20)
    write_reproduce_md(tmp_path / "zoo", tmp_path / "REPRODUCE.md")
    return (tmp_path / "REPRODUCE.md").read_text(), card["training"]


def test_reproduce_names_the_stages_a_resumed_run_trained_in(tmp_path: Path) -> None:
    text, _ = reproduce_text(tmp_path, lambda training: training["recipe"].update(steps=30, earlier=[
        {"until_step": 10, "steps": 20, "warmup_steps": 4, "lr": 3e-3, "min_lr_ratio": 0.05, "curriculum_steps": 0}]))
    assert ("Trained in stages, which the config replays: the schedule of 20 steps (curriculum 0, lr 0.003) "
            "until step 10, then the schedule of 30 steps (curriculum 0, lr 0.0005) to the end.") in text


def test_reproduce_names_the_shares_of_typed_and_hard_batches(tmp_path: Path) -> None:
    text, _ = reproduce_text(tmp_path, lambda training: training["recipe"].update(
        operation="sum", focus_sizes="1x1", focus_share=0.5, typed_share=0.25, hard_share=0.3))
    assert ("50% of batches from sizes `1x1`; 25% of batches typed (whole numbers, zeros); 30% of batches "
            "`cancelling` (answers that nearly cancel).") in text


def test_reproduce_names_the_sizes_a_stage_drew_more_often(tmp_path: Path) -> None:
    text, _ = reproduce_text(tmp_path, lambda training: training["recipe"].update(
        steps=30, focus_sizes="1x1,2x1", focus_share=0.5, earlier=[
            {"until_step": 10, "steps": 20, "warmup_steps": 4, "lr": 3e-3, "min_lr_ratio": 0.05,
             "curriculum_steps": 0}]))
    assert ("until step 10, then the schedule of 30 steps (curriculum 0, lr 0.0005, 50% of batches from sizes "
            "`1x1,2x1`) to the end.") in text


def test_reproduce_names_the_weight_decay_of_each_stage_when_it_changed(tmp_path: Path) -> None:
    text, _ = reproduce_text(tmp_path, lambda training: training["recipe"].update(steps=30, weight_decay=1.0, earlier=[
        {"until_step": 10, "steps": 20, "warmup_steps": 4, "lr": 3e-3, "min_lr_ratio": 0.05, "curriculum_steps": 0,
         "weight_decay": 0.01}]))
    assert ("the schedule of 20 steps (curriculum 0, lr 0.003, weight decay 0.01) until step 10, then the schedule "
            "of 30 steps (curriculum 0, lr 0.0005, weight decay 1) to the end.") in text


def test_reproduce_gives_both_commands_for_a_model_trained_from_another(tmp_path: Path) -> None:
    def started_from_another(training: dict) -> None:
        start = {**training, "steps": 40, "examples": 4000, "cpu_seconds": 7200.0,
                 "recipe": {**training["recipe"], "steps": 40, "lr": 3e-3}}
        training.update(started_from=start, examples=training["examples"] + 4000,
                        cpu_seconds=training["cpu_seconds"] + 7200.0)

    text, training = reproduce_text(tmp_path, started_from_another)
    assert ("lawt train --config configs/transpose-start.json --out-dir runs/transpose-start-reproduce   "
            "# stops at step 40\n") in text
    assert ("lawt train --config configs/transpose.json --out-dir runs/transpose-reproduce   # stops at step "
            f"{training['steps']}, from the model above\n") in text
    assert "over 2 runs" in text
    assert "starts from the weights of the model of `configs/transpose-start.json` (40 steps, lr 0.003" in text


def test_reproduce_tells_a_chain_of_three_runs_from_the_nearest_model_back(tmp_path: Path) -> None:
    def started_from_a_chain(training: dict) -> None:
        first = {**training, "steps": 40, "examples": 4000, "cpu_seconds": 7200.0,
                 "recipe": {**training["recipe"], "steps": 40, "lr": 3e-3}}
        second = {**training, "steps": 20, "examples": 2000, "cpu_seconds": 3600.0, "started_from": first,
                  "recipe": {**training["recipe"], "steps": 20, "lr": 1e-3}}
        training.update(started_from=second, examples=training["examples"] + 6000,
                        cpu_seconds=training["cpu_seconds"] + 10800.0)

    text, _ = reproduce_text(tmp_path, started_from_a_chain)
    assert "over 3 runs" in text
    assert ("It starts from the weights of the model of `configs/transpose-start.json` (20 steps, lr 0.001, "
            "weight decay 0.01). That model was trained from the weights of the model of "
            "`configs/transpose-start-start.json` (40 steps, lr 0.003") in text


def test_reproduce_writes_a_focus_list_two_runs_of_a_chain_share_once(tmp_path: Path) -> None:
    def two_focused_runs(training: dict) -> None:
        training["recipe"].update(focus_sizes="1x1,2x1", focus_share=0.5)
        start = {**training, "steps": 40, "examples": 4000, "cpu_seconds": 7200.0,
                 "recipe": {**training["recipe"], "steps": 40, "lr": 3e-3}}
        training.update(started_from=start)

    text, _ = reproduce_text(tmp_path, two_focused_runs)
    assert text.count("`1x1,2x1`") == 1
    assert "50% of batches from the same sizes as above." in text


def test_the_coverage_score_counts_the_verdict_as_a_fifth_figure() -> None:
    op = get_operation("inverse")
    row = {"5%": 0.5, "2%": 0.5, "1%": 0.5, "0.5%": 0.5}
    report = {"tolerances": list(row), "distributions": {"mixed": {"per_size": {
        "2x2": {**row, "invertibility": 1.0}, "3x3": row}}}}
    assert coverage_score(op, report) == pytest.approx(((4 * 0.5 + 1.0) / 5 + 0.5) / len(op.all_sizes()))


def test_a_model_that_writes_a_scratchpad_says_so_in_the_table(tmp_path: Path) -> None:
    card = {"operation": "singular_values", "encoding": "entry", "sizes": ["2x2"], "scratchpad": "gram",
            "training": {"examples": 0, "cpu_seconds": 0.0}}
    model = Seq2Seq.for_codec(make_codec("entry"), d_model=16, n_heads=2)
    save_model(model, card, tmp_path / "zoo" / "singular_values", half=False)
    write_models_md(tmp_path / "zoo", tmp_path / "MODELS.md")
    row = next(line for line in (tmp_path / "MODELS.md").read_text().splitlines()
               if line.startswith("| singular_values |"))
    assert row.split("|")[2].strip() == "entry + gram scratchpad"


def test_reproduce_names_a_stage_that_trained_the_working_alone(tmp_path: Path) -> None:
    text, _ = reproduce_text(tmp_path, lambda training: training["recipe"].update(
        operation="singular_values", scratchpad="gram", steps=30, earlier=[
            {"until_step": 10, "steps": 20, "warmup_steps": 4, "lr": 3e-3, "min_lr_ratio": 0.05,
             "curriculum_steps": 0, "scratch_only": True}]))
    assert ("the schedule of 20 steps (curriculum 0, lr 0.003, the working alone in the loss (`scratch_only`)) "
            "until step 10, then the schedule of 30 steps (curriculum 0, lr 0.0005) to the end.") in text


def test_reproduce_names_the_scratchpad_and_a_start_from_another_operation(tmp_path: Path) -> None:
    def edit(training: dict) -> None:
        training["started_from"] = {"steps": 7, "examples": 70, "cpu_seconds": 1.0,
                                    "recipe": {**training["recipe"], "operation": "sum"}}
        training["recipe"].update(scratchpad="gram")

    text, _ = reproduce_text(tmp_path, edit)
    assert "Recipe: entry layout with a gram scratchpad, " in text
    assert "It starts from the weights of the model of `configs/transpose-start.json` (the sum model, 7 steps" in text
