"""Eigenvalues of a symmetric matrix, sorted descending."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Dims, SymmetricOperation, column, relative_l1


class Eigenvalues(SymmetricOperation):
    name = "eigenvalues"
    title = "Eigenvalues (symmetric)"

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], 1)]

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [column(torch.linalg.eigvalsh(operands[0]).flip(-1))]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
