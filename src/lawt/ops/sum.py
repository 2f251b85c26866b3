"""Sum of two matrices of the same shape."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Dims, OperandError, Operation, Problems, relative_l1, uniform


class Sum(Operation):
    name = "sum"
    title = "Sum A + B"
    n_operands = 2
    common_scale = True  # A + B scales only when both operands scale alike

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
        return Problems([uniform(batch, dims[0], dims[1], gen), uniform(batch, dims[0], dims[1], gen)])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [operands[0] + operands[1]]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
