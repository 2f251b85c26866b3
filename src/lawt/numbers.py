"""Three-significant-digit floating point: the number system shared by every encoding.

A real number x is written ``sign * mantissa * 10**exponent`` with an integer mantissa in 100..999
(0 for zero). All functions are vectorised over tensors of any shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_LN10 = math.log(10.0)
_POW10 = torch.tensor([10.0**k for k in range(309)], dtype=torch.float64)
SMALLEST = 1e-98  # 100e-100, the smallest magnitude of the P10, P1000, B1999 and entry grids


class EncodingRangeError(ValueError):
    """A value cannot be written in an encoding (too large, NaN or infinite)."""


@dataclass(frozen=True)
class Decomposed:
    """Sign (0 for +, 1 for -), mantissa (0 or 100..999) and exponent, each an int64 tensor."""

    sign: torch.Tensor
    mantissa: torch.Tensor
    exponent: torch.Tensor


def decompose(x: torch.Tensor, min_exponent: int, max_exponent: int, name: str = "encoding") -> Decomposed:
    """Round ``x`` to three significant digits and split it into sign, mantissa and exponent.

    Magnitudes below the smallest representable number become zero (underflow, as in floating point);
    magnitudes above the largest, NaN and infinities raise :class:`EncodingRangeError`.
    """
    x = x.to(torch.float64)
    magnitude = x.abs()
    if not bool(torch.isfinite(magnitude).all()):
        raise EncodingRangeError(f"{name}: NaN or infinite value cannot be encoded")
    order = torch.log10(magnitude).floor_()  # -inf for zeros
    mantissa = magnitude.mul(torch.exp((2.0 - order).mul_(_LN10))).round_()
    high = mantissa >= 1000  # rounding carried into a fourth digit, or log10 came out one too low
    if bool(high.any()):
        mantissa = torch.where(high, mantissa.div(10).round_(), mantissa)
        order = order + high
    low = mantissa < 100  # log10 came out one too high
    if bool(low.any()):
        order = order - low
        mantissa = torch.where(low, magnitude.mul(torch.exp((2.0 - order).mul_(_LN10))).round_(), mantissa)
    exponent = order - 2
    zero = (magnitude == 0) | (exponent < min_exponent)
    if bool((exponent > max_exponent).any()):
        largest = 999 * 10.0**max_exponent
        raise EncodingRangeError(f"{name}: value too large to encode (largest magnitude is {largest:.3g})")
    return Decomposed(
        sign=((x < 0) & ~zero).to(torch.int64),
        mantissa=mantissa.masked_fill_(zero, 0).to(torch.int64),
        exponent=exponent.masked_fill_(zero, 0).to(torch.int64),
    )


def _power_of_ten(exponent: torch.Tensor) -> torch.Tensor:
    """10**|exponent| from the table, exact, in the shape of ``exponent``."""
    index = exponent.abs().clamp_(max=len(_POW10) - 1).long()
    return torch.index_select(_POW10, 0, index.reshape(-1)).view(index.shape)


def _scale(mantissa: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """mantissa × 10**exponent, multiplying or dividing by an exact power of ten (a table, not pow)."""
    power = _power_of_ten(exponent)
    return torch.where(exponent >= 0, mantissa * power, mantissa / power)


def compose(sign: torch.Tensor, mantissa: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`decompose`, as float64: the double nearest to the decimal ±mantissa·10^exponent."""
    value = _scale(mantissa.to(torch.float64), exponent)
    return torch.where(sign.bool(), -value, value)


def round_sig3(x: torch.Tensor) -> torch.Tensor:
    """Round to the three-significant-digit grid every encoding represents; below 1e-98 becomes zero.

    The result is exactly what :func:`compose` gives for the rounded digits, so rounding again, or encoding
    and decoding, changes nothing.
    """
    magnitude = x.abs()
    shift = (2.0 - torch.log10(magnitude).floor_()).nan_to_num_(posinf=0.0)  # digits to move; 0 for zeros
    power = _power_of_ten(shift)
    up = shift >= 0  # one power table lookup serves both moves
    if bool(up.all()):  # every |x| < 1000: multiply, round, divide back
        rounded = (x * power).round_().div_(power)
    else:
        digits = torch.where(up, x * power, x / power).round_()
        rounded = torch.where(up, digits / power, digits * power)
    return rounded.masked_fill_(~(rounded.abs() >= SMALLEST), 0.0)
