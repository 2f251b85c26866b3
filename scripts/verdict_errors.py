"""How an entry-layout inverse model's *invertible?* verdict goes wrong, per size; prints JSON.

    python scripts/verdict_errors.py src/lawt/zoo/inverse --problems 1000
    python scripts/verdict_errors.py runs/exp/inverse-3x3/last --sizes 3x3

For each size, invertible matrices (uniform, on the 0.01 grid that the rank-deficient ones are built on, and
integer) and singular matrices (rank-deficient by construction, and random integer ones that happen to be
singular, up to 5x5) are tested apart: the share of each answered wrongly by greedy decoding, and what
a verdict from the model's own probability of "not invertible" at the first answer position (over both signs,
said when above one half) would get instead. The greedy decoder picks the most likely exponent class, so
"not invertible" can win against exponents that share the rest of the probability; the second verdict shows
whether that, and not what the model knows, is what goes wrong.
"""

from __future__ import annotations

import argparse
import json

import torch

from lawt.encodings import ENTRY_NOT_INVERTIBLE, EntryCodec
from lawt.predict import predict
from lawt.zoo import LoadedModel, asked_sizes, model_argument

KINDS = (("invertible_uniform", "uniform"), ("invertible_grid", "grid"), ("invertible_integer", "integer"),
         ("rank_deficient", "singular"), ("singular_integer", "singular_integer"))


def not_invertible_probability(loaded: LoadedModel, operands: list[torch.Tensor], n: int) -> torch.Tensor:
    """P(sign, exponent = "not invertible") at the first answer position, summed over the sign, [B]."""
    model, codec = loaded.model, loaded.codec
    batch = operands[0].shape[0]
    src = codec.encode_operands(operands)
    slots = codec.slots(loaded.op.answer_shapes((n,)), batch)[:, :1]
    bos = torch.tensor(codec.bos).expand(batch, 1, len(model.heads))
    with torch.no_grad():
        h = model.hidden(torch.cat([bos, slots], dim=-1), model.encode(src, None), src, None)[:, -1]
        chosen = torch.zeros(batch, len(model.heads), dtype=torch.long)
        sign = model.field_logits(h, chosen, 0).float().softmax(-1)
        total = torch.zeros(batch)
        for s in (0, 1):
            chosen[:, 0] = s
            exponent = model.field_logits(h, chosen, 1).float().softmax(-1)
            total += sign[:, s] * exponent[:, ENTRY_NOT_INVERTIBLE]
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument, help="an inverse model folder (config.json + model.safetensors)")
    parser.add_argument("--sizes", default="", help="as lawt eval --sizes, e.g. 3x3,4x4 (default: the model's sizes)")
    parser.add_argument("--problems", type=int, default=1000, help="per size and per kind of matrix")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loaded = args.model
    if loaded.op.name != "inverse" or not isinstance(loaded.codec, EntryCodec):
        parser.error(f"{loaded.path}: not an entry-layout inverse model ({loaded.op.name}, {loaded.codec.name})")
    sizes = asked_sizes(parser, loaded, args.sizes)
    gen = torch.Generator().manual_seed(args.seed)
    rows = {}
    for dims in sizes:
        row = {}
        for kind, distribution in KINDS:
            if not loaded.op.covers(distribution, dims):
                continue
            problems = loaded.op.generate(args.problems, dims, gen, distribution)
            greedy = predict(loaded.model, loaded.codec, loaded.op, problems.operands, dims).not_invertible
            by_probability = not_invertible_probability(loaded, problems.operands, dims[0]) > 0.5
            row[kind] = {"greedy_wrong": round(float((greedy != problems.singular).float().mean()), 4),
                         "probability_wrong": round(float((by_probability != problems.singular).float().mean()), 4)}
        rows[loaded.op.label(dims)] = row
    print(json.dumps({"model": str(loaded.path), "problems": args.problems, "per_size": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
