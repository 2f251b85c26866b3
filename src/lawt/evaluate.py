"""Accuracy on a seeded test set at the paper's tolerances, per size and per distribution."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lawt.encodings import Codec
from lawt.model import Seq2Seq
from lawt.ops import Operation
from lawt.ops.base import Dims
from lawt.ops.inverse import condition_number
from lawt.predict import TOLERANCES, confidence_per_number, errors, passes, predict, tolerance_key
from lawt.scaling import OPERAND_SCALING

EVAL_SEED = 12345
UNTRAINED_PROBLEMS = 200  # per size, for the square sizes a model was not trained on
WORKING_TOLERANCE = 0.05
CONFIDENCE_BINS = (0.0, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0)  # edges of the confidence-a-number ranges of a calibration


def untrained_squares(op: Operation, trained: list[Dims]) -> list[Dims]:
    """The sizes with every dimension equal (n×n, or n×n×n for the product) that ``trained`` leaves out:
    where a model stands beyond its trained sizes, measured on a few sizes up to the calculator's largest."""
    return [dims for dims in op.all_sizes() if len(set(dims)) == 1 and dims not in trained]


def accuracy_table(model: Seq2Seq, codec: Codec, op: Operation, sizes: list[Dims], total: int = 10_000,
                   distribution: str = "", seed: int = EVAL_SEED, batch_size: int = 500,
                   marks: dict[str, torch.Tensor] | None = None) -> dict:
    """Accuracy at each tolerance, overall and per size, on ``total`` problems split evenly over ``sizes``
    (those of them the distribution covers).

    For the inverse the result also has ``invertibility`` (share of right verdicts, also in every size's
    row) and ``near_singular`` (accuracy on invertible inputs with condition number above 1e6).
    ``calibration`` is the accuracy of the answers in each range of the model's confidence a number
    (:func:`calibration_table`).
    For an operation whose model writes a scratchpad, ``working`` is the share of working within 5 % of the
    exact one, overall and per size (it is not judged: a guide to a run that learns its working first).
    ``marks``, if given, receives each size's per-problem marks [problems, marks]: passed at each
    tolerance (in :data:`~lawt.predict.TOLERANCES` order), then, for the inverse, the right verdict. A
    problem's mean mark averaged over a size is that size's ``size_score``: what a paired comparison of two
    models on the same problems needs.
    """
    sizes = [dims for dims in sizes if op.covers(distribution, dims)]
    gen = torch.Generator().manual_seed(seed)
    per_size: dict[str, dict] = {}
    hits = {tolerance_key(t): 0 for t in TOLERANCES}
    count = verdicts = verdict_right = 0
    near = {"count": 0, **{tolerance_key(t): 0 for t in TOLERANCES}}
    confidences, all_marks = [], []
    working_right: dict[str, int] = {}
    for i, dims in enumerate(sizes):
        n = total // len(sizes) + (i < total % len(sizes))
        if n == 0:
            continue
        size_hits = {tolerance_key(t): 0 for t in TOLERANCES}
        size_verdicts_right = 0
        size_marks = []
        for start in range(0, n, batch_size):
            problems = op.generate(min(batch_size, n - start), dims, gen, distribution)
            prediction = predict(model, codec, op, problems.operands, dims)
            err = errors(op, problems.operands, prediction, problems.singular)
            ok = passes(err)
            passed = torch.stack(list(ok.values()), 1)  # [problems, tolerances]
            confidences.append(confidence_per_number(op, dims, prediction))
            working = op.working_error(problems.operands, prediction.parts)
            if working is not None:
                label = op.label(dims)
                working_right[label] = working_right.get(label, 0) + int((working < WORKING_TOLERANCE).sum())
            all_marks.append(passed)
            for key, mask in ok.items():
                size_hits[key] += int(mask.sum())
            if problems.singular is not None:
                right = prediction.not_invertible == problems.singular
                passed = torch.cat([passed, right[:, None]], 1)  # the verdict is a fifth mark of the score
                size_verdicts_right += int(right.sum())
                cond = condition_number(problems.operands[0])
                hard = (cond > 1e6) & ~problems.singular
                near["count"] += int(hard.sum())
                for key, mask in ok.items():
                    near[key] += int((mask & hard).sum())
            if marks is not None:
                size_marks.append(passed.double())
        if marks is not None:
            marks[op.label(dims)] = torch.cat(size_marks)
        per_size[op.label(dims)] = {"count": n, **{k: v / n for k, v in size_hits.items()}}
        if problems.singular is not None:
            per_size[op.label(dims)]["invertibility"] = size_verdicts_right / n
            verdicts += n
            verdict_right += size_verdicts_right
        for key in hits:
            hits[key] += size_hits[key]
        count += n
    result: dict = {"count": count, "distribution": distribution or op.distributions[0],
                    "overall": {k: v / count for k, v in hits.items()}, "per_size": per_size}
    if working_right:
        shares = {label: right / per_size[label]["count"] for label, right in working_right.items()}
        result["working"] = {"5%": sum(working_right.values()) / count, "per_size": shares}
    if confidences:
        result["calibration"] = calibration_table(torch.cat(confidences), torch.cat(all_marks))
    if verdicts:
        result["invertibility"] = {"count": verdicts, "accuracy": verdict_right / verdicts}
        result["near_singular"] = {"count": near["count"], **{
            k: (near[k] / near["count"] if near["count"] else None) for k in hits}}
    return result


def confidence_range(confidence: torch.Tensor) -> torch.Tensor:
    """The index of the range of ``CONFIDENCE_BINS`` each confidence lies in (lower end included; the last range
    also holds 1)."""
    edges = torch.tensor(CONFIDENCE_BINS, dtype=confidence.dtype)
    return (torch.bucketize(confidence, edges, right=True) - 1).clamp(0, len(CONFIDENCE_BINS) - 2)


def calibration_table(confidence: torch.Tensor, marks: torch.Tensor) -> list[dict]:
    """For each range of ``CONFIDENCE_BINS`` (the last one closed) holding any answers: how many, and the share
    of them within each tolerance (``marks``: [problems, tolerances] pass marks)."""
    index = confidence_range(confidence)
    rows = []
    for b in range(len(CONFIDENCE_BINS) - 1):
        inside = index == b
        count = int(inside.sum())
        if count:
            share = marks[inside].double().mean(0)
            rows.append({"from": CONFIDENCE_BINS[b], "to": CONFIDENCE_BINS[b + 1], "count": count,
                         **{tolerance_key(t): float(share[i]) for i, t in enumerate(TOLERANCES)}})
    return rows


def size_score(row: dict) -> float:
    """One size's figure for choosing between models: its mean accuracy over the four tolerances, with the
    share of right *invertible?* verdicts as a fifth figure where the row has one (calling an invertible
    matrix invertible and then missing its inverse scores no better at the tolerances than calling it
    singular, so without it a better verdict could never win)."""
    figures = [row[tolerance_key(t)] for t in TOLERANCES] + ([row["invertibility"]] if "invertibility" in row else [])
    return sum(figures) / len(figures)


def table_score(table: dict, sizes: int | None = None) -> float:
    """``size_score`` summed over a table's sizes and divided by ``sizes`` (default: the sizes it measured;
    more, to count sizes it did not measure as 0)."""
    return sum(size_score(row) for row in table["per_size"].values()) / (sizes or len(table["per_size"]))


def evaluate(model: Seq2Seq, codec: Codec, op: Operation, sizes: list[Dims], total: int = 10_000,
             seed: int = EVAL_SEED, distributions: list[str] | None = None,
             marks: dict[str, dict[str, torch.Tensor]] | None = None) -> dict:
    """The full report: the training distribution first, then every other test distribution asked for that
    covers any of the sizes. ``marks`` receives each distribution's per-problem marks, keyed by its name
    (:func:`accuracy_table`)."""
    names = [d for d in distributions or [op.distributions[0]] if any(op.covers(d, dims) for dims in sizes)]
    return {"operation": op.name, "encoding": codec.name, "operand_scaling": OPERAND_SCALING,
            "tolerances": [tolerance_key(t) for t in TOLERANCES],
            "distributions": {d: accuracy_table(model, codec, op, sizes, total, d, seed,
                                                marks=None if marks is None else marks.setdefault(d, {}))
                              for d in names}}


def plot_report(report: dict, path: Path) -> None:
    """Bar chart of accuracy per size at each tolerance, one panel per distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = report["distributions"]
    fig, axes = plt.subplots(len(tables), 1, figsize=(max(6, 0.12 * 100 + 4), 3 * len(tables)), squeeze=False)
    for ax, (name, table) in zip(axes[:, 0], tables.items(), strict=True):
        labels = list(table["per_size"])
        for key in report["tolerances"]:
            ax.plot(range(len(labels)), [100 * table["per_size"][s][key] for s in labels], marker=".", label=key)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
        ax.set_ylim(-2, 102)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{report['operation']} ({report['encoding']}), {name}")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(report: dict, json_path: Path, png_path: Path | None = None) -> None:
    json_path.write_text(json.dumps(report, indent=2))
    if png_path is not None:
        plot_report(report, png_path)
