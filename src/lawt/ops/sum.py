"""Sum of two matrices of the same shape."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.numbers import round_sig3
from lawt.ops.base import (
    COEFF,
    Bar,
    Dims,
    OperandError,
    Operation,
    Problems,
    log_uniform,
    random_signs,
    relative_l1,
    uniform,
)


def nearly_opposite(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator, share: float = 0.5) -> torch.Tensor:
    """``b`` with about ``share`` of its entries replaced by −a·(1 ± ρ), ρ log-uniform on [1e-3, 0.3] (rounded to
    three digits, and within [−COEFF, COEFF]): sums that nearly cancel, such as 4.07 − 4.08, whose answer needs
    every digit right. Uniform entries cancel that closely a few times in a hundred."""
    rho, sign = log_uniform(a.shape, 1e-3, 0.3, gen), random_signs(a.shape, gen)
    factor = 1 + sign * rho
    factor = torch.where((a * factor).abs() > COEFF, 1 - rho, factor)
    chosen = torch.rand(a.shape, generator=gen) < share
    return torch.where(chosen, round_sig3(-a * factor), b)


class Sum(Operation):
    name = "sum"
    title = "Sum A + B"
    bar = Bar(tolerance=0.01, share=0.99)
    n_operands = 2
    common_scale = True  # A + B scales only when both operands scale alike
    distributions = ("uniform", "cancelling")  # cancelling: half the entries of B nearly −A
    hard_distribution = "cancelling"

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[1])] * 2

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[1])]

    def dims_of(self, shapes: list[Shape]) -> Dims:
        dims = super().dims_of(shapes)
        if shapes[0] != shapes[1]:
            raise OperandError(f"sum needs A and B of the same shape, got {shapes[0][0]}x{shapes[0][1]} "
                               f"and {shapes[1][0]}x{shapes[1][1]}")
        return dims

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        a, b = uniform(batch, dims[0], dims[1], gen), uniform(batch, dims[0], dims[1], gen)
        return Problems([a, nearly_opposite(a, b, gen) if distribution == "cancelling" else b])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [operands[0] + operands[1]]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
