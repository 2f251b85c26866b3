"""What every operation provides, and the random matrices they share."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from lawt.encodings import MAX_DIM, Codec, Shape
from lawt.numbers import round_sig3

Dims = tuple[int, ...]
COEFF = 10.0  # coefficients are uniform on [-COEFF, COEFF]
TYPED = "typed"  # the test set of entries as people type them: whole numbers, many zeros (see :func:`typed`)


class OperandError(ValueError):
    """Operands that do not fit an operation (shape, symmetry, count); the message says why."""


@dataclass(frozen=True)
class Problems:
    """A batch of problems of one size: operands [B, r, c] and, for the inverse, which are singular."""

    operands: list[torch.Tensor]
    singular: torch.Tensor | None = None


@dataclass(frozen=True)
class Bar:
    """What a shipped model must reach (issue #4): at least ``share`` of the problems right at ``tolerance``,
    on every size whose dimensions are all at most ``max_dim``."""

    tolerance: float
    share: float
    max_dim: int = MAX_DIM

    def covers(self, dims: Dims) -> bool:
        return max(dims) <= self.max_dim

    def describe(self) -> str:
        return (f"≥ {100 * self.share:g} % at {100 * self.tolerance:g} % on every size "
                f"up to {self.max_dim}×{self.max_dim}")


class Operation(ABC):
    """One linear-algebra task: random problems, exact answers, shapes and the paper's error."""

    name: str
    title: str
    n_operands: int = 1
    distributions: tuple[str, ...] = ("uniform",)  # the first is the default, for training and testing
    test_distributions: tuple[str, ...] = ()  # reported by every evaluation beside the training one
    square_only: bool = False
    symmetric_only: bool = False
    typed_inputs: bool = True  # whether ``typed`` problems can be drawn (from the first distribution's)
    # How each answer part scales with the operands (see lawt.scaling): part j of the answer of operands
    # x_i · 10^p_i is the original part times 10^(Σ_i answer_degrees[j][i] · p_i). With ``common_scale``
    # every operand gets one power p and each part has one degree, of p.
    answer_degrees: tuple[tuple[int, ...], ...] = ((1,),)
    common_scale: bool = False
    # One of ``distributions`` holding problems the first one rarely draws and models get wrong, which
    # training can draw more often (``hard_share``); empty if the operation has none.
    hard_distribution: str = ""
    bar: Bar | None = None  # the accuracy its shipped model must reach, where one is set
    scratch_title: str = ""  # what its model writes before the answer (lawt.ops.scratchpad); empty: nothing

    # ------------------------------------------------------------------ sizes
    def all_sizes(self, max_dim: int = MAX_DIM) -> list[Dims]:
        """Every size this operation is defined for, up to ``max_dim``."""
        if self.square_only:
            return [(n,) for n in range(1, max_dim + 1)]
        return [(m, n) for m in range(1, max_dim + 1) for n in range(1, max_dim + 1)]

    def bar_sizes(self) -> list[Dims]:
        """The sizes its :attr:`bar` is judged on (none without a bar)."""
        return [dims for dims in self.all_sizes() if self.bar.covers(dims)] if self.bar else []

    def label(self, dims: Dims) -> str:
        """Size label used in reports: ``"5x5"``, ``"3x4"``, ``"2x3x4"``."""
        return f"{dims[0]}x{dims[0]}" if len(dims) == 1 else "x".join(map(str, dims))

    def parse_label(self, label: str) -> Dims:
        """Inverse of :meth:`label`; a ValueError saying what is wrong unless ``label`` spells one of its sizes."""
        if re.fullmatch(r"[0-9]{1,3}(?:x[0-9]{1,3})*", label):
            dims = self.dims_from_parts(tuple(int(part) for part in label.split("x")))
            if dims in self.all_sizes():
                return dims
        raise ValueError(f"{label!r} is not a size of {self.name}: {self.size_help()}")

    def dims_from_parts(self, parts: tuple[int, ...]) -> Dims | None:
        """The size the numbers of a label name, before it is checked (None if they name none)."""
        if len(parts) != 2:
            return None
        if self.square_only:
            return parts[:1] if parts[0] == parts[1] else None
        return parts

    def size_help(self) -> str:
        """How its sizes are written, for error messages."""
        first, last = self.all_sizes()[0], self.all_sizes()[-1]
        kind, example = ("square sizes", "3x3") if self.square_only else ("sizes rows x columns", "3x4")
        return f"{kind} from {self.label(first)} to {self.label(last)}, written like {example}"

    @abstractmethod
    def operand_shapes(self, dims: Dims) -> list[Shape]:
        """Shapes of the operands for a size."""

    @abstractmethod
    def answer_shapes(self, dims: Dims) -> list[Shape]:
        """Shapes of the answer parts for a size."""

    def dims_of(self, shapes: list[Shape]) -> Dims:
        """The size of given operand shapes, or :class:`OperandError` saying what does not fit."""
        if len(shapes) != self.n_operands:
            raise OperandError(f"{self.name} takes {self.n_operands} operand(s), got {len(shapes)}")
        for r, c in shapes:
            if not (1 <= r <= MAX_DIM and 1 <= c <= MAX_DIM):
                raise OperandError(f"matrices must have 1 to {MAX_DIM} rows and columns, got {r}x{c}")
        rows, cols = shapes[0]
        if self.square_only and rows != cols:
            raise OperandError(f"{self.name} needs a square matrix, got {rows}x{cols}")
        return (rows,) if self.square_only else (rows, cols)

    # ------------------------------------------------------------------ data
    def generate(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str = "") -> Problems:
        """``batch`` random problems of one size from ``distribution`` (the first if empty), or ``typed``."""
        if distribution == TYPED and self.typed_inputs:
            return Problems(typed(self.draw(batch, dims, gen, self.distributions[0]).operands, gen))
        return self.draw(batch, dims, gen, self.check_distribution(distribution))

    @abstractmethod
    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        """``batch`` random problems of one size from one of :attr:`distributions`, rounded to three
        significant digits."""

    @abstractmethod
    def solve(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        """Exact answer parts, float64 [B, r, c]."""

    @abstractmethod
    def error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor:
        """The paper's error of predicted parts, [B] (inf where it cannot be computed)."""

    def answer_of(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """The answer among the parts a model writes (all of them, unless it writes a scratchpad first)."""
        return parts

    def scratch_of(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """The scratchpad among the parts a model writes (none, unless it writes one)."""
        return []

    def working(self, operands: list[torch.Tensor]) -> list[torch.Tensor]:
        """The exact scratchpad alone, without solving the answer again (none, unless its model writes one)."""
        return []

    def working_error(self, operands: list[torch.Tensor], parts: list[torch.Tensor]) -> torch.Tensor | None:
        """The relative L1 error of the scratchpad among predicted parts, [B]; None without a scratchpad."""
        scratch = self.scratch_of(parts)
        if not scratch:
            return None
        return relative_l1(torch.cat([p.flatten(1) for p in scratch], 1),
                           torch.cat([p.flatten(1) for p in self.working(operands)], 1))

    def check_codec(self, codec: Codec) -> None:
        """A ValueError unless ``codec`` can write this operation's operands."""
        if codec.upper_triangle and not self.symmetric_only:
            raise ValueError(f"{codec.name} reads only the upper triangle of a symmetric matrix; {self.name} takes "
                             "other operands")

    def check_operands(self, operands: list[torch.Tensor]) -> None:
        """Raise :class:`OperandError` for operands the model was not trained to accept."""
        if self.symmetric_only:
            a = operands[0]
            if not torch.allclose(a, a.transpose(-1, -2), rtol=1e-6, atol=1e-9):
                raise OperandError(f"{self.name}: the model expects a symmetric matrix (A equal to its transpose)")

    def shared_distributions(self) -> list[str]:
        """The test sets drawn from any operation's own problems: ``typed``, unless the operation opts out."""
        return [TYPED] if self.typed_inputs else []

    def all_distributions(self) -> list[str]:
        """Every distribution problems can be drawn from: the operation's own, then the shared ones."""
        return [*self.distributions, *self.shared_distributions()]

    def report_distributions(self, trained_on: str = "") -> list[str]:
        """The distributions a model's evaluation covers: the one it was trained on, then the test ones,
        then ``typed`` (what people type)."""
        trained_on = trained_on or self.distributions[0]
        tests = [*self.test_distributions, *self.shared_distributions()]
        return [trained_on, *(d for d in tests if d != trained_on)]

    def covers(self, distribution: str, dims: Dims) -> bool:
        """Whether ``distribution`` can draw problems of size ``dims`` (every size, unless an operation says)."""
        return True

    def check_distribution(self, distribution: str) -> str:
        distribution = distribution or self.distributions[0]
        if distribution not in self.all_distributions():
            raise ValueError(f"{self.name}: unknown distribution {distribution!r}; "
                             f"choose from {', '.join(self.all_distributions())}")
        return distribution


# ---------------------------------------------------------------------- shared helpers


def uniform(batch: int, rows: int, cols: int, gen: torch.Generator, scale: float = COEFF) -> torch.Tensor:
    """Uniform matrices on [-scale, scale], rounded to three significant digits."""
    x = torch.rand(batch, rows, cols, generator=gen, dtype=torch.float64).mul_(2 * scale).sub_(scale)
    return round_sig3(x)


def typed(operands: list[torch.Tensor], gen: torch.Generator) -> list[torch.Tensor]:
    """Operands as people type them, made from uniform ones entry by entry (a symmetric matrix stays
    symmetric): whole numbers; entries below a cut-off drawn per problem from [0, COEFF / 2) become zero (up
    to half of them); in half of the problems every entry is non-negative first."""
    batch = operands[0].shape[0]
    cut = torch.rand(batch, 1, 1, generator=gen, dtype=torch.float64) * (COEFF / 2)
    non_negative = torch.rand(batch, 1, 1, generator=gen) < 0.5
    out = []
    for x in operands:
        x = torch.where(non_negative, x.abs(), x)
        out.append(torch.where(x.abs() < cut, 0.0, x.round()))
    return out


def log_uniform(shape: tuple[int, ...], low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    """float64 numbers whose logarithm is uniform between those of ``low`` and ``high``."""
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    return low * (high / low) ** u


def random_signs(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """float64 ±1, each with probability one half."""
    return torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)


def cancelling(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator, share: float = 0.5) -> torch.Tensor:
    """``a`` [B, m, k] with about ``share`` of its rows changed in one entry so that the row's dot product
    with a random column of ``b`` [B, k, n] nearly cancels: the answer's magnitude becomes about ρ · Σ|a_iq b_qj|
    with ρ log-uniform on [1e-3, 1e-1] (rounding the new entry to three digits moves it a little). The entry
    changed is the one the largest partner multiplies, so that the change needed is smallest. Uniform
    rows cancel that much only a few times in a hundred, yet such answers are where a model's misses
    concentrate: they need its arithmetic precise to a thousandth of the terms. A row is left as it was
    where the entry needed falls outside [−COEFF, COEFF], and every row when k = 1 (nothing to cancel)."""
    batch, m, k = a.shape
    if k == 1:
        return a
    col = torch.randint(b.shape[2], (batch, m), generator=gen)
    column_of_row = b.gather(2, col[:, None, :].expand(batch, k, m)).transpose(1, 2)  # [B, m, k]: b_q,col(i)
    at = column_of_row.abs().argmax(2)  # the entry to change: the one its largest partner multiplies
    terms = a * column_of_row
    ratio = log_uniform((batch, m), 1e-3, 1e-1, gen)
    sign = random_signs((batch, m), gen)
    changed_term = terms.gather(2, at[..., None])[..., 0]
    others = terms.sum(2) - changed_term
    # Σ|terms| once the entry has changed: the new term is about −others.
    target = sign * ratio * (terms.abs().sum(2) - changed_term.abs() + others.abs())
    pivot = column_of_row.gather(2, at[..., None])[..., 0]
    entry = round_sig3((target - others) / torch.where(pivot == 0, 1.0, pivot))
    chosen = torch.rand(batch, m, generator=gen) < share
    change = chosen & (pivot != 0) & (entry.abs() <= COEFF)
    out = a.clone()
    problem, row = change.nonzero(as_tuple=True)
    out[problem, row, at[problem, row]] = entry[problem, row]
    return out


def relative_l1(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Σ|P − T| / Σ|T| per example (the paper's metric for most operations)."""
    num = (predicted - true).abs().flatten(1).sum(1)
    den = true.abs().flatten(1).sum(1)
    return torch.where(den > 0, num / den.clamp(min=1e-300), torch.where(num > 0, math.inf, 0.0))


def wigner(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Symmetric matrices tril(M) + tril(M, −1)ᵀ with M uniform (semicircle eigenvalues)."""
    m = torch.rand(batch, n, n, generator=gen, dtype=torch.float64).mul_(2 * COEFF).sub_(COEFF)
    lower = torch.tril(m)
    return round_sig3(lower + torch.tril(m, -1).transpose(1, 2))


EIGEN_DISTRIBUTIONS = ("wigner", "uniform", "gaussian", "laplace", "positive", "positive2", "marcenko")


def symmetric(batch: int, n: int, gen: torch.Generator, distribution: str) -> torch.Tensor:
    """Symmetric matrices with Wigner eigenvectors and eigenvalues from a named family."""
    if distribution == "wigner":
        return wigner(batch, n, gen)
    if distribution == "marcenko":
        m = torch.rand(batch, n, n, generator=gen, dtype=torch.float64).mul_(2 * math.sqrt(10)).sub_(math.sqrt(10))
        a = m.transpose(1, 2) @ m
        return round_sig3((a + a.transpose(1, 2)) / 2)
    base_values, vectors = torch.linalg.eigh(wigner(batch, n, gen))
    sigma = math.sqrt(n) * COEFF / math.sqrt(3)
    shape = (batch, n)
    if distribution == "uniform":
        values = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * math.sqrt(3) * sigma
    elif distribution == "gaussian":
        values = torch.randn(shape, generator=gen, dtype=torch.float64) * sigma
    elif distribution in ("laplace", "positive2"):
        u = torch.rand(shape, generator=gen, dtype=torch.float64).clamp(1e-12, 1 - 1e-12) - 0.5
        values = -(sigma / math.sqrt(2)) * torch.sign(u) * torch.log1p(-2 * u.abs())
        if distribution == "positive2":
            values = values.abs()
    elif distribution == "positive":
        values = base_values.abs()
    else:
        raise ValueError(f"unknown eigenvalue distribution {distribution!r}")
    a = vectors @ torch.diag_embed(values) @ vectors.transpose(1, 2)
    return round_sig3((a + a.transpose(1, 2)) / 2)


class SymmetricOperation(Operation):
    """An operation on one symmetric matrix (the eigen operations): Wigner or out-of-distribution inputs."""

    distributions = EIGEN_DISTRIBUTIONS
    test_distributions = EIGEN_DISTRIBUTIONS
    square_only = True
    symmetric_only = True

    def operand_shapes(self, dims: Dims) -> list[Shape]:
        return [(dims[0], dims[0])]

    def draw(self, batch: int, dims: Dims, gen: torch.Generator, distribution: str) -> Problems:
        return Problems([symmetric(batch, dims[0], gen, distribution)])


def canonical_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Flip each column so that its largest-magnitude component is positive; returns the ±1 per column."""
    index = vectors.abs().argmax(dim=-2, keepdim=True)
    sign = torch.sign(torch.gather(vectors, -2, index))
    return torch.where(sign == 0, torch.ones_like(sign), sign)


def orthonormality_error(vectors: torch.Tensor) -> torch.Tensor:
    """Σ|VᵀV − I| / k for the k columns of V, [B]: zero exactly when the columns are orthonormal."""
    k = vectors.shape[-1]
    gram = vectors.transpose(1, 2) @ vectors
    return (gram - torch.eye(k, dtype=vectors.dtype)).abs().flatten(1).sum(1) / k


def column(v: torch.Tensor) -> torch.Tensor:
    """[B, n] → [B, n, 1]."""
    return v.unsqueeze(-1)
