"""The training loop: run files, metrics, checkpoints and exact resume; the schedule; the data sampler."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config

import lawt.train
from lawt.data import BatchSampler, parse_sizes
from lawt.encodings import ENTRY_NOT_INVERTIBLE, make_codec
from lawt.hardware import resolve_precision
from lawt.ops import Operation, get_operation
from lawt.predict import predict
from lawt.train import TrainConfig, learning_rate, record_stage, rows_only_zero_uses, schedule_at, train
from lawt.zoo import WEIGHTS, load_model, read_card, sha256


class Interrupted(Exception):
    """Stands for a crash (or a kill) in the middle of a run."""


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def losses(out: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in records(out) if "loss" in r]


def interrupted_then_resumed(settings: dict, crash_at_batch: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run until batch number ``crash_at_batch`` is drawn (a crash), then start the same run again."""
    original, calls = BatchSampler.batch, {"n": 0}

    def crashing(self: BatchSampler, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == crash_at_batch:
            raise Interrupted
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BatchSampler, "batch", crashing)
    with pytest.raises(Interrupted):
        train(TrainConfig(**settings), show_progress=False)
    monkeypatch.setattr(BatchSampler, "batch", original)
    return train(TrainConfig(**settings), show_progress=False)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """An uninterrupted 20-step run (checkpoint every 10, log every 5)."""
    out = tmp_path_factory.mktemp("full") / "run"
    settings = {"operation": "transpose", "encoding": "entry", "sizes": "2x2,2x3", "d_model": 32, "n_heads": 4,
                "ffn_mult": 2, "batch_size": 16, "warmup_steps": 4, "steps": 20, "lr": 3e-3, "eval_every": 1000,
                "eval_problems": 10, "checkpoint_every": 10, "log_every": 5, "seed": 3, "out_dir": str(out)}
    assert train(TrainConfig(**settings), show_progress=False) == out
    return settings, out


def test_run_writes_config_metrics_checkpoint_best_and_last(full_run: tuple[dict, Path]) -> None:
    settings, out = full_run
    precision = resolve_precision("auto", torch.device("cpu"), settings["d_model"])
    assert json.loads((out / "train_config.json").read_text()) == {
        **TrainConfig().__dict__, **settings, "precision": precision}
    rows = records(out)
    assert [r["step"] for r in rows if "loss" in r] == [5, 10, 15, 20]
    for r in rows:
        if "loss" in r:
            assert {"examples", "lr", "grad_norm", "examples_per_s", "cpu_seconds", "wall_seconds"} <= set(r)
            assert math.isfinite(r["loss"]) and r["loss"] > 0 and r["examples"] == 16 * r["step"]
    evals = [r for r in rows if "eval" in r]
    assert len(evals) == 1 and evals[0]["step"] == 20
    assert set(evals[0]["eval"]) == {"5%", "2%", "1%", "0.5%"}
    per_size = evals[0]["eval_per_size"]  # at 5 %, so a run shows which sizes move
    assert set(per_size) == {"2x2", "2x3"} and all(0 <= a <= 1 for a in per_size.values())
    assert losses(out)[-1][1] < losses(out)[0][1]  # it learns something
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["counters"]["step"] == 20 and state["counters"]["examples"] == 320
    assert {"model", "optimizer", "rng", "counters"} <= set(state)
    for folder in ("best", "last"):
        loaded = load_model(out / folder)
        assert loaded.op.name == "transpose" and loaded.codec.name == "entry"
        assert loaded.card["sizes"] == ["2x2", "2x3"]
        assert loaded.card["training"]["recipe"]["d_model"] == 32
    last = load_model(out / "last")
    assert last.card["training"]["steps"] == 20 and last.card["training"]["examples"] == 320
    # the shipped copy is fp16: its weights are the checkpoint's, rounded
    for key, value in state["model"].items():
        assert torch.equal(last.model.state_dict()[key], value.half().float())


def test_the_best_checkpoint_is_chosen_by_the_zoo_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A better verdict outweighs slightly lower tolerances, as it does when `lawt ship` compares models."""
    rows = iter([{"5%": 0.6, "2%": 0.6, "1%": 0.6, "0.5%": 0.6, "invertibility": 0.5},  # 5 % + 1 % higher
                 {"5%": 0.55, "2%": 0.55, "1%": 0.55, "0.5%": 0.55, "invertibility": 0.9}])  # size_score higher

    def scripted(*args: object, **kwargs: object) -> dict:
        row = next(rows)
        return {"overall": {k: v for k, v in row.items() if k != "invertibility"}, "per_size": {"2x2": row}}

    monkeypatch.setattr(lawt.train, "accuracy_table", scripted)
    out = tmp_path / "run"
    train(TrainConfig(operation="transpose", sizes="2x2", d_model=32, n_heads=4, ffn_mult=2, batch_size=8,
                      steps=2, eval_every=1, out_dir=str(out)), show_progress=False)
    assert read_card(out / "best")["training"]["steps"] == 2


def test_exact_resume_reproduces_the_uninterrupted_run(full_run: tuple[dict, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Crash just after the step-10 checkpoint, resume: same losses, same weights, same counters."""
    settings, out = full_run
    resumed = interrupted_then_resumed({**settings, "out_dir": str(tmp_path / "run")}, 12, monkeypatch)
    assert losses(resumed) == losses(out)
    a = torch.load(out / "checkpoint.pt", weights_only=False)
    b = torch.load(resumed / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["counters"]["step"] == b["counters"]["step"] == 20
    assert a["counters"]["examples"] == b["counters"]["examples"]
    assert torch.equal(a["rng"][0], b["rng"][0])


def test_stop_step_then_resume_reproduces_the_uninterrupted_run(full_run: tuple[dict, Path], tmp_path: Path) -> None:
    """``stop_step`` stops at step 10 with the schedule of 20 steps; running again finishes the same run."""
    settings, out = full_run
    stopped = {**settings, "out_dir": str(tmp_path / "run"), "stop_step": 10}
    run = train(TrainConfig(**stopped), show_progress=False)
    assert torch.load(run / "checkpoint.pt", weights_only=False)["counters"]["step"] == 10
    assert load_model(run / "last").card["training"]["steps"] == 10
    assert [s for s, _ in losses(run)] == [5, 10]
    train(TrainConfig(**{**stopped, "stop_step": 0}), show_progress=False)
    assert losses(run) == losses(out)
    a = torch.load(out / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_changed_schedule_on_resume_is_kept_as_a_stage_and_reproduces(full_run: tuple[dict, Path],
                                                                       tmp_path: Path) -> None:
    """Stop at step 10 of a 20-step schedule, resume with 30 steps, a curriculum, a stronger weight decay, a
    focus on one size and typed problems: the first schedule is recorded as an earlier stage, and a fresh run
    from the recorded config gives the same losses and weights."""
    settings = {**full_run[0], "out_dir": str(tmp_path / "run"), "stop_step": 10}
    run = train(TrainConfig(**settings), show_progress=False)
    changed = {**settings, "stop_step": 0, "steps": 30, "curriculum_steps": 25, "weight_decay": 0.5,
               "focus_sizes": "2x3", "focus_share": 0.7, "typed_share": 0.3}
    train(TrainConfig(**changed), show_progress=False)
    recorded = json.loads((run / "train_config.json").read_text())
    first = TrainConfig(**settings)
    assert recorded["earlier"] == [{"until_step": 10, "steps": 20, "warmup_steps": 4, "lr": 3e-3,
                                    "min_lr_ratio": first.min_lr_ratio, "curriculum_steps": 0,
                                    "weight_decay": first.weight_decay, "focus_sizes": "", "focus_share": 0.0,
                                    "typed_share": 0.0, "hard_share": 0.0, "scratch_only": False}]
    assert load_model(run / "last").card["training"]["recipe"]["earlier"] == recorded["earlier"]
    lr = {r["step"]: r["lr"] for r in records(run) if "loss" in r}
    assert lr[5] == learning_rate(first, 4)
    assert lr[15] == learning_rate(TrainConfig(**changed), 14)
    again = train(TrainConfig(**{**recorded, "out_dir": str(tmp_path / "again")}), show_progress=False)
    assert losses(again) == losses(run)
    a = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(again / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    train(TrainConfig(**{**changed, "max_minutes": 1.0}), show_progress=False)  # same schedule: no new stage
    assert json.loads((run / "train_config.json").read_text())["earlier"] == recorded["earlier"]


def test_a_schedule_edited_into_the_runs_own_config_is_still_kept_as_a_stage(full_run: tuple[dict, Path],
                                                                            tmp_path: Path) -> None:
    """Editing the run folder's train_config.json to the new schedule and resuming from it still records the
    schedule the checkpoint was trained under."""
    settings = {**full_run[0], "out_dir": str(tmp_path / "run"), "stop_step": 10}
    run = train(TrainConfig(**settings), show_progress=False)
    saved = run / "train_config.json"
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "stop_step": 0, "steps": 30, "lr": 1e-3}))
    train(TrainConfig(**json.loads(saved.read_text())), show_progress=False)
    earlier = json.loads(saved.read_text())["earlier"]
    assert [(s["until_step"], s["steps"], s["lr"]) for s in earlier] == [(10, 20, 3e-3)]


def test_resume_continues_the_step_counter(full_run: tuple[dict, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**full_run[0], "out_dir": str(tmp_path / "run")}
    original = BatchSampler.batch
    calls = {"n": 0}

    def crashing(self: BatchSampler, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 14:
            raise Interrupted
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BatchSampler, "batch", crashing)
    with pytest.raises(Interrupted):
        train(TrainConfig(**settings), show_progress=False)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert state["counters"]["step"] == 10  # the last checkpoint before the crash at step 14

    def counting(self: BatchSampler, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BatchSampler, "batch", counting)
    calls["n"] = 0
    train(TrainConfig(**settings), show_progress=False)
    assert calls["n"] == 10  # only the ten missing steps were run
    steps = [s for s, _ in losses(tmp_path / "run")]
    assert steps == [5, 10, 15, 20]
    # a finished run started again does nothing more
    calls["n"] = 0
    train(TrainConfig(**settings), show_progress=False)
    assert calls["n"] == 0
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["counters"]["step"] == 20


def test_last_log_window_is_averaged(tmp_path: Path, train_settings: Callable[..., dict]) -> None:
    """With lr = 0 the loss stays put, so every logged average must be about the same — including the last
    record, whose window is shorter than ``log_every``."""
    out = train(TrainConfig(**train_settings(tmp_path / "run", sizes="2x2", steps=12, log_every=5, lr=0.0)),
                show_progress=False)
    logged = losses(out)
    assert [s for s, _ in logged] == [5, 10, 12]
    assert all(math.isclose(loss, logged[0][1], rel_tol=0.05) for _, loss in logged), logged


def test_resume_between_log_steps_reproduces_the_metrics(tmp_path: Path, train_settings: Callable[..., dict],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings = train_settings(tmp_path / "a", steps=12, log_every=3, checkpoint_every=4)
    full = train(TrainConfig(**settings), show_progress=False)
    resumed = interrupted_then_resumed({**settings, "out_dir": str(tmp_path / "b")}, 6, monkeypatch)
    a = torch.load(full / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(resumed / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the weights are exact ...
    assert losses(resumed) == losses(full)  # ... the logged loss at step 6 is not


def test_init_from_a_shipped_model(full_run: tuple[dict, Path], tmp_path: Path,
                                   train_settings: Callable[..., dict]) -> None:
    """``init_from`` starts from the shipped weights: a zero-lr run ends with exactly those weights."""
    _, out = full_run
    settings = train_settings(tmp_path / "run", steps=2, lr=0.0, init_from=str(out / "last"))
    run = train(TrainConfig(**settings), show_progress=False)
    start = load_model(out / "last").model.state_dict()
    end = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(start[k], end[k]) for k in start)


def test_a_fine_tune_whose_curriculum_restarts_from_small_sizes_is_named(
        full_run: tuple[dict, Path], tmp_path: Path, train_settings: Callable[..., dict],
        capsys: pytest.CaptureFixture[str]) -> None:
    """A recipe's curriculum copied into a fine-tune would keep it on the small sizes: the run says so."""
    _, out = full_run
    start = str(out / "last")
    train(TrainConfig(**train_settings(tmp_path / "plain", steps=1, init_from=start)), show_progress=False)
    assert "curriculum reopens" not in capsys.readouterr().err
    train(TrainConfig(**train_settings(tmp_path / "curriculum", steps=1, init_from=start, curriculum_steps=50)),
          show_progress=False)
    assert "curriculum reopens the sizes from the smallest over its first 50 steps" in capsys.readouterr().err


def test_a_run_from_another_model_records_it_and_counts_its_cost(full_run: tuple[dict, Path], tmp_path: Path,
                                                                  train_settings: Callable[..., dict]) -> None:
    """The card names the starting model (folder, weights hash, its training) and adds its examples and CPU."""
    _, out = full_run
    before = read_card(out / "last")["training"]
    settings = train_settings(tmp_path / "run", steps=2, init_from=str(out / "last"))
    run = train(TrainConfig(**settings), show_progress=False)
    training = read_card(run / "last")["training"]
    started = training["started_from"]
    assert started["model"] == str(out / "last") and started["sha256"] == sha256(out / "last" / WEIGHTS)
    assert started["recipe"] == before["recipe"] and started["steps"] == before["steps"]
    assert training["steps"] == 2
    own = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert training["examples"] == before["examples"] + own["examples"]
    assert training["cpu_seconds"] == pytest.approx(before["cpu_seconds"] + own["cpu_seconds"], abs=0.2)
    assert json.loads((run / "started_from.json").read_text()) == started  # what a resume reads


# ---------------------------------------------------------------------------------------------- configuration


def test_learning_rate_schedule() -> None:
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, steps=110, min_lr_ratio=0.1)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 4) == pytest.approx(5e-4)
    assert learning_rate(cfg, 9) == pytest.approx(1e-3)
    assert learning_rate(cfg, 10) == pytest.approx(1e-3)
    assert learning_rate(cfg, 60) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert learning_rate(cfg, 110) == pytest.approx(1e-4)
    assert learning_rate(cfg, 500) == pytest.approx(1e-4)
    rates = [learning_rate(cfg, s) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_config_from_dict() -> None:
    cfg = TrainConfig.from_dict({"operation": "sum", "steps": 5})
    assert cfg.operation == "sum" and cfg.steps == 5 and cfg.encoding == "entry"
    with pytest.raises(ValueError, match="unknown training settings: colour, size"):
        TrainConfig.from_dict({"size": 5, "colour": "red"})


def test_parse_sizes() -> None:
    transpose, inverse, product = (get_operation(n) for n in ("transpose", "inverse", "product"))
    assert parse_sizes(transpose, "all") == transpose.all_sizes()
    assert parse_sizes(transpose, "1-2") == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert parse_sizes(inverse, "3-5") == [(3,), (4,), (5,)]
    assert parse_sizes(transpose, " 2x3, 4x4 ") == [(2, 3), (4, 4)]
    assert parse_sizes(product, "5x5,2x3x4") == [(5, 5, 5), (2, 3, 4)]
    for bad, message in [("11x11", "'11x11' is not a size of transpose"), ("0x3", "'0x3' is not a size"),
                         ("", "no sizes in ''"), (" , ", "no sizes"), ("1-x", "'1-x' is not a size"),
                         ("1-y", "written like 1-5"), ("1-2-3", "written like 1-5"), ("11-12", "no sizes in '11-12'")]:
        with pytest.raises(ValueError, match=message):
            parse_sizes(transpose, bad)
    with pytest.raises(ValueError, match="'5x3' is not a size of inverse: square sizes"):
        parse_sizes(inverse, "5x5,5x3")


def test_batches_mix_sizes_and_follow_the_curriculum() -> None:
    op, codec = get_operation("transpose"), make_codec("entry")
    sizes = parse_sizes(op, "1-4")
    sampler = BatchSampler(op, codec, sizes, groups=4, seed=0, curriculum_steps=100)
    assert {max(sizes[i]) for i in sampler.allowed(0)} == {1}
    assert {max(sizes[i]) for i in sampler.allowed(50)} == {1, 2}
    assert {max(sizes[i]) for i in sampler.allowed(100)} == {1, 2, 3, 4}
    batch = sampler.batch(10, step=0)
    assert batch.src.shape[:2] == (10, 1)  # only 1x1 problems at the start
    late = sampler.batch(10, step=1000)
    assert late.src.shape[0] == 10
    a = BatchSampler(op, codec, sizes, seed=5).batch(8)
    b = BatchSampler(op, codec, sizes, seed=5).batch(8)
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt_out, b.tgt_out)


def test_focus_draws_its_share_of_batches_from_the_focus_sizes() -> None:
    op, codec = get_operation("sum"), make_codec("entry")
    sizes = parse_sizes(op, "1-4")
    sampler = BatchSampler(op, codec, sizes, seed=0, batch_tokens=600)
    sampler.set_focus("1x1,2x1", 0.5)
    picks = [sizes[i] for _ in range(2000) for i in sampler.pick(1, step=0)]
    focused = sum(d in ((1, 1), (2, 1)) for d in picks) / len(picks)
    assert 0.52 < focused < 0.61  # half from the focus, plus their 2 in 16 of the other half: 0.5625 (sd 0.011)
    assert len(set(picks)) == len(sizes)  # the other sizes still come
    sampler.curriculum_steps = 100
    assert {sizes[i] for _ in range(200) for i in sampler.pick(4, step=0)} == {(1, 1)}  # only open focus sizes


def test_focus_must_be_training_sizes_and_a_share() -> None:
    op, codec = get_operation("sum"), make_codec("entry")
    sampler = BatchSampler(op, codec, parse_sizes(op, "1-2"))
    with pytest.raises(ValueError, match="not among the training sizes: 3x3"):
        sampler.set_focus("3x3", 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sampler.set_focus("1x1", 1.5)
    with pytest.raises(ValueError, match="not among the training sizes"):
        TrainConfig(operation="sum", encoding="entry", sizes="1-2", focus_sizes="5x5", focus_share=0.5).check()


def test_the_mantissa_feature_needs_the_value_embedding() -> None:
    with pytest.raises(ValueError, match="set value_embedding too"):
        TrainConfig(operation="matvec", encoding="entry", value_mantissa=True).check()
    TrainConfig(operation="matvec", encoding="entry", value_embedding=True, value_mantissa=True).check()


def test_the_grid_bias_needs_an_entry_layout() -> None:
    with pytest.raises(ValueError, match="grid_bias needs an entry layout"):
        TrainConfig(operation="product", encoding="P1000", grid_bias=True).check()
    TrainConfig(operation="product", encoding="entry", grid_bias=True).check()
    with pytest.raises(ValueError, match="set grid_bias too"):
        TrainConfig(operation="product", encoding="entry", index_bias=True).check()


def test_the_upper_triangle_layout_is_for_symmetric_matrices_only() -> None:
    with pytest.raises(ValueError, match="reads only the upper triangle of a symmetric matrix; transpose"):
        TrainConfig(operation="transpose", encoding="entry-upper").check()
    TrainConfig(operation="eigenvectors", encoding="entry-upper", grid_bias=True).check()


def test_the_upper_triangle_layout_fits_more_problems_in_a_batch() -> None:
    op = get_operation("eigenvalues")
    upper = BatchSampler(op, make_codec("entry-upper"), [(5,)], batch_tokens=600)
    assert upper.fitting((5,)) == 600 // (15 + 5)  # 15 input entries, 5 eigenvalues
    assert BatchSampler(op, make_codec("entry"), [(5,)], batch_tokens=600).fitting((5,)) == 600 // (25 + 5)
    batch = upper.batch(64)
    assert batch.src.shape[:2] == (30, 15) and batch.tgt_out.shape[:2] == (30, 5)


def test_an_upper_triangle_eigenvalue_model_trains_and_answers(tmp_path: Path) -> None:
    settings = {"operation": "eigenvalues", "encoding": "entry-upper", "sizes": "2x2,3x3", "d_model": 32,
                "n_heads": 4, "ffn_mult": 2, "batch_tokens": 200, "grid_bias": True, "warmup_steps": 2, "steps": 8,
                "lr": 3e-3, "eval_every": 1000, "eval_problems": 10, "checkpoint_every": 8, "log_every": 4,
                "out_dir": str(tmp_path / "run")}
    out = train(TrainConfig(**settings), show_progress=False)
    loaded = load_model(out / "last")
    assert loaded.codec.name == "entry-upper" and loaded.card["encoding"] == "entry-upper"
    problems = loaded.op.generate(6, (3,), torch.Generator().manual_seed(0))
    prediction = predict(loaded.model, loaded.codec, loaded.op, problems.operands, (3,))
    assert prediction.parts[0].shape == (6, 3, 1)
    assert records(out)[-1]["step"] == 8


def test_without_focus_the_batches_are_the_same_as_before() -> None:
    op, codec = get_operation("sum"), make_codec("entry")
    sizes = parse_sizes(op, "1-4")
    plain, unfocused = (BatchSampler(op, codec, sizes, seed=3) for _ in range(2))
    unfocused.set_focus("1x1", 0.0)
    for _ in range(5):
        assert torch.equal(plain.batch(8).src, unfocused.batch(8).src)


def test_token_budget_batches() -> None:
    op, codec = get_operation("sum"), make_codec("entry")
    sampler = BatchSampler(op, codec, [(2, 2), (5, 5)], seed=0, batch_tokens=600)
    assert sampler.fitting((2, 2)) == 600 // 12 and sampler.fitting((5, 5)) == 600 // 75
    for _ in range(6):
        batch = sampler.batch(64)
        assert batch.src_mask is None  # one size per batch, nothing padded
        entries = batch.src.shape[1] + batch.tgt_out.shape[1]
        assert batch.src.shape[0] == max(4, 600 // entries)
    assert BatchSampler(op, codec, [(10, 10)], batch_tokens=100).fitting((10, 10)) == 4


def test_singular_problems_are_trained_on_the_verdict() -> None:
    op, codec = get_operation("inverse"), make_codec("entry")
    batch = BatchSampler(op, codec, [(3,)], distribution="singular", groups=1, seed=0).batch(6)
    assert bool((batch.tgt_out[:, 0, 1] == ENTRY_NOT_INVERTIBLE).all())  # the verdict, then nothing
    assert bool((batch.tgt_out[:, 1:] == -100).all())


def test_fit_schedule_shrinks_steps_to_the_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With max_minutes and fit_schedule, the schedule is cut to what the first 50 steps say fits, and saved.

    The run reads a clock that advances 10 ms per reading, so the test does not depend on the machine's load.
    """
    import lawt.train
    from lawt.train import TrainConfig, train

    readings = itertools.count()
    monkeypatch.setattr(lawt.train.time, "time", lambda: 0.01 * next(readings))
    cfg = TrainConfig(operation="transpose", encoding="entry", sizes="1x1,1x2", d_model=16, n_heads=2,
                      batch_size=4, groups=1, steps=10**7, max_minutes=0.05, fit_schedule=True, eval_every=10**6,
                      eval_problems=4, checkpoint_every=10**6, log_every=10**6, out_dir=str(tmp_path / "run"))
    train(cfg, show_progress=False)
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert 50 < saved["steps"] < 10**7 and saved["fit_schedule"] is False
    assert saved["warmup_steps"] <= saved["steps"] // 10


def test_bf16_run_trains_and_records_its_precision(tmp_path: Path) -> None:
    """Mixed precision on request: finite, falling losses, float32 weights, and the choice saved with the run."""
    out = tmp_path / "run"
    cfg = TrainConfig(operation="transpose", encoding="entry", sizes="2x2", d_model=32, n_heads=4, ffn_mult=2,
                      batch_size=32, groups=1, warmup_steps=2, steps=40, lr=3e-3, eval_every=1000, eval_problems=4,
                      log_every=10, precision="bf16", out_dir=str(out))
    train(cfg, show_progress=False)
    assert json.loads((out / "train_config.json").read_text())["precision"] == "bf16"
    losses = [r["loss"] for r in records(out) if "loss" in r]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    state = torch.load(out / "checkpoint.pt", weights_only=False)["model"]
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())


def test_stages_recorded_before_weight_decay_was_a_schedule_field_keep_the_value_they_ran_with() -> None:
    old_stage = {"until_step": 100, "steps": 200, "warmup_steps": 10, "lr": 1e-3, "min_lr_ratio": 0.05,
                 "curriculum_steps": 0}
    saved = asdict(TrainConfig(steps=300, weight_decay=0.01, earlier=[old_stage]))
    assert schedule_at(TrainConfig(**saved), 50).weight_decay == 0.01
    resumed = TrainConfig(**{**saved, "steps": 400, "weight_decay": 1.0})
    record_stage(resumed, saved, 250)
    assert [s["weight_decay"] for s in resumed.earlier] == [0.01, 0.01]
    assert [s["until_step"] for s in resumed.earlier] == [100, 250]
    assert [schedule_at(resumed, step).weight_decay for step in (50, 150, 300)] == [0.01, 0.01, 1.0]
    assert [schedule_at(resumed, step).steps for step in (50, 150, 300)] == [200, 300, 400]


def test_a_resume_of_settings_saved_before_focus_existed_adds_no_stage() -> None:
    saved = asdict(TrainConfig(steps=300))
    for name in ("focus_sizes", "focus_share"):
        del saved[name]
    resumed = TrainConfig(**{**saved, "max_minutes": 5.0})
    record_stage(resumed, saved, 250)
    assert resumed.earlier == []
    focused = TrainConfig(**{**saved, "focus_sizes": "1x1", "focus_share": 0.5})
    record_stage(focused, saved, 250)
    assert [(s["focus_sizes"], s["focus_share"]) for s in focused.earlier] == [("", 0.0)]


def test_a_resume_keeps_the_runs_own_stages_over_a_stale_copy_in_its_settings() -> None:
    first = {"until_step": 100, "steps": 100, "warmup_steps": 10, "lr": 1e-3, "min_lr_ratio": 0.05,
             "curriculum_steps": 0, "weight_decay": 0.01}
    second = {**first, "until_step": 200, "steps": 200}
    saved = asdict(TrainConfig(steps=300, earlier=[first, second]))
    resumed = TrainConfig(**{**saved, "earlier": [first]})  # settings copied from the run before its last resume
    record_stage(resumed, saved, 250)
    assert resumed.earlier == [first, second]
    longer = TrainConfig(**{**saved, "steps": 400, "earlier": [first]})
    record_stage(longer, saved, 300)
    assert [s["until_step"] for s in longer.earlier] == [100, 200, 300]


def test_a_model_over_the_zoo_limit_is_named_when_training_starts(full_run: tuple[dict, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**full_run[0], "steps": 1, "out_dir": str(tmp_path / "small")}
    train(TrainConfig(**settings), show_progress=False)
    assert "over the zoo's limit" not in capsys.readouterr().err
    monkeypatch.setattr(lawt.train, "MAX_WEIGHTS_BYTES", 1000)
    train(TrainConfig(**{**settings, "out_dir": str(tmp_path / "big")}), show_progress=False)
    assert "lawt ship will refuse it" in capsys.readouterr().err


def test_bf16_on_hardware_without_it_is_named_when_training_starts(full_run: tuple[dict, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A recipe records the precision it was resolved to; replayed on a CPU without AVX512-BF16 it is emulated.
    settings = {**full_run[0], "steps": 1, "precision": "bf16"}
    monkeypatch.setattr(lawt.train, "bf16_is_fast", lambda device: True)
    train(TrainConfig(**{**settings, "out_dir": str(tmp_path / "fast")}), show_progress=False)
    assert "bf16 is emulated" not in capsys.readouterr().err
    monkeypatch.setattr(lawt.train, "bf16_is_fast", lambda device: False)
    train(TrainConfig(**{**settings, "out_dir": str(tmp_path / "slow")}), show_progress=False)
    assert "bf16 is emulated" in capsys.readouterr().err


def distributions_drawn(monkeypatch: pytest.MonkeyPatch, op: Operation) -> list[str]:
    """The list that each problem draw of ``op`` from now on appends its distribution to."""
    seen: list[str] = []
    original = type(op).generate

    def spy(self: object, batch: int, dims: tuple, gen: torch.Generator, distribution: str = "") -> object:
        seen.append(distribution)
        return original(self, batch, dims, gen, distribution)

    monkeypatch.setattr(type(op), "generate", spy)
    return seen


def test_typed_share_mixes_typed_problems_into_the_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No typed problems without a share (and no extra random draw); about that share of the groups with one."""
    op = get_operation("sum")
    seen = distributions_drawn(monkeypatch, op)
    plain, untouched = (BatchSampler(op, make_codec("entry"), [(2, 2)], groups=4, seed=0) for _ in range(2))
    untouched.typed_share = 0.0
    assert torch.equal(plain.batch(16).src, untouched.batch(16).src) and seen == [""] * 8
    seen.clear()
    plain.typed_share = 0.5
    for _ in range(50):
        plain.batch(16)
    assert set(seen) == {"", "typed"} and 0.35 < seen.count("typed") / len(seen) < 0.65


@pytest.mark.parametrize(("operation", "share", "message"), [("inverse", 0.2, "no typed problems"),
                                                              ("sum", 1.5, "between 0 and 1")])
def test_a_typed_share_that_cannot_be_trained_is_refused(operation: str, share: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(operation=operation, typed_share=share).check()


def test_hard_share_draws_the_operations_hard_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    """With typed and hard shares, about those shares of the groups are typed and cancelling, the rest uniform."""
    op = get_operation("matvec")
    seen = distributions_drawn(monkeypatch, op)
    sampler = BatchSampler(op, make_codec("entry"), [(1, 3)], groups=4, seed=0)
    sampler.typed_share, sampler.hard_share = 0.2, 0.4
    for _ in range(100):
        sampler.batch(16)
    assert set(seen) == {"", "typed", "cancelling"}
    assert 0.12 < seen.count("typed") / len(seen) < 0.28 and 0.32 < seen.count("cancelling") / len(seen) < 0.48


@pytest.mark.parametrize(("operation", "typed", "hard", "message"),
                         [("transpose", 0.0, 0.2, "transpose has no hard distribution"),
                          ("matvec", 0.6, 0.5, "between 0 and 1 less the typed share"),
                          ("product", 0.0, -0.1, "between 0 and 1 less the typed share")])
def test_a_hard_share_that_cannot_be_trained_is_refused(operation: str, typed: float, hard: float,
                                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(operation=operation, typed_share=typed, hard_share=hard).check()


def test_trainable_trains_only_the_named_parameters(full_run: tuple[dict, Path], tmp_path: Path) -> None:
    """Started from a model, a run with ``trainable`` moves the named parameters and leaves the rest as they were."""
    start = full_run[1] / "last"
    settings = {**full_run[0], "out_dir": str(tmp_path / "run"), "init_from": str(start), "steps": 5,
                "trainable": "src_embed, heads"}
    run = train(TrainConfig(**settings), show_progress=False)
    before, after = load_model(start).model.state_dict(), load_model(run / "last").model.state_dict()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved and all(name.startswith(("src_embed", "heads")) for name in moved)
    assert any(name.startswith("heads") for name in moved) and any(name.startswith("src_embed") for name in moved)
    with pytest.raises(ValueError, match="no parameter starts with encoders"):
        train(TrainConfig(**{**settings, "out_dir": str(tmp_path / "bad"), "trainable": "encoders"}),
              show_progress=False)


def test_zero_rows_trains_only_the_embedding_rows_a_zero_alone_uses(full_run: tuple[dict, Path],
                                                                    tmp_path: Path) -> None:
    """With ``zero_rows``, typed batches (which hold zeros) move the input embedding rows of a zero's leading
    digit and exponent and nothing else: every other number is read exactly as before."""
    start = full_run[1] / "last"
    settings = {**full_run[0], "out_dir": str(tmp_path / "run"), "init_from": str(start), "steps": 5,
                "typed_share": 1.0, "zero_rows": True, "weight_decay": 0.5}  # decay, if applied, would show
    run = train(TrainConfig(**settings), show_progress=False)
    before, after = load_model(start), load_model(run / "last").model.state_dict()
    zero_rows = rows_only_zero_uses(before.model, before.codec)
    assert len(zero_rows) == 2  # the leading digit 0 and the exponent of 0
    moved = {name for name, value in before.model.state_dict().items() if not torch.equal(value, after[name])}
    assert moved == {"src_embed.table.weight"}
    changed = (before.model.state_dict()["src_embed.table.weight"] != after["src_embed.table.weight"]).any(1)
    assert changed.nonzero().flatten().tolist() == zero_rows.tolist()


def test_a_run_started_from_an_unshipped_run_keeps_that_run_s_curve(full_run: tuple[dict, Path],
                                                                    tmp_path: Path) -> None:
    """The start record of a run from another run's model (whose card has no curve) carries that run's
    evaluations, so a chain of stages shipped at its end keeps its whole learning curve."""
    first = full_run[1]
    settings = {**full_run[0], "out_dir": str(tmp_path / "second"), "init_from": str(first / "last"), "steps": 4}
    run = train(TrainConfig(**settings), show_progress=False)
    record = json.loads((run / "started_from.json").read_text())
    evaluations = [r for r in records(first) if "eval" in r]
    assert [p["step"] for p in record["curve"]] == [r["step"] for r in evaluations] and evaluations
    assert record["curve"][-1]["accuracy"] == evaluations[-1]["eval"]


def test_each_evaluation_can_measure_the_focus_sizes_on_problems_of_their_own(tmp_path: Path) -> None:
    """The usual evaluation spreads its problems over every size; ``eval_focus_problems`` adds that many of each
    focus size to every evaluation, logged per size at the four tolerances."""
    settings = tiny_train_config(tmp_path / "run", sizes="2x2,2x3,3x3", focus_sizes="2x3,3x3", focus_share=0.5,
                                 eval_every=6, eval_focus_problems=5)
    evaluations = [r for r in records(train(TrainConfig(**settings), show_progress=False)) if "eval" in r]
    assert [r["step"] for r in evaluations] == [6, 12]
    for record in evaluations:
        assert set(record["eval_focus"]) == {"2x3", "3x3"}
        rows = record["eval_focus"].values()
        assert all(row["count"] == 5 and 0.0 <= row["0.5%"] <= row["5%"] <= 1.0 for row in rows)
    plain = tiny_train_config(tmp_path / "plain", focus_sizes="2x3", focus_share=0.5, eval_every=6)
    assert not any("eval_focus" in r for r in records(train(TrainConfig(**plain), show_progress=False)))
