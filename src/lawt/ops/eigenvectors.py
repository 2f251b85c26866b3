"""Eigen-decomposition of a symmetric matrix: eigenvalues λ (descending) and eigenvectors V (columns)."""

from __future__ import annotations

import torch

from lawt.encodings import Shape
from lawt.ops.base import Dims, SymmetricOperation, canonical_signs, column, orthonormality_error


class Eigenvectors(SymmetricOperation):
    name = "eigenvectors"
    title = "Eigenvalues and eigenvectors (symmetric)"
    answer_degrees = ((1,), (0,))  # λ scales with A, V does not

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], 1), (dims[0], dims[0])]

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        values, vectors = torch.linalg.eigh(operands[0])
        values, vectors = values.flip(-1), vectors.flip(-1)
        return [column(values), vectors * canonical_signs(vectors)]

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        """Σ|VᵀAV − diag(λ)| / Σ|λ_true| (any valid order and signs count as right), or the orthonormality
        error Σ|VᵀV − I| / n if larger — without it V = 0, λ = 0 would score zero."""
        a = operands[0]
        values, vectors = parts[0].squeeze(-1), parts[1]
        residual = vectors.transpose(1, 2) @ a @ vectors - torch.diag_embed(values)
        scale = torch.linalg.eigvalsh(a).abs().sum(-1)
        paper = residual.abs().flatten(1).sum(1) / scale.clamp(min=1e-300)
        return torch.maximum(paper, orthonormality_error(vectors))
