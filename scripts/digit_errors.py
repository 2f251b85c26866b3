"""Which output field of an entry-layout model is wrong: sign, exponent, or which mantissa digit; prints JSON.

    python scripts/digit_errors.py src/lawt/zoo/sum --size 1x1 --problems 2000
    python scripts/digit_errors.py runs/sum-digits/last --size 3x3

Each answer entry is compared field by field with the exact answer's encoding, overall and by the decade
of the exact entry (entries in [1, 10) have their hundredths in the last digit, entries in [10, 100) their
tenths), so a model that adds by magnitude rather than digit by digit shows a last digit near chance (90 %
wrong) in some decades and not in others.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from lawt.encodings import EntryCodec
from lawt.predict import predict
from lawt.zoo import model_argument

FIELDS = ("sign", "exponent", "digit 1", "digit 2", "digit 3")


def field_errors(wrong: torch.Tensor) -> dict[str, float]:
    """Share of entries whose field is wrong, per field, from a [N, fields] boolean tensor."""
    return {name: round(float(rate), 4) for name, rate in zip(FIELDS, wrong.float().mean(0).tolist(), strict=True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=model_argument, help="a model folder (config.json + model.safetensors)")
    parser.add_argument("--size", default="1x1", help="a size label of the model's operation, e.g. 3x3")
    parser.add_argument("--problems", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loaded = args.model
    if not isinstance(loaded.codec, EntryCodec) or not loaded.codec.digits:
        parser.error(f"{loaded.path}: not a three-digit entry-layout model ({loaded.codec.name})")
    op = loaded.op
    try:
        dims = op.parse_label(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    problems = op.generate(args.problems, dims, torch.Generator().manual_seed(args.seed))
    exact = op.solve(problems.operands)
    target = loaded.codec.encode_answer(exact, problems.singular)
    with torch.no_grad():
        out = predict(loaded.model, loaded.codec, op, problems.operands, dims).fields[:, 0, :target.shape[1]]
    keep = torch.ones(target.shape[:2], dtype=torch.bool)
    if problems.singular is not None:
        keep &= ~problems.singular[:, None]
    wrong = (out != target)[keep]
    values = torch.cat([p.reshape(p.shape[0], -1) for p in exact], dim=1)[keep].abs()
    decades = {}
    for low in sorted({math.floor(math.log10(v)) for v in values[values > 0].tolist()}):
        mask = (values >= 10.0**low) & (values < 10.0 ** (low + 1))
        decades[f"[{10.0**low:g}, {10.0**(low + 1):g})"] = {"entries": int(mask.sum()), **field_errors(wrong[mask])}
    print(json.dumps({"model": str(loaded.path), "operation": op.name, "size": args.size,
                      "entries": int(wrong.shape[0]), "entry_wrong": round(float(wrong.any(1).float().mean()), 4),
                      "field_wrong": field_errors(wrong), "by_decade": decades}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
