"""Which values of a spectrum does a model get right? Per size and per position (descending); prints JSON.

    python scripts/spectrum_positions.py src/lawt/zoo/eigenvalues --sizes 3x3,5x5 --problems 1000 --seed 7

An eigenvalue or singular-value answer is one list of n values sorted descending, and the paper's metric judges
the whole list at once. This splits it: for each size, the whole answer's pass rate at 5 %, then for each
position i the share of answers whose i-th value is within 5 % of the exact i-th value ("own"), and the median
of |model_i − exact_i| divided by the mean |exact| of the answer ("share", the position's part of the paper's
error). An answer that does not decode counts as wrong at every position. Problems come from the operation's
own test distribution (Wigner matrices for eigenvalues), drawn with ``seed`` and the size's dimensions, so one
size's figures do not depend on the others asked.
"""

from __future__ import annotations

import argparse
import json

import torch

from lawt.predict import errors, predict
from lawt.zoo import asked_sizes, model_argument

OPERATIONS = ("eigenvalues", "singular_values")
TOLERANCE = 0.05


def position_statistics(answer: torch.Tensor, exact: torch.Tensor, valid: torch.Tensor) -> list[dict[str, float]]:
    """Per position of the answers [N, n] against the exact values [N, n], with whether each answer decoded [N]:
    the share within ``TOLERANCE`` of the exact value and the median error as a share of the mean |exact|."""
    scale = exact.abs().mean(1, keepdim=True)
    error = (torch.nan_to_num(answer) - exact).abs()
    own = torch.where(valid[:, None], error <= TOLERANCE * exact.abs(), False)
    share = torch.where(valid[:, None], error / scale, torch.inf).double()
    medians = torch.quantile(share, 0.5, dim=0, interpolation="nearest")
    return [{"own_within_5%": round(float(own[:, i].float().mean()), 4),
             "median_error_share": round(float(medians[i]), 5)} for i in range(exact.shape[1])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument, help="an eigenvalue or singular-value model folder")
    parser.add_argument("--sizes", default="", help="sizes such as 3x3,2x5 (default: every size the model serves)")
    parser.add_argument("--problems", type=int, default=1000, help="per size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.problems < 1:
        parser.error("--problems must be at least 1")
    loaded = args.model
    op = loaded.op
    if op.name not in OPERATIONS:
        parser.error(f"{loaded.path} is a {op.name} model, not an eigenvalue or singular-value one")
    sizes = asked_sizes(parser, loaded, args.sizes, served=True)
    rows = {}
    for dims in sizes:
        problems = op.generate(args.problems, dims, torch.Generator().manual_seed(args.seed + 100 * dims[0] + dims[-1]))
        prediction = predict(loaded.model, loaded.codec, op, problems.operands, dims)
        relative = errors(op, problems.operands, prediction, problems.singular)
        exact = op.solve(problems.operands)[0].flatten(1)
        rows[op.label(dims)] = {"accuracy_5%": round(float((relative < TOLERANCE).float().mean()), 4),
                                "positions": position_statistics(prediction.parts[0].flatten(1), exact,
                                                                 prediction.valid)}
    print(json.dumps({"model": str(loaded.path), "operation": op.name, "problems": args.problems,
                      "seed": args.seed, "per_size": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
