"""Matrix–vector product Av for A (m×n) and v (n)."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Bar, Dims, OperandError, Operation, Problems, cancelling, relative_l1, uniform


class MatVec(Operation):
    name = "matvec"
    title = "Matrix–vector product A·v"
    bar = Bar(tolerance=0.05, share=0.99)
    n_operands = 2
    answer_degrees = ((1, 1),)
    distributions = ("uniform", "cancelling")  # cancelling: half the rows of A nearly orthogonal to v
    hard_distribution = "cancelling"

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[1]), (dims[1], 1)]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], 1)]

    def dims_of(self, shapes: list[Shape]) -> Dims:
        dims = super().dims_of(shapes)
        if shapes[1] != (dims[1], 1):
            raise OperandError(f"matvec needs v with {dims[1]} entries (A has {dims[1]} columns), "
                               f"got {shapes[1][0]}x{shapes[1][1]}")
        return dims

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        a, v = uniform(batch, dims[0], dims[1], gen), uniform(batch, dims[1], 1, gen)
        return Problems([cancelling(a, v, gen) if distribution == "cancelling" else a, v])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [operands[0] @ operands[1]]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
