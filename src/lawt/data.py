"""Batches of encoded problems for training: sizes, distribution, optional curriculum."""

from __future__ import annotations

import torch

from lawt.encodings import IGNORE, Codec, Encoded, collate
from lawt.ops import Operation
from lawt.ops.base import TYPED, Dims


def parse_sizes(op: Operation, spec: str) -> list[Dims]:
    """``"all"``, ``"1-5"`` (every size with dimensions up to 5, from 1) or labels ``"5x5,3x4"``."""
    spec = spec.strip()
    if spec == "all":
        return op.all_sizes()
    if "-" in spec and "x" not in spec:
        bounds = spec.split("-")
        if len(bounds) != 2 or not all(b.strip().isascii() and b.strip().isdigit() for b in bounds):
            raise ValueError(f"{op.name}: a range of sizes is written like 1-5, not {spec!r}")
        low, high = (int(b) for b in bounds)
        sizes = [d for d in op.all_sizes() if low <= max(d) <= high and min(d) >= 1]
    else:
        sizes = [op.parse_label(label.strip()) for label in spec.split(",") if label.strip()]
    if not sizes:
        raise ValueError(f"{op.name}: no sizes in {spec!r}")
    return sizes


def parse_focus(op: Operation, sizes: list[Dims], spec: str, share: float) -> list[Dims]:
    """The focus sizes of ``spec`` (none if empty); a ValueError unless they are among ``sizes`` and ``share`` is
    a fraction."""
    focus = parse_sizes(op, spec) if spec.strip() else []
    unknown = [op.label(d) for d in focus if d not in sizes]
    if unknown:
        raise ValueError(f"focus sizes not among the training sizes: {', '.join(unknown)}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"focus share must be between 0 and 1, not {share}")
    return focus


class BatchSampler:
    """Draws training batches: each batch holds ``groups`` sizes, each group one size, padded together.

    With ``batch_tokens``, a batch instead holds one size and as many problems as fit in that many
    matrix entries (operands plus answer), so small problems come in large batches and nothing is padded.
    With ``curriculum_steps``, the largest dimension allowed grows linearly from the smallest to the
    largest over that many steps. With ``focus_share``, that share of the sizes drawn come from ``focus``
    (the open ones among them), so sizes a model gets wrong can be trained more often. With ``typed_share``,
    that share of the groups are ``typed`` problems (whole numbers, zeros: what people type); with
    ``hard_share``, that share come from the operation's hard distribution (answers that nearly cancel). With
    ``scratch_only``, the loss sees only an operation's scratchpad: its answer and end are left out.
    """

    def __init__(self, op: Operation, codec: Codec, sizes: list[Dims], distribution: str = "",
                 groups: int = 4, seed: int = 0, curriculum_steps: int = 0, batch_tokens: int = 0) -> None:
        self.op, self.codec, self.sizes = op, codec, sizes
        self.distribution, self.groups, self.curriculum_steps = distribution, groups, curriculum_steps
        self.batch_tokens = batch_tokens
        self.gen = torch.Generator().manual_seed(seed)
        self.largest = torch.tensor([max(d) for d in sizes])
        self.focus: list[int] = []
        self.focus_share = 0.0
        self.typed_share = 0.0
        self.hard_share = 0.0
        self.scratch_only = False

    def set_focus(self, spec: str, share: float) -> None:
        """Draw ``share`` of the sizes from the sizes ``spec`` names (a subset), the rest from all of them."""
        focus = parse_focus(self.op, self.sizes, spec, share)
        self.focus, self.focus_share = [self.sizes.index(d) for d in focus], share if focus else 0.0

    def allowed(self, step: int) -> list[int]:
        """Indices of the sizes open at this step of the curriculum."""
        if not self.curriculum_steps or step >= self.curriculum_steps:
            return list(range(len(self.sizes)))
        low, high = int(self.largest.min()), int(self.largest.max())
        cap = low + (high - low) * step / self.curriculum_steps
        return [i for i, m in enumerate(self.largest.tolist()) if m <= max(cap, low)]

    def batch(self, batch_size: int, step: int = 0) -> Encoded:
        groups = 1 if self.batch_tokens else min(self.groups, batch_size)
        picks = self.pick(groups, step)
        counts = [batch_size // groups + (i < batch_size % groups) for i in range(groups)]
        if self.batch_tokens:
            counts = [self.fitting(self.sizes[picks[0]])]
        encoded = []
        for pick, count in zip(picks, counts, strict=True):
            dims = self.sizes[pick]
            problems = self.op.generate(count, dims, self.gen, self.group_distribution())
            parts = self.op.solve(problems.operands)
            if problems.singular is not None:
                parts = [torch.nan_to_num(p, nan=0.0) for p in parts]
            group = self.codec.encode(problems.operands, parts, problems.singular)
            if self.scratch_only:
                group.tgt_out[:, self.scratch_length(parts):] = IGNORE
            encoded.append(group)
        return collate(encoded)

    def group_distribution(self) -> str:
        """The distribution of the next group: ``typed`` for ``typed_share`` of them, the operation's hard one
        for ``hard_share`` (no random draw without either)."""
        if not (self.typed_share or self.hard_share):
            return self.distribution
        draw = torch.rand(1, generator=self.gen).item()
        if draw < self.typed_share:
            return TYPED
        if draw < self.typed_share + self.hard_share:
            return self.op.hard_distribution
        return self.distribution

    def pick(self, groups: int, step: int) -> list[int]:
        """Indices of the sizes of the next batch's groups."""
        allowed = self.allowed(step)
        picks = [allowed[i] for i in torch.randint(len(allowed), (groups,), generator=self.gen).tolist()]
        focus = [i for i in self.focus if i in allowed]
        if not (self.focus_share and focus):
            return picks
        focused = (torch.rand(groups, generator=self.gen) < self.focus_share).tolist()
        swaps = torch.randint(len(focus), (groups,), generator=self.gen).tolist()
        return [focus[j] if f else i for i, f, j in zip(picks, focused, swaps, strict=True)]

    def scratch_length(self, parts: list[torch.Tensor]) -> int:
        """Target positions the scratch parts take at the start of an answer: those of the scratch parts encoded
        alone, less their end."""
        scratch = self.op.scratch_of([p[:1] for p in parts])
        return self.codec.encode_answer(scratch, None).shape[1] - 1 if scratch else 0

    def fitting(self, dims: Dims) -> int:
        """Problems of this size that fit in ``batch_tokens`` entries (at least 4, at most 2048)."""
        answer = sum(r * c for r, c in self.op.answer_shapes(dims))
        entries = self.codec.input_entries(self.op.operand_shapes(dims)) + answer
        return max(4, min(2048, self.batch_tokens // entries))

    def state(self) -> torch.Tensor:
        return self.gen.get_state()

    def load_state(self, state: torch.Tensor) -> None:
        self.gen.set_state(state)
