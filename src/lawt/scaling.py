"""Operands scaled by powers of ten into the range the models were trained on, and answers scaled back.

Every model was trained on entries of at most ``COEFF`` (10) in magnitude, with the largest entry of a
matrix usually between 1 and 10. An operand whose largest entry lies outside [1, 10] is multiplied by the
power of ten that brings it inside, the model answers the scaled problem, and each answer part is
multiplied back by the power its operation's :attr:`~lawt.ops.base.Operation.answer_degrees` give. Both
steps only shift decimal exponents, so the answer is the model's own, exact in its scale: a matrix of
entries in the thousands is answered as well as one of units, and a 1×1 product of 0.3 and 7 as well as
one of 3 and 7. Operands already inside [1, 10] (nearly every test problem) are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lawt.ops.base import COEFF, Operation

OPERAND_SCALING = "each operand's largest entry brought into [1, 10] by a power of ten"  # as cards record it


def power_of_ten(x: torch.Tensor) -> torch.Tensor:
    """Per matrix of ``x`` [B, r, c], the integer p (float64 [B]) for which the largest entry magnitude
    times 10^-p lies in [1, 10]: 0 when it already does, and for a matrix of zeros."""
    return _power_for(_largest(x))


def _largest(x: torch.Tensor) -> torch.Tensor:
    """The largest entry magnitude of each matrix of ``x`` [B, r, c], float64 [B]."""
    return x.abs().flatten(1).amax(1).to(torch.float64)


def _power_for(largest: torch.Tensor) -> torch.Tensor:
    exponent = torch.log10(largest.clamp(min=1e-300))
    below = torch.floor(exponent)  # largest < 1: scaled up into [1, 10)
    above = torch.ceil(exponent) - 1  # largest > 10: scaled down into (1, 10]
    return torch.where(largest == 0, 0.0, torch.where(largest < 1, below, torch.where(largest > COEFF, above, 0.0)))


def times_power_of_ten(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``x`` [B, r, c] times 10^p [B], as exactly as float64 allows (a division for negative p, since
    10^-k has no exact binary form)."""
    power = torch.pow(10.0, p.abs()).to(x.dtype)[:, None, None]
    scaled = torch.where(p[:, None, None] >= 0, x * power, x / power)
    return torch.where(x == 0, x, scaled)  # zero stays zero even where 10^p overflows


@dataclass(frozen=True)
class Scaled:
    """Operands brought into [1, 10] by powers of ten: each operand's power [B] (the model reads it times
    10^-power) and each answer part's [B] (the answer of the scaled problem times 10^power is the original's)."""

    operands: list[torch.Tensor]
    operand_powers: list[torch.Tensor]
    answer_powers: list[torch.Tensor]


def scale_operands(op: Operation, operands: list[torch.Tensor]) -> Scaled:
    """Scale each operand by the power of ten that brings its largest entry into [1, 10]; an operation with
    ``common_scale`` scales all its operands by one power, that of the operand with the largest entry. The
    scaled entries are not rounded again: the codec writes every number with three significant digits."""
    if op.common_scale:
        shared = _power_for(torch.stack([_largest(x) for x in operands]).amax(0))
        powers, degree_powers = [shared] * len(operands), [shared]
    else:
        powers = degree_powers = [power_of_ten(x) for x in operands]
    scaled = [times_power_of_ten(x, -p) for x, p in zip(operands, powers, strict=True)]
    answer_powers = [sum((d * p for d, p in zip(degrees, degree_powers, strict=True)), torch.zeros_like(powers[0]))
                     for degrees in op.answer_degrees]
    return Scaled(scaled, powers, answer_powers)


def scale_back(parts: list[torch.Tensor], powers: list[torch.Tensor]) -> list[torch.Tensor]:
    """Answer parts of scaled problems as answers of the original ones."""
    return [times_power_of_ten(part, p) for part, p in zip(parts, powers, strict=True)]
