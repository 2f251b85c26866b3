"""How precise are a model's dot products? Its error as a share of Σ|terms| on one-row problems; prints JSON.

    python scripts/dot_precision.py src/lawt/zoo/matvec --lengths 2,3,4,5 --problems 2000 --seed 7

A one-row matrix–vector product (1×k) or a 1×k×1 product is one dot product a·b. When a model's error is a
near-fixed share e of Σ|a_i b_i|, it misses at tolerance t exactly the answers that cancel below
r = |a·b| / Σ|a_i b_i| < e / t, so e, not the pass rate, says how far a model is from a bar. For each length k:
the pass rate at 5 %, the median and 90th percentile of |model − exact| / Σ|terms| on the answers with r > 0.1
(where the answer's own three-digit rounding adds at most 0.05 %; an undecodable answer counts as infinite),
and the 1st and 5th percentiles of r — with e at most 5 % of the latter, 95 % of the answers pass at 5 %.
Problems are drawn with seed + k for length k, so one length's figures do not depend on the others asked.
"""

from __future__ import annotations

import argparse
import json

import torch

from lawt.predict import errors, predict
from lawt.zoo import model_argument

OPERATIONS = ("matvec", "product")
CANCELLING = 0.1  # answers with r below this are left out of the error share's quantiles


def one_row(operation: str, k: int) -> tuple[int, ...]:
    """The dimensions of the one-dot-product problem of length ``k``."""
    return (1, k, 1) if operation == "product" else (1, k)


def dot_statistics(terms: torch.Tensor, answer: torch.Tensor, valid: torch.Tensor,
                   relative_error: torch.Tensor) -> dict[str, float]:
    """The figures of one length from the terms a_i b_i [N, k], the model's scalar answers [N], whether they
    decoded [N], and the paper's relative error [N]."""
    scale = terms.abs().sum(1)
    exact = terms.sum(1)
    ratio = exact.abs() / scale
    share = torch.where(valid, (torch.nan_to_num(answer) - exact).abs() / scale, torch.inf).double()
    kept = share[ratio > CANCELLING]
    median, p90 = (torch.quantile(kept, torch.tensor([0.5, 0.9], dtype=kept.dtype), interpolation="nearest")
                   if len(kept) else torch.full((2,), torch.nan, dtype=kept.dtype))
    r1, r5 = torch.quantile(ratio.double(), torch.tensor([0.01, 0.05], dtype=torch.float64))
    return {"accuracy_5%": round(float((relative_error < 0.05).float().mean()), 4),
            "median_error_share": round(float(median), 6), "p90_error_share": round(float(p90), 6),
            "answers_with_r_over_0.1": len(kept),
            "r_1st_percentile": round(float(r1), 5), "r_5th_percentile": round(float(r5), 5)}


def positive_ints(text: str) -> list[int]:
    """``--lengths``: whole numbers ≥ 1, comma-separated."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers ≥ 1, comma-separated, not {text!r}")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument,
                        help="a matvec or product model folder (config.json + model.safetensors)")
    parser.add_argument("--lengths", type=positive_ints, default=[2, 3, 4, 5], help="dot-product lengths k, e.g. 2,5")
    parser.add_argument("--problems", type=int, default=2000, help="per length")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.problems < 1:
        parser.error("--problems must be at least 1")
    loaded = args.model
    op = loaded.op
    if op.name not in OPERATIONS:
        parser.error(f"{loaded.path} is a {op.name} model, not a matvec or product one")
    unserved = [op.label(one_row(op.name, k)) for k in args.lengths if one_row(op.name, k) not in loaded.sizes]
    if unserved:
        parser.error(f"sizes the model does not serve: {', '.join(unserved)}")
    rows = {}
    for k in args.lengths:
        dims = one_row(op.name, k)
        problems = op.generate(args.problems, dims, torch.Generator().manual_seed(args.seed + k))
        a, b = problems.operands
        prediction = predict(loaded.model, loaded.codec, op, problems.operands, dims)
        relative = errors(op, problems.operands, prediction, problems.singular)
        rows[op.label(dims)] = dot_statistics(a[:, 0, :] * b.reshape(len(b), -1), prediction.parts[0].flatten(),
                                              prediction.valid, relative)
    print(json.dumps({"model": str(loaded.path), "operation": op.name, "problems": args.problems,
                      "seed": args.seed, "per_size": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
