"""Run a model on a batch of problems of one size and score its answers."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from lawt.encodings import Codec
from lawt.model import Seq2Seq
from lawt.ops import Operation
from lawt.ops.base import Dims
from lawt.scaling import scale_back, scale_operands

TOLERANCES = (0.05, 0.02, 0.01, 0.005)


@dataclass
class Prediction:
    """The model's answers for a batch (best beam first) and how it decoded them."""

    parts: list[torch.Tensor]  # [B, r, c] for the best beam
    valid: torch.Tensor  # [B] decoded to the right shape
    not_invertible: torch.Tensor  # [B] the model answered "not invertible"
    log_prob: torch.Tensor  # [B, beam]
    fields: torch.Tensor  # [B, beam, T, output fields], the answers to the operands as scaled
    decode_seconds: float
    operand_powers: list[torch.Tensor]  # per operand [B]: the model read it times 10^-power (lawt.scaling)
    answer_powers: list[torch.Tensor]  # per answer part [B]: the decoded part times 10^power is the answer


def predict(model: Seq2Seq, codec: Codec, op: Operation, operands: list[torch.Tensor], dims: Dims,
            beam: int = 1) -> Prediction:
    """Scale the operands into the trained range (:mod:`lawt.scaling`), encode, decode greedily (or with a
    beam) and turn the best output back into numbers of the original scale."""
    start = time.perf_counter()
    batch = operands[0].shape[0]
    device = next(model.parameters()).device
    scaled = scale_operands(op, operands)
    src = codec.encode_operands(scaled.operands).to(device)
    slots = codec.slots(op.answer_shapes(dims), batch).to(device)
    out = model.generate(src, None, slots, codec, beam=beam)
    fields, log_prob = out.fields.cpu(), out.log_prob.cpu()
    decoded = codec.decode(fields[:, 0], op.answer_shapes(dims))
    return Prediction(parts=scale_back(decoded.parts, scaled.answer_powers), valid=decoded.valid,
                      not_invertible=decoded.not_invertible, log_prob=log_prob, fields=fields,
                      decode_seconds=time.perf_counter() - start, operand_powers=scaled.operand_powers,
                      answer_powers=scaled.answer_powers)


def errors(op: Operation, operands: list[torch.Tensor], prediction: Prediction,
           singular: torch.Tensor | None) -> torch.Tensor:
    """Error per problem: the paper's metric; inf when the output did not decode or the verdict is wrong.

    For the inverse, a singular matrix answered "not invertible" has error 0.
    """
    err = op.error(operands, [torch.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0) for p in prediction.parts])
    err = torch.where(prediction.valid, torch.nan_to_num(err, nan=torch.inf), torch.inf)
    if singular is not None:
        err = torch.where(singular, torch.where(prediction.not_invertible, 0.0, torch.inf), err)
    return err


def confidence_per_number(op: Operation, dims: Dims, prediction: Prediction) -> torch.Tensor:
    """exp(log p / N) of each best answer, N the numbers in it (1 for a *not invertible* answer): the
    model's probability of its answer per number, comparable across sizes."""
    numbers = sum(r * c for r, c in op.answer_shapes(dims))
    count = torch.where(prediction.not_invertible, 1, numbers)
    return torch.exp(prediction.log_prob[:, 0] / count)


def passes(err: torch.Tensor) -> dict[str, torch.Tensor]:
    """Pass/fail at the paper's four tolerances, keyed ``"5%"``, ``"2%"``, ``"1%"``, ``"0.5%"``."""
    return {tolerance_key(t): err < t for t in TOLERANCES}


def tolerance_key(t: float) -> str:
    return f"{t * 100:g}%"
