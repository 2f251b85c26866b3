"""Singular value decomposition A = U diag(σ) Vᵀ (reduced: U is m×k, V is n×k, k = min(m, n))."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Dims, Operation, Problems, canonical_signs, column, orthonormality_error, uniform


class SVD(Operation):
    name = "svd"
    title = "Singular value decomposition"
    answer_degrees = ((0,), (1,), (0,))  # U, σ, V

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[1])]

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        m, n = dims
        k = min(m, n)
        return [(m, k), (k, 1), (n, k)]

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        return Problems([uniform(batch, dims[0], dims[1], gen)])

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        u, s, vh = torch.linalg.svd(operands[0], full_matrices=False)
        v = vh.transpose(1, 2)
        signs = canonical_signs(v)
        return [u * signs, column(s), v * signs]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        """Σ|UᵀAV − diag(σ)| / Σ|σ_true| (any valid signs and order count as right), or the orthonormality
        error of U or V if larger."""
        a = operands[0]
        u, s, v = parts[0], parts[1].squeeze(-1), parts[2]
        residual = u.transpose(1, 2) @ a @ v - torch.diag_embed(s)
        scale = torch.linalg.svdvals(a).sum(-1)
        paper = residual.abs().flatten(1).sum(1) / scale.clamp(min=1e-300)
        return torch.maximum(paper, torch.maximum(orthonormality_error(u), orthonormality_error(v)))
