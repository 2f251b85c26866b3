"""Is a model's error absolute or relative? Accuracy and error by the size of the exact answer; prints JSON.

    python scripts/error_by_magnitude.py src/lawt/zoo/matvec --sizes 1x1,1x10,10x1 --problems 2000

The paper's metric divides the error by the norm of the exact answer, so a model whose absolute error does
not shrink with the answer fails exactly on the problems whose answer is small. For each size, the problems
are split into quartiles of the answer's norm; each quartile gets its accuracy at 5 % and the median of the
absolute error ‖model − exact‖ and of the relative one.
"""

from __future__ import annotations

import argparse
import json

import torch

from lawt.predict import errors, predict
from lawt.zoo import asked_sizes, model_argument


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument, help="a model folder (config.json + model.safetensors)")
    parser.add_argument("--sizes", default="", help="as lawt eval --sizes (default: the model's sizes)")
    parser.add_argument("--problems", type=int, default=2000, help="per size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loaded = args.model
    op = loaded.op
    sizes = asked_sizes(parser, loaded, args.sizes)
    gen = torch.Generator().manual_seed(args.seed)
    rows = {}
    for dims in sizes:
        problems = op.generate(args.problems, dims, gen)
        prediction = predict(loaded.model, loaded.codec, op, problems.operands, dims)
        relative = errors(op, problems.operands, prediction, problems.singular)
        exact = torch.cat([p.reshape(p.shape[0], -1) for p in op.answer_of(op.solve(problems.operands))], dim=1)
        answer = torch.cat([p.reshape(p.shape[0], -1) for p in op.answer_of(prediction.parts)], dim=1)
        norm = exact.norm(dim=1)
        absolute = torch.where(prediction.valid, (torch.nan_to_num(answer) - exact).norm(dim=1), torch.inf)
        edges = norm.quantile(torch.tensor([0.25, 0.5, 0.75], dtype=norm.dtype))
        quartile = torch.bucketize(norm, edges)
        rows[op.label(dims)] = {
            "accuracy_5%": round(float((relative < 0.05).float().mean()), 4),
            "answer_norm_quartiles": [round(float(e), 3) for e in edges],
            "by_quartile": [{"accuracy_5%": round(float((relative[quartile == q] < 0.05).float().mean()), 4),
                             "median_absolute_error": round(float(absolute[quartile == q].median()), 4),
                             "median_relative_error": round(float(relative[quartile == q].median()), 5)}
                            for q in range(4)]}
    print(json.dumps({"model": str(loaded.path), "operation": op.name, "problems": args.problems,
                      "per_size": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
