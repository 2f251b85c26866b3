"""Matrix product AB for A (m×k) and B (k×n)."""

from __future__ import annotations

import torch

from lawt.encodings import MAX_DIM, Shape
from lawt.ops.base import Bar, Dims, OperandError, Operation, Problems, cancelling, relative_l1, uniform


class Product(Operation):
    name = "product"
    title = "Matrix product A·B"
    bar = Bar(tolerance=0.05, share=0.95, max_dim=5)
    n_operands = 2
    answer_degrees = ((1, 1),)
    distributions = ("uniform", "cancelling")  # cancelling: half the rows of A nearly orthogonal to a column of B
    hard_distribution = "cancelling"

    def all_sizes(self, max_dim: int = MAX_DIM) -> list[Dims]:
        r = range(1, max_dim + 1)
        return [(m, k, n) for m in r for k in r for n in r]

    def label(self, dims: Dims) -> str:
        m, k, n = dims
        return f"{m}x{n}" if m == k == n else f"{m}x{k}x{n}"

    def dims_from_parts(self, parts: tuple[int, ...]) -> Dims | None:
        if len(parts) == 2:
            return (parts[0],) * 3 if parts[0] == parts[1] else None
        return parts if len(parts) == 3 else None

    def size_help(self) -> str:
        return f"sizes m x k x n (A is m x k, B is k x n) from 1 to {MAX_DIM}, written like 2x3x4, or 5x5 for 5x5x5"

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        m, k, n = dims
        return [(m, k), (k, n)]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[2])]

    def dims_of(self, shapes: list[Shape]) -> Dims:
        super().dims_of(shapes)
        (m, k), (k2, n) = shapes
        if k != k2:
            raise OperandError(f"product needs as many columns in A as rows in B, got {m}x{k} and {k2}x{n}")
        return (m, k, n)

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        m, k, n = dims
        a, b = uniform(batch, m, k, gen), uniform(batch, k, n, gen)
        return Problems([cancelling(a, b, gen) if distribution == "cancelling" else a, b])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [operands[0] @ operands[1]]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return relative_l1(parts[0], self.solve(operands)[0])
