"""Sequence layouts for problems and answers.

Every layout turns operands and answers into integer tensors of *fields*: a position of a sequence is a
small vector of integers whose embeddings the model sums. Two families:

* :class:`TokenCodec` — the paper's layouts. One field holds a token (P10, P1000, B1999 or FP15 numbers,
  two dimension tokens per matrix, separators) and one its position. Input and output formats may differ
  (``"FP15/P1000"``).
* :class:`EntryCodec` — our layout, ``"entry"``: one position per matrix entry, with sign, mantissa and
  exponent as three fields and row, column and operand as three more; the decoder predicts sign, exponent
  and mantissa with separate heads.

Output fields are what the decoder predicts; *slot* fields describe the position being predicted and are
known before decoding (the position index, or row/column/part of the answer entry).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from lawt.numbers import Decomposed, EncodingRangeError, compose, decompose

Shape = tuple[int, int]
MAX_DIM = 10
IGNORE = -100


@dataclass(frozen=True)
class DecodedAnswer:
    """Answer parts as float64 tensors [B, r, c]; ``valid`` marks outputs that decoded to the right shape."""

    parts: list[torch.Tensor]
    valid: torch.Tensor
    not_invertible: torch.Tensor


@dataclass(frozen=True)
class Encoded:
    """An encoded batch: encoder input, decoder input and decoder targets."""

    src: torch.Tensor  # [B, S, source fields]
    src_mask: torch.Tensor | None  # [B, S], True where real; None when nothing is padded
    tgt_in: torch.Tensor  # [B, T, output fields + slot fields]
    tgt_out: torch.Tensor  # [B, T, output fields], IGNORE where padded


class Codec(ABC):
    """Maps problems to field tensors and model outputs back to numbers."""

    name: str
    src_fields: list[int]  # vocabulary size of each encoder input field
    out_fields: list[int]  # vocabulary size of each predicted field, in prediction order
    slot_fields: list[int]  # vocabulary size of each slot field

    @property
    def bos(self) -> list[int]:
        """Decoder-input value standing for "no previous output" in each output field."""
        return list(self.out_fields)

    @property
    def tgt_fields(self) -> list[int]:
        """Vocabulary sizes of the decoder input fields: previous outputs (plus BOS) then slots."""
        return [v + 1 for v in self.out_fields] + list(self.slot_fields)

    @abstractmethod
    def encode_operands(self, operands: list[torch.Tensor]) -> torch.Tensor:
        """Operands [B, r, c] (one shape per operand) → encoder input [B, S, source fields]."""

    @abstractmethod
    def encode_answer(self, parts: list[torch.Tensor], singular: torch.Tensor | None) -> torch.Tensor:
        """Answer parts [B, r, c] → target fields [B, T, output fields] (IGNORE-padded for singular rows)."""

    @abstractmethod
    def slots(self, part_shapes: list[Shape], batch: int) -> torch.Tensor:
        """Slot fields [B, T, slot fields] for an answer of the given part shapes."""

    @abstractmethod
    def decode(self, out: torch.Tensor, part_shapes: list[Shape]) -> DecodedAnswer:
        """Predicted fields [B, T, output fields] → numbers, with a validity mask."""

    @abstractmethod
    def is_end(self, step: torch.Tensor) -> torch.Tensor:
        """Whether a predicted step [B, output fields] ends its sequence."""

    @abstractmethod
    def describe(self, out: torch.Tensor) -> list[str]:
        """Human-readable tokens of one predicted sequence [T, output fields]."""

    def encode(self, operands: list[torch.Tensor], parts: list[torch.Tensor],
               singular: torch.Tensor | None = None) -> Encoded:
        """Encode one same-shape group of problems for teacher-forced training."""
        src = self.encode_operands(operands)
        out = self.encode_answer(parts, singular)
        batch, length = out.shape[:2]
        slots = self.slots([tuple(p.shape[1:]) for p in parts], batch)[:, :length]
        previous = torch.tensor(self.bos, dtype=torch.long).expand(batch, 1, len(self.bos))
        shifted = torch.cat([previous, out[:, :-1].clamp(min=0)], dim=1)
        return Encoded(src=src, src_mask=None, tgt_in=torch.cat([shifted, slots], dim=2), tgt_out=out)


def collate(groups: list[Encoded]) -> Encoded:
    """Pad and concatenate encoded groups of different shapes into one batch."""
    if len(groups) == 1:
        return groups[0]
    src_len = max(g.src.shape[1] for g in groups)
    tgt_len = max(g.tgt_out.shape[1] for g in groups)

    def pad(t: torch.Tensor, length: int, value: int) -> torch.Tensor:
        return torch.nn.functional.pad(t, (0, 0, 0, length - t.shape[1]), value=value)

    masks = [
        torch.arange(src_len).expand(g.src.shape[0], src_len) < g.src.shape[1] for g in groups
    ]
    padded = any(g.src.shape[1] != src_len for g in groups)
    return Encoded(
        src=torch.cat([pad(g.src, src_len, 0) for g in groups]),
        src_mask=torch.cat(masks) if padded else None,
        tgt_in=torch.cat([pad(g.tgt_in, tgt_len, 0) for g in groups]),
        tgt_out=torch.cat([pad(g.tgt_out, tgt_len, IGNORE) for g in groups]),
    )


# --------------------------------------------------------------------------- token layouts (the paper's)

PAD, BOS, EOS, SEP, NOT_INVERTIBLE = range(5)
SPECIAL_NAMES = ["<pad>", "<bos>", "<eos>", "<sep>", "<not-invertible>"]
DIM_OFFSET = len(SPECIAL_NAMES)  # tokens D1..D10
NUMBER_OFFSET = DIM_OFFSET + MAX_DIM


class NumberFormat(ABC):
    """How one number becomes a fixed number of tokens (offsets relative to the number vocabulary)."""

    name: str
    tokens_per_number: int
    vocab_size: int
    min_exponent: int
    max_exponent: int

    def split(self, x: torch.Tensor) -> Decomposed:
        return decompose(x, self.min_exponent, self.max_exponent, self.name)

    @abstractmethod
    def to_tokens(self, d: Decomposed) -> torch.Tensor:
        """Decomposed numbers [...] → tokens [..., tokens_per_number] in 0..vocab_size-1."""

    @abstractmethod
    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens [..., tokens_per_number] → (values, valid) for any token values."""

    @abstractmethod
    def token_name(self, token: int) -> str:
        """Printable name of a number token."""


EXP_RANGE = (-100, 100)


class P10(NumberFormat):
    """Sign, three decimal digits, exponent: ``+ 3 1 4 E-2``."""

    name = "P10"
    tokens_per_number = 5
    min_exponent, max_exponent = EXP_RANGE
    n_exp = EXP_RANGE[1] - EXP_RANGE[0] + 1
    vocab_size = 2 + 10 + n_exp

    def to_tokens(self, d: Decomposed) -> torch.Tensor:
        m = d.mantissa
        digits = torch.stack([m // 100, (m // 10) % 10, m % 10], dim=-1) + 2
        exp = (d.exponent - self.min_exponent + 12).unsqueeze(-1)
        return torch.cat([d.sign.unsqueeze(-1), digits, exp], dim=-1)

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sign, d1, d2, d3, exp = t.unbind(-1)
        valid = (sign < 2) & (d1 >= 2) & (d1 < 12) & (d2 >= 2) & (d2 < 12) & (d3 >= 2) & (d3 < 12) & (exp >= 12)
        mantissa = (d1 - 2) * 100 + (d2 - 2) * 10 + (d3 - 2)
        return compose(sign.clamp(0, 1), mantissa, exp - 12 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        if token < 2:
            return "+-"[token]
        return str(token - 2) if token < 12 else f"E{token - 12 + self.min_exponent}"


class P1000(NumberFormat):
    """Sign, mantissa 0..999, exponent: ``+ 314 E-2``."""

    name = "P1000"
    tokens_per_number = 3
    min_exponent, max_exponent = EXP_RANGE
    n_exp = EXP_RANGE[1] - EXP_RANGE[0] + 1
    vocab_size = 2 + 1000 + n_exp

    def to_tokens(self, d: Decomposed) -> torch.Tensor:
        return torch.stack([d.sign, d.mantissa + 2, d.exponent - self.min_exponent + 1002], dim=-1)

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sign, mant, exp = t.unbind(-1)
        valid = (sign < 2) & (mant >= 2) & (mant < 1002) & (exp >= 1002)
        return compose(sign.clamp(0, 1), mant - 2, exp - 1002 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        if token < 2:
            return "+-"[token]
        return str(token - 2) if token < 1002 else f"E{token - 1002 + self.min_exponent}"


class B1999(NumberFormat):
    """Signed mantissa −999..999, exponent: ``314 E-2``."""

    name = "B1999"
    tokens_per_number = 2
    min_exponent, max_exponent = EXP_RANGE
    n_exp = EXP_RANGE[1] - EXP_RANGE[0] + 1
    vocab_size = 1999 + n_exp

    def to_tokens(self, d: Decomposed) -> torch.Tensor:
        signed = torch.where(d.sign.bool(), -d.mantissa, d.mantissa)
        return torch.stack([signed + 999, d.exponent - self.min_exponent + 1999], dim=-1)

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mant, exp = t.unbind(-1)
        valid = (mant < 1999) & (exp >= 1999)
        signed = mant - 999
        return compose((signed < 0).long(), signed.abs(), exp - 1999 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        return str(token - 999) if token < 1999 else f"E{token - 1999 + self.min_exponent}"


class FP15(NumberFormat):
    """One token per number: sign, mantissa 100..999 and exponent −9..6 together (|x| < 1e9)."""

    name = "FP15"
    tokens_per_number = 1
    min_exponent, max_exponent = -9, 6
    n_exp = 16
    vocab_size = 1 + 2 * 900 * 16  # token 0 is zero

    def to_tokens(self, d: Decomposed) -> torch.Tensor:
        code = 1 + d.sign * (900 * 16) + (d.mantissa - 100) * 16 + (d.exponent - self.min_exponent)
        return torch.where(d.mantissa == 0, 0, code).unsqueeze(-1)

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = t.squeeze(-1)
        valid = code < self.vocab_size
        rest = (code - 1).clamp(min=0)
        sign, rest = rest // (900 * 16), rest % (900 * 16)
        mantissa, exponent = rest // 16 + 100, rest % 16 + self.min_exponent
        value = compose(sign.clamp(0, 1), mantissa, exponent)
        return torch.where(code == 0, 0.0, value), valid

    def token_name(self, token: int) -> str:
        if token == 0:
            return "0"
        rest = token - 1
        sign, rest = rest // (900 * 16), rest % (900 * 16)
        return f"{'+-'[sign]}{rest // 16 + 100}E{rest % 16 + self.min_exponent}"


NUMBER_FORMATS: dict[str, type[NumberFormat]] = {f.name: f for f in (P10, P1000, B1999, FP15)}


class TokenCodec(Codec):
    """The paper's layout: dimension tokens then the entries row by row; operands and parts split by SEP."""

    max_length = 1100

    def __init__(self, input_format: str, output_format: str) -> None:
        self.input = NUMBER_FORMATS[input_format]()
        self.output = NUMBER_FORMATS[output_format]()
        self.name = input_format if input_format == output_format else f"{input_format}/{output_format}"
        self.src_fields = [NUMBER_OFFSET + self.input.vocab_size, self.max_length]
        self.out_fields = [NUMBER_OFFSET + self.output.vocab_size]
        self.slot_fields = [self.max_length]

    def _matrix_tokens(self, fmt: NumberFormat, m: torch.Tensor) -> torch.Tensor:
        batch, rows, cols = m.shape
        numbers = fmt.to_tokens(fmt.split(m.reshape(batch, -1))).reshape(batch, -1) + NUMBER_OFFSET
        dims = torch.tensor([DIM_OFFSET + rows - 1, DIM_OFFSET + cols - 1]).expand(batch, 2)
        return torch.cat([dims, numbers], dim=1)

    def _join(self, fmt: NumberFormat, matrices: list[torch.Tensor]) -> torch.Tensor:
        batch = matrices[0].shape[0]
        sep = torch.full((batch, 1), SEP)
        pieces: list[torch.Tensor] = []
        for i, m in enumerate(matrices):
            if i:
                pieces.append(sep)
            pieces.append(self._matrix_tokens(fmt, m))
        return torch.cat(pieces, dim=1)

    def encode_operands(self, operands: list[torch.Tensor]) -> torch.Tensor:
        tokens = self._join(self.input, operands)
        positions = torch.arange(tokens.shape[1]).expand_as(tokens)
        return torch.stack([tokens, positions], dim=-1)

    def encode_answer(self, parts: list[torch.Tensor], singular: torch.Tensor | None) -> torch.Tensor:
        tokens = self._join(self.output, parts)
        tokens = torch.cat([tokens, torch.full((tokens.shape[0], 1), EOS)], dim=1)
        if singular is not None and bool(singular.any()):
            verdict = torch.full_like(tokens, IGNORE)
            verdict[:, 0], verdict[:, 1] = NOT_INVERTIBLE, EOS
            tokens = torch.where(singular.unsqueeze(1), verdict, tokens)
        return tokens.unsqueeze(-1)

    def answer_length(self, part_shapes: list[Shape]) -> int:
        """Tokens in a well-formed answer of these shapes, EOS included."""
        numbers = sum(r * c for r, c in part_shapes)
        return numbers * self.output.tokens_per_number + 2 * len(part_shapes) + len(part_shapes)

    def slots(self, part_shapes: list[Shape], batch: int) -> torch.Tensor:
        length = self.answer_length(part_shapes)
        return torch.arange(length).expand(batch, length).unsqueeze(-1)

    def is_end(self, step: torch.Tensor) -> torch.Tensor:
        return step[:, 0] == EOS

    def _template(self, part_shapes: list[Shape]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Expected fixed tokens (−1 where a number token goes) and the positions of each part's numbers."""
        expected: list[int] = []
        number_positions: list[torch.Tensor] = []
        k = self.output.tokens_per_number
        for i, (rows, cols) in enumerate(part_shapes):
            if i:
                expected.append(SEP)
            expected += [DIM_OFFSET + rows - 1, DIM_OFFSET + cols - 1]
            start = len(expected)
            expected += [-1] * (rows * cols * k)
            number_positions.append(torch.arange(start, start + rows * cols * k))
        expected.append(EOS)
        return torch.tensor(expected), number_positions

    def decode(self, out: torch.Tensor, part_shapes: list[Shape]) -> DecodedAnswer:
        tokens = out[..., 0]
        batch = tokens.shape[0]
        template, positions = self._template(part_shapes)
        length = template.numel()
        if tokens.shape[1] < length:
            tokens = torch.nn.functional.pad(tokens, (0, length - tokens.shape[1]), value=PAD)
        head = tokens[:, :length]
        fixed = template >= 0
        valid = ((head == template) | ~fixed).all(dim=1)
        not_invertible = (tokens[:, 0] == NOT_INVERTIBLE) & (tokens[:, 1] == EOS)
        parts = []
        for (rows, cols), pos in zip(part_shapes, positions, strict=True):
            number_tokens = (head[:, pos] - NUMBER_OFFSET).reshape(batch, rows * cols, -1)
            in_range = (number_tokens >= 0) & (number_tokens < self.output.vocab_size)
            values, ok = self.output.from_tokens(number_tokens.clamp(min=0))
            valid &= (ok & in_range.all(-1)).all(dim=1)
            parts.append(values.reshape(batch, rows, cols))
        return DecodedAnswer(parts=parts, valid=valid & ~not_invertible, not_invertible=not_invertible)

    def describe(self, out: torch.Tensor) -> list[str]:
        names = []
        for token in out[:, 0].tolist():
            if token < DIM_OFFSET:
                names.append(SPECIAL_NAMES[token] if token >= 0 else "<?>")
            elif token < NUMBER_OFFSET:
                names.append(f"D{token - DIM_OFFSET + 1}")
            elif token - NUMBER_OFFSET < self.output.vocab_size:
                names.append(self.output.token_name(token - NUMBER_OFFSET))
            else:
                names.append("<?>")
            if token == EOS:
                break
        return names


# --------------------------------------------------------------------------- entry layout (ours)

ENTRY_EXP_MIN, ENTRY_EXP_MAX = EXP_RANGE
ENTRY_N_EXP = ENTRY_EXP_MAX - ENTRY_EXP_MIN + 1
ENTRY_NOT_INVERTIBLE = ENTRY_N_EXP  # an extra exponent class: "this matrix has no inverse"
MAX_PARTS = 4


class EntryCodec(Codec):
    """One position per matrix entry: number fields plus row, column and operand/part fields.

    The mantissa is either three digit fields (``"entry"``) or one field of 1000 values (``"entry-m1000"``).
    The decoder predicts sign, then exponent, then the mantissa field(s) at each entry, each head seeing the
    choices before it, so a number is one decoding step instead of one to five.
    """

    def __init__(self, digits: bool = True) -> None:
        self.digits = digits
        self.name = "entry" if digits else "entry-m1000"
        mantissa = [10, 10, 10] if digits else [1000]
        self.src_fields = [2, *mantissa, ENTRY_N_EXP, MAX_DIM, MAX_DIM, MAX_PARTS]
        self.out_fields = [2, ENTRY_N_EXP + 1, *mantissa]  # sign, exponent (+ not-invertible), mantissa
        self.slot_fields = [MAX_DIM, MAX_DIM, MAX_PARTS]

    @staticmethod
    def _grid(shapes: list[Shape], batch: int) -> torch.Tensor:
        """Row, column and part index of every entry of the given matrices, [B, N, 3]."""
        grids = []
        for part, (rows, cols) in enumerate(shapes):
            r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
            grids.append(torch.stack([r.reshape(-1), c.reshape(-1), torch.full((rows * cols,), part)], dim=-1))
        return torch.cat(grids).expand(batch, -1, -1)

    def _mantissa_fields(self, mantissa: torch.Tensor) -> list[torch.Tensor]:
        if self.digits:
            return [mantissa // 100, (mantissa // 10) % 10, mantissa % 10]
        return [mantissa]

    def _numbers(self, matrices: list[torch.Tensor], output: bool) -> torch.Tensor:
        flat = torch.cat([m.reshape(m.shape[0], -1) for m in matrices], dim=1)
        d = decompose(flat, ENTRY_EXP_MIN, ENTRY_EXP_MAX, "entry")
        exponent = d.exponent - ENTRY_EXP_MIN
        mantissa = self._mantissa_fields(d.mantissa)
        fields = [d.sign, exponent, *mantissa] if output else [d.sign, *mantissa, exponent]
        return torch.stack(fields, dim=-1)

    def encode_operands(self, operands: list[torch.Tensor]) -> torch.Tensor:
        numbers = self._numbers(operands, output=False)
        grid = self._grid([tuple(o.shape[1:]) for o in operands], numbers.shape[0])
        return torch.cat([numbers, grid], dim=-1)

    def encode_answer(self, parts: list[torch.Tensor], singular: torch.Tensor | None) -> torch.Tensor:
        out = self._numbers(parts, output=True)
        if singular is not None and bool(singular.any()):
            verdict = torch.full_like(out, IGNORE)
            verdict[:, 0] = 0
            verdict[:, 0, 1] = ENTRY_NOT_INVERTIBLE
            out = torch.where(singular[:, None, None], verdict, out)
        return out

    def slots(self, part_shapes: list[Shape], batch: int) -> torch.Tensor:
        return self._grid(part_shapes, batch)

    def is_end(self, step: torch.Tensor) -> torch.Tensor:
        return step[:, 1] == ENTRY_NOT_INVERTIBLE

    def _mantissa(self, fields: torch.Tensor) -> torch.Tensor:
        """Mantissa from the predicted mantissa fields [..., 3 or 1]."""
        if self.digits:
            return fields[..., 0] * 100 + fields[..., 1] * 10 + fields[..., 2]
        return fields[..., 0]

    def decode(self, out: torch.Tensor, part_shapes: list[Shape]) -> DecodedAnswer:
        batch = out.shape[0]
        needed = sum(r * c for r, c in part_shapes)
        not_invertible = out[:, 0, 1] == ENTRY_NOT_INVERTIBLE
        body = out[:, :needed]
        sign, exponent = body[..., 0], body[..., 1]
        valid = (exponent < ENTRY_N_EXP).all(dim=1) & (out.shape[1] >= needed) & ~not_invertible
        values = compose(sign, self._mantissa(body[..., 2:]), exponent.clamp(max=ENTRY_N_EXP - 1) + ENTRY_EXP_MIN)
        parts, start = [], 0
        for rows, cols in part_shapes:
            parts.append(values[:, start:start + rows * cols].reshape(batch, rows, cols))
            start += rows * cols
        return DecodedAnswer(parts=parts, valid=valid, not_invertible=not_invertible)

    def describe(self, out: torch.Tensor) -> list[str]:
        names = []
        for row in out.tolist():
            sign, exponent = row[0], row[1]
            if exponent == ENTRY_NOT_INVERTIBLE:
                names.append("<not-invertible>")
                break
            mantissa = int(self._mantissa(torch.tensor(row[2:])))
            names.append(f"{'+-'[sign]}{mantissa}E{exponent + ENTRY_EXP_MIN}")
        return names


ENCODINGS = ("P10", "P1000", "B1999", "FP15", "entry", "entry-m1000")


def make_codec(name: str) -> Codec:
    """``"entry"`` or ``"entry-m1000"``, a number format (``"P1000"``) or input/output formats (``"FP15/P1000"``)."""
    if name in ("entry", "entry-m1000"):
        return EntryCodec(digits=name == "entry")
    input_format, _, output_format = name.partition("/")
    output_format = output_format or input_format
    for fmt in (input_format, output_format):
        if fmt not in NUMBER_FORMATS:
            raise ValueError(f"unknown encoding {fmt!r}; choose from {', '.join(ENCODINGS)} or IN/OUT")
    return TokenCodec(input_format, output_format)


__all__ = ["ENCODINGS", "Codec", "DecodedAnswer", "Encoded", "EncodingRangeError", "collate", "make_codec"]
