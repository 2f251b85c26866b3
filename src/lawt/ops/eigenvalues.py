"""Eigenvalues of a symmetric matrix, sorted descending."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import EIGEN_DISTRIBUTIONS, Dims, Operation, Problems, column, relative_l1, symmetric


class Eigenvalues(Operation):
    name = "eigenvalues"
    title = "Eigenvalues (symmetric)"
    distributions = EIGEN_DISTRIBUTIONS
    square_only = True
    symmetric_only = True

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[0])]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], 1)]

    def generate(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str = "") -> Problems:
        return Problems([symmetric(batch, dims[0], gen, self._check_distribution(distribution))])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [column(torch.linalg.eigvalsh(operands[0]).flip(-1))]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
