"""Transposition: Aᵀ for A of any shape."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Bar, Dims, Operation, Problems, relative_l1, uniform


class Transpose(Operation):
    name = "transpose"
    title = "Transpose"
    bar = Bar(tolerance=0.01, share=0.99)

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[1])]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[1], dims[0])]

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        return Problems([uniform(batch, dims[0], dims[1], gen)])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [operands[0].transpose(1, 2).contiguous()]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
