"""Scratchpads: intermediate results a model writes before its answer, trained on and then set aside.

An operation with a scratchpad answers with the scratch parts first, then its own answer parts; the error, the
shown answer and every pass rate are those of its own parts alone. A model trained with one records its name in
its card (``scratchpad``), so it is always decoded with the same layout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from lawt.encodings import MAX_DIM, Shape
from lawt.ops.base import Dims, Operation, Problems


class Scratch(ABC):
    """What a scratchpad holds: its shapes for a size, its exact value, and how it scales with the operands."""

    name: str
    title: str
    operations: tuple[str, ...]  # the operations it serves
    degrees: tuple[tuple[int, ...], ...]  # per scratch part, as ``Operation.answer_degrees``

    @abstractmethod
    def shapes(self, dims: Dims) -> list[Shape]:
        """Shapes of the scratch parts for a size."""

    @abstractmethod
    def compute(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        """The scratch parts, float64 [B, r, c]."""


class Gram(Scratch):
    """The smaller Gram matrix of A, AᵀA (n×n) or AAᵀ (m×m): its eigenvalues are the squared singular values."""

    name = "gram"
    title = "Gram matrix"
    operations = ("singular_values", "svd")
    degrees = ((2,),)

    def shapes(self, dims: Dims) -> list[Shape]:
        k = min(dims)
        return [(k, k)]

    def compute(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        a = operands[0]
        return [a.transpose(1, 2) @ a if a.shape[2] <= a.shape[1] else a @ a.transpose(1, 2)]


SCRATCHES: dict[str, Scratch] = {scratch.name: scratch for scratch in (Gram(),)}


class WithScratchpad(Operation):
    """``base`` answered after ``scratch``: the same problems, sizes and error, a longer answer."""

    def __init__(self, base: Operation, scratch: Scratch) -> None:
        self.base, self.scratch = base, scratch
        self.name, self.title = base.name, base.title
        for attribute in ("n_operands", "distributions", "test_distributions", "square_only", "symmetric_only",
                          "typed_inputs", "common_scale", "hard_distribution", "bar"):
            setattr(self, attribute, getattr(base, attribute))
        self.answer_degrees = (*scratch.degrees, *base.answer_degrees)
        self.scratch_title = scratch.title
        self.scratch_parts = len(scratch.degrees)

    def all_sizes(self, max_dim: int = MAX_DIM) -> list[Dims]:
        return self.base.all_sizes(max_dim)

    def label(self, dims: Dims) -> str:
        return self.base.label(dims)

    def dims_from_parts(self, parts: tuple[int, ...]) -> Dims | None:
        return self.base.dims_from_parts(parts)

    def size_help(self) -> str:
        return self.base.size_help()

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return self.base.operand_shapes(dims)

    def dims_of(self, shapes: list[Shape]) -> Dims:
        return self.base.dims_of(shapes)

    def answer_shapes(self, dims: Dims) -> list[Shape]:
        return [*self.scratch.shapes(dims), *self.base.answer_shapes(dims)]

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        return self.base.draw(batch, dims, gen, distribution)

    def covers(self, distribution: str, dims: Dims) -> bool:
        return self.base.covers(distribution, dims)

    def check_operands(self, operands: list[torch.Tensor]) -> None:
        self.base.check_operands(operands)

    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return [*self.working(operands), *self.base.solve(operands)]

    def working(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.scratch.compute(operands)

    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        return self.base.error(operands, self.answer_of(parts))

    def answer_of(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        return parts[self.scratch_parts:]

    def scratch_of(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        return parts[:self.scratch_parts]


def with_scratchpad(op: Operation, name: str) -> Operation:
    """``op`` answered after the scratchpad ``name`` (``op`` itself for an empty name); a ValueError naming the
    scratchpads ``op`` has otherwise."""
    if not name:
        return op
    scratch = SCRATCHES.get(name)
    if scratch is None or op.name not in scratch.operations:
        offered = [s.name for s in SCRATCHES.values() if op.name in s.operations]
        raise ValueError(f"{op.name} has no scratchpad {name!r}; "
                         + (f"choose from {', '.join(offered)}" if offered else "it has none"))
    return WithScratchpad(op, scratch)
