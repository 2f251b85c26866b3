"""Which values of a spectrum does a model get right? Per size and per position (descending); prints JSON.

    python scripts/spectrum_positions.py src/lawt/zoo/eigenvalues --sizes 3x3,5x5 --problems 1000 --seed 7

An eigenvalue or singular-value answer is one list of n values sorted descending, and the paper's metric judges
the whole list at once. This splits it: for each size, the whole answer's pass rate at 5 %, then for each
position i the share of answers whose i-th value is within 5 % of the exact i-th value ("own"), and the median
of |model_i − exact_i| divided by the mean |exact| of the answer ("share", the position's part of the paper's
error). An answer that does not decode counts as wrong at every position. Problems come from the operation's
own test distribution (Wigner matrices for eigenvalues), drawn with ``seed`` and the size's dimensions, so one
size's figures do not depend on the others asked. For a model that writes a scratchpad first (the Gram matrix),
``scratchpad_within_5%`` is the share of problems whose working is within 5 % of the exact working (same metric).

With ``--baseline``, each size also gets the same figures for least-squares fits that know only power traces:
for d = 1..n, the values as a quadratic polynomial in tr(M), …, tr(M^d) (M = A, or AᵀA for singular values,
each trace as the root that scales like an entry), fitted on ``--fit-problems`` other problems. The spectrum is
a function of the n traces, so the fits show how far a model's answers go beyond the matrix's scale (d = 1
for singular values, d = 2 for eigenvalues).
"""

from __future__ import annotations

import argparse
import json

import torch

from lawt.evaluate import WORKING_TOLERANCE
from lawt.ops import Operation, Problems, get_operation
from lawt.ops.base import Dims
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


def power_traces(a: torch.Tensor, operation: str, degree: int) -> torch.Tensor:
    """[N, degree]: tr(M^j) for j = 1..degree as entry-scaled roots; M = A for eigenvalues, AᵀA for singular
    values (so its traces are sums of σ^(2j))."""
    a = a.double()
    m = a if operation == "eigenvalues" else a.transpose(1, 2) @ a
    root = 1 if operation == "eigenvalues" else 2  # tr((AᵀA)^j) scales like an entry to the power 2j
    power, traces = torch.eye(m.shape[-1], dtype=m.dtype).expand_as(m), []
    for j in range(1, degree + 1):
        power = power @ m
        t = torch.diagonal(power, dim1=1, dim2=2).sum(1)
        traces.append(t.sign() * t.abs() ** (1 / (root * j)))
    return torch.stack(traces, 1)


def quadratic_design(z: torch.Tensor) -> torch.Tensor:
    """[N, features]: 1, the columns of ``z`` and their pairwise products."""
    pairs = torch.triu_indices(z.shape[1], z.shape[1])
    return torch.cat([torch.ones_like(z[:, :1]), z, (z[:, :, None] * z[:, None, :])[:, pairs[0], pairs[1]]], 1)


def trace_baselines(op: Operation, dims: Dims, problems: Problems, fit_problems: int,
                    seed: int) -> dict[str, dict]:
    """For d = 1..n, the whole-answer pass rate and position statistics of a quadratic fit on d power traces."""
    fit = op.generate(fit_problems, dims, torch.Generator().manual_seed(seed))
    fit_exact = op.solve(fit.operands)[0]
    exact = op.solve(problems.operands)[0]
    n = exact.shape[1]
    fit_traces, test_traces = (power_traces(x.operands[0], op.name, n) for x in (fit, problems))
    rows = {}
    for degree in range(1, n + 1):
        weights = torch.linalg.lstsq(quadratic_design(fit_traces[:, :degree]), fit_exact.flatten(1).double()).solution
        values = (quadratic_design(test_traces[:, :degree]) @ weights).sort(1, descending=True).values
        relative = op.error(problems.operands, [values.reshape(exact.shape).to(exact.dtype)])
        decoded = torch.ones(len(values), dtype=torch.bool)
        rows[f"traces_1_to_{degree}"] = {"accuracy_5%": round(float((relative < TOLERANCE).float().mean()), 4),
                                         "positions": position_statistics(values, exact.flatten(1).double(), decoded)}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument, help="an eigenvalue or singular-value model folder")
    parser.add_argument("--sizes", default="", help="sizes such as 3x3,2x5 (default: every size the model serves)")
    parser.add_argument("--problems", type=int, default=1000, help="per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline", action="store_true", help="also the power-trace least-squares baselines")
    parser.add_argument("--fit-problems", type=int, default=20000, help="problems each baseline is fitted on")
    args = parser.parse_args()
    if args.problems < 1 or args.fit_problems < 1:
        parser.error("--problems and --fit-problems must be at least 1")
    loaded = args.model
    op = loaded.op
    if op.name not in OPERATIONS:
        parser.error(f"{loaded.path} is a {op.name} model, not an eigenvalue or singular-value one")
    sizes = asked_sizes(parser, loaded, args.sizes, served=True)
    plain = get_operation(op.name)  # the answer alone, whatever the model writes before it
    rows = {}
    for dims in sizes:
        size_seed = args.seed + 100 * dims[0] + dims[-1]
        problems = op.generate(args.problems, dims, torch.Generator().manual_seed(size_seed))
        prediction = predict(loaded.model, loaded.codec, op, problems.operands, dims)
        relative = errors(op, problems.operands, prediction, problems.singular)
        exact = plain.solve(problems.operands)[0].flatten(1)
        rows[op.label(dims)] = {"accuracy_5%": round(float((relative < TOLERANCE).float().mean()), 4),
                                "positions": position_statistics(op.answer_of(prediction.parts)[0].flatten(1), exact,
                                                                 prediction.valid)}
        working = op.working_error(problems.operands, prediction.parts)  # how often the model's own working is right
        if working is not None:
            within = float((working < WORKING_TOLERANCE).float().mean())
            rows[op.label(dims)]["scratchpad_within_5%"] = round(within, 4)
        if args.baseline:
            rows[op.label(dims)]["baselines"] = trace_baselines(plain, dims, problems, args.fit_problems, size_seed + 1)
    print(json.dumps({"model": str(loaded.path), "operation": op.name, "problems": args.problems,
                      "seed": args.seed, "per_size": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
