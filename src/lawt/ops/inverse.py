"""Inverse of a square matrix, or the answer "not invertible".

The ``mixed`` training and test data are half rank-deficient matrices that stay exactly singular after
rounding (entries on the 0.01 grid, one row or column a signed sum of others) and half invertible matrices
drawn on the same grid, so the model itself answers *is it invertible?* and the digits of the entries do not
give the answer away; a quarter of each half is on the integer grid instead, the matrices people type, and up
to 5×5 half of those singular integer matrices are random typed ones that happen to be singular. (With
uniform invertible matrices, whose entries below 1 have three decimals, a model learnt to call every matrix on
the grid singular, every integer matrix among them.) A separate test set holds near-singular matrices
(condition number above 1e6), reported apart on every inverse model's card, and so are integer matrices drawn
the way a person types them: invertible ones, and random ones that happen to be exactly singular (any rank, any
dependence between rows, not only the signed sums the training data is built with).
"""

from __future__ import annotations

import math

import torch

from lawt.encodings import Shape
from lawt.numbers import round_sig3
from lawt.ops.base import COEFF, Dims, Operation, Problems, uniform

SINGULAR_RCOND = 1e-10  # σ_min / σ_max below this: numerically singular
MAX_INVERSE = 1e6  # larger inverse entries are out of range for the models
MAX_RESIDUAL = 1e-10  # paper: drop samples with max|A·A⁻¹ − I| above this
NEAR_SINGULAR_COND = 1e6  # condition number above which an invertible matrix counts as near-singular
NEAR_SINGULAR_SCALE = 1e-6  # how much one row or column of a near-singular test matrix is shrunk


def is_singular(a: torch.Tensor) -> torch.Tensor:
    """Whether each matrix is singular to working precision, [B]."""
    s = torch.linalg.svdvals(a)
    return s[:, -1] <= SINGULAR_RCOND * s[:, 0].clamp(min=1e-300)


def condition_number(a: torch.Tensor) -> torch.Tensor:
    """2-norm condition number, inf for singular matrices."""
    s = torch.linalg.svdvals(a)
    return torch.where(s[:, -1] > 0, s[:, 0] / s[:, -1].clamp(min=1e-300), math.inf)


INTEGER_SHARE = 0.25  # of the mixed set's matrices, on both sides, drawn on the integer grid: what people type


def on_grid(batch: int, n: int, gen: torch.Generator, per_unit: int = 100) -> torch.Tensor:
    """Matrices with entries drawn uniformly from the grid of 1/per_unit in [-10, 10] (0.01 by default, or the
    integers with ``per_unit=1``: three significant digits or fewer either way)."""
    reach = round(COEFF) * per_unit
    steps = torch.randint(-reach, reach + 1, (batch, n, n), generator=gen, dtype=torch.int16)  # int16: faster
    grid = steps.to(torch.float64)
    return grid / per_unit if per_unit != 1 else grid  # dividing by 1 was a fifth of singular_integer's time


def rank_deficient(batch: int, n: int, gen: torch.Generator, per_unit: int = 100) -> torch.Tensor:
    """Exactly singular matrices on a grid of :func:`on_grid`: a row (or column) is ±r_j ± r_k or ±r_j."""
    grid = on_grid(batch, n, gen, per_unit)
    if n == 1:
        return torch.zeros(batch, 1, 1, dtype=torch.float64)
    out = grid.clone()
    pending = torch.ones(batch, dtype=torch.bool)
    rows = torch.arange(batch)
    target = torch.randint(0, n, (batch,), generator=gen)
    while bool(pending.any()):
        j = (target + torch.randint(1, n, (batch,), generator=gen)) % n
        k = (target + torch.randint(1, n, (batch,), generator=gen)) % n
        sj = torch.randint(0, 2, (batch, 1), generator=gen) * 2 - 1
        sk = torch.randint(-1, 2, (batch, 1), generator=gen) * (k != j).unsqueeze(1)
        combo = sj * grid[rows, j] + sk * grid[rows, k]
        fits = (combo.abs() <= COEFF).all(dim=1) & pending
        out[rows[fits], target[fits]] = combo[fits]
        pending &= ~fits
    by_column = torch.rand(batch, generator=gen) < 0.5
    return round_sig3(torch.where(by_column[:, None, None], out.transpose(1, 2), out))


SINGULAR_INTEGER_MAX_N = 5  # beyond this, a random integer matrix is too rarely singular to find by drawing
SINGULAR_INTEGER_DRAWS = 200_000  # at most this many matrices drawn per round of the rejection
SINGULAR_INTEGER_RATE = {2: 50, 3: 210, 4: 1_300, 5: 10_000}  # draws per singular one, measured on 2e6 draws
TYPED_SINGULAR_SHARE = 0.5  # of the mixed set's singular integer matrices, drawn by singular_integer


def singular_integer(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Integer matrices with entries uniform in −10..10, kept when exactly singular.

    Unlike :func:`rank_deficient`, nothing about the dependence is chosen: these are the singular matrices a
    person gets by typing small integers (about 1 draw in 50 at 2×2, 1 in 10,000 at 5×5). The determinant of
    such a matrix is an integer far below 2^53, so rounding the float64 one decides exactly.
    """
    if n > SINGULAR_INTEGER_MAX_N:
        raise ValueError(f"singular_integer: random integer matrices are found up to "
                         f"{SINGULAR_INTEGER_MAX_N}x{SINGULAR_INTEGER_MAX_N}, not {n}x{n}")
    kept = [torch.empty(0, n, n, dtype=torch.float64)]
    count = 0
    while count < batch:
        draws = min(SINGULAR_INTEGER_DRAWS, max(1_024, 2 * (batch - count) * SINGULAR_INTEGER_RATE.get(n, 1)))
        a = on_grid(draws, n, gen, per_unit=1)
        a = a[torch.linalg.det(a).round() == 0]
        kept.append(a)
        count += a.shape[0]
    return torch.cat(kept)[:batch]


def near_singular(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Invertible matrices close to singular: uniform ones with one row or column shrunk by 1e-6.

    With three significant digits and entries in [-10, 10], a small perturbation of a singular matrix
    rounds back to it, so closeness to singularity comes from a nearly vanishing row or column. For n ≥ 2
    only matrices with condition number above 1e6 (and inverse entries within range) are kept; a 1×1
    matrix always has condition number 1, so there it is simply a number near zero.
    """
    kept: list[torch.Tensor] = []
    count = 0
    while count < batch:
        m = batch - count + 8
        a = uniform(m, n, n, gen)
        shrink = torch.ones(m, n, dtype=torch.float64)
        shrink[torch.arange(m), torch.randint(0, n, (m,), generator=gen)] = NEAR_SINGULAR_SCALE
        by_column = (torch.rand(m, generator=gen) < 0.5)[:, None, None]
        a = round_sig3(torch.where(by_column, a * shrink[:, None, :], a * shrink[:, :, None]))
        good = (a.abs().flatten(1).amax(1) > 0) & ~is_singular(a)
        if n > 1:
            good &= condition_number(a) > NEAR_SINGULAR_COND
        a = a[good]
        inv, info = torch.linalg.inv_ex(a)
        good = (info == 0) & (inv.abs().flatten(1).amax(1) <= MAX_INVERSE)
        kept.append(a[good])
        count += int(good.sum())
    return torch.cat(kept)[:batch]


class Inverse(Operation):
    name = "inverse"
    title = "Inverse (and is it invertible?)"
    answer_degrees = ((-1,),)
    distributions = ("mixed", "uniform", "grid", "integer", "singular", "singular_integer", "near_singular")
    test_distributions = ("near_singular", "integer", "singular_integer")
    square_only = True
    typed_inputs = False  # typed matrices may be singular: its own integer and singular sets stand in

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[0])]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[0])]

    def covers(self, distribution: str, dims: Dims) -> bool:
        return distribution != "singular_integer" or dims[0] <= SINGULAR_INTEGER_MAX_N

    def _invertible(self, batch: int, n: int, gen: torch.Generator, per_unit: int = 0) -> torch.Tensor:
        """Invertible matrices, uniform (three significant digits) or on a grid of :func:`on_grid`."""
        kept = [torch.empty(0, n, n, dtype=torch.float64)]  # a batch of none is a valid request
        count = 0
        while count < batch:
            m = batch - count + 8
            a = round_sig3(on_grid(m, n, gen, per_unit)) if per_unit else uniform(m, n, n, gen)
            inv, info = torch.linalg.inv_ex(a)  # an exactly singular draw (rare) gets info > 0, not an exception
            eye = torch.eye(n, dtype=torch.float64)
            good = (info == 0) & ((a @ inv - eye).abs().flatten(1).amax(1) <= MAX_RESIDUAL)
            good &= inv.abs().flatten(1).amax(1) <= MAX_INVERSE
            kept.append(a[good])
            count += int(good.sum())
        return torch.cat(kept)[:batch]

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        n = dims[0]
        if distribution == "uniform":
            return Problems([self._invertible(batch, n, gen)], torch.zeros(batch, dtype=torch.bool))
        if distribution == "grid":
            return Problems([self._invertible(batch, n, gen, per_unit=100)], torch.zeros(batch, dtype=torch.bool))
        if distribution == "integer":
            return Problems([self._invertible(batch, n, gen, per_unit=1)], torch.zeros(batch, dtype=torch.bool))
        if distribution == "singular":
            return Problems([rank_deficient(batch, n, gen)], torch.ones(batch, dtype=torch.bool))
        if distribution == "singular_integer":
            return Problems([singular_integer(batch, n, gen)], torch.ones(batch, dtype=torch.bool))
        if distribution == "near_singular":
            return Problems([near_singular(batch, n, gen)], torch.zeros(batch, dtype=torch.bool))
        singular = torch.rand(batch, generator=gen) < 0.5
        integer = torch.rand(batch, generator=gen) < INTEGER_SHARE
        typed = (torch.rand(batch, generator=gen) < TYPED_SINGULAR_SHARE) & integer & singular
        if not 2 <= n <= SINGULAR_INTEGER_MAX_N:
            typed[:] = False
        a = torch.empty(batch, n, n, dtype=torch.float64)
        for per_unit, on_it in ((1, integer), (100, ~integer)):  # each kind drawn once, as many as it needs
            a[on_it & singular & ~typed] = rank_deficient(int((on_it & singular & ~typed).sum()), n, gen, per_unit)
            a[on_it & ~singular] = self._invertible(int((on_it & ~singular).sum()), n, gen, per_unit)
        if bool(typed.any()):
            a[typed] = singular_integer(int(typed.sum()), n, gen)
        return Problems([a], singular)

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        """The inverse; singular matrices get NaN (callers use :func:`is_singular` first)."""
        a = operands[0]
        singular = is_singular(a)
        safe = torch.where(singular[:, None, None], torch.eye(a.shape[-1], dtype=a.dtype), a)
        inv = torch.linalg.inv(safe)
        return [torch.where(singular[:, None, None], math.nan, inv)]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        """Σ|A·P − I| / n."""
        a = operands[0]
        n = a.shape[-1]
        residual = a @ parts[0] - torch.eye(n, dtype=a.dtype)
        return residual.abs().flatten(1).sum(1) / n
