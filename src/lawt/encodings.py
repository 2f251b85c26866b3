"""Sequence layouts for problems and answers.

Every layout turns operands and answers into integer tensors of *fields*: a position of a sequence is a
small vector of integers whose embeddings the model sums. Two families:

* :class:`TokenCodec` — the paper's layouts. One field holds a token (P10, P1000, B1999 or FP15 numbers,
  two dimension tokens per matrix, separators) and one its position. Input and output formats may differ
  (``"FP15/P1000"``).
* :class:`EntryCodec` — our layout, ``"entry"``: one position per matrix entry, with sign, mantissa and
  exponent as three fields and row, column and operand as three more; the decoder predicts sign, exponent
  and mantissa with separate heads. ``"entry-upper"`` reads a symmetric matrix by its upper triangle only.

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


SIGN_MANTISSA = torch.arange(2000)  # index of each (sign, mantissa) pair: sign * 1000 + mantissa
SIGNS, MANTISSAS = SIGN_MANTISSA // 1000, SIGN_MANTISSA % 1000
DIGITS = [MANTISSAS // 100, MANTISSAS // 10 % 10, MANTISSAS % 10]


def number_table(columns: list[torch.Tensor | int]) -> torch.Tensor:
    """A lookup table [2000, fields]: the fields of a number given its (sign, mantissa) index, with each
    column a tensor over the 2000 pairs (or a constant, e.g. 0 where the exponent goes)."""
    return stack_last([c if isinstance(c, torch.Tensor) else torch.full((2000,), c) for c in columns])


def number_fields(d: Decomposed, table: torch.Tensor, exponent_field: int, exponent_offset: int) -> torch.Tensor:
    """The fields of each number [..., fields]: its row of ``table`` (see :func:`number_table`), plus the
    exponent (``exponent + exponent_offset``) added in its field. A gather and one column update, instead
    of digit arithmetic over every field."""
    index = d.sign * 1000 + d.mantissa
    out = torch.index_select(table, 0, index.view(-1)).view(*index.shape, table.shape[1])
    out[..., exponent_field] += d.exponent + exponent_offset
    return out


def repeat_rows(row: torch.Tensor, batch: int) -> torch.Tensor:
    """``batch`` copies of ``row`` [1, ...] as one new tensor; a plain copy into fresh memory, several times
    faster on CPU than cloning an expanded view."""
    return torch.empty(batch, *row.shape[1:], dtype=row.dtype).copy_(row)


def stack_last(columns: list[torch.Tensor | int]) -> torch.Tensor:
    """Stack integer tensors (or scalars) along a new last dimension, broadcasting them.

    Much faster than ``torch.stack(..., dim=-1)`` on CPU, which copies with a stride of one column.
    """
    shape = torch.broadcast_shapes(*(c.shape for c in columns if isinstance(c, torch.Tensor)))
    out = torch.empty(*shape, len(columns), dtype=torch.long)
    for i, column in enumerate(columns):
        out[..., i] = column
    return out


class Codec(ABC):
    """Maps problems to field tensors and model outputs back to numbers."""

    name: str
    src_fields: list[int]  # vocabulary size of each encoder input field
    out_fields: list[int]  # vocabulary size of each predicted field, in prediction order
    slot_fields: list[int]  # vocabulary size of each slot field
    # (source indices, target indices, smallest exponent) of the number fields sign, exponent, mantissa…;
    # None when positions are tokens rather than numbers
    number_fields: tuple[list[int], list[int], int] | None = None
    # True when the last three source fields and the last three slot fields are (row, column, part)
    grid: bool = False
    # True when the input holds only the upper triangle of one symmetric matrix
    upper_triangle: bool = False

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

    def input_entries(self, shapes: list[Shape]) -> int:
        """How many of the entries of operands of these shapes the input holds."""
        return sum(r * c for r, c in shapes)

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
        batch, length, n_out = out.shape
        slots = self.slots([tuple(p.shape[1:]) for p in parts], 1)[:, :length]
        # One row holds what every problem of the group shares (BOS, slots); copying it whole is fast,
        # while writing single columns across the batch is not.
        row = torch.zeros(1, length, n_out + slots.shape[2], dtype=torch.long)
        row[0, 0, :n_out] = torch.tensor(self.bos)
        row[:, :, n_out:] = slots
        tgt_in = repeat_rows(row, batch)
        tgt_in[:, 1:, :n_out] = out[:, :-1]
        if singular is not None:  # IGNORE-padded verdicts: feed zeros, the loss skips those positions
            tgt_in[:, 1:, :n_out].clamp_(min=0)
        return Encoded(src=src, src_mask=None, tgt_in=tgt_in, tgt_out=out)


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


EXP_RANGE = (-100, 100)
N_EXP = EXP_RANGE[1] - EXP_RANGE[0] + 1  # exponent tokens E-100..E100


class NumberFormat(ABC):
    """How one number becomes a fixed number of tokens (offsets relative to the number vocabulary).

    P10, P1000 and B1999 share the paper's exponent range E-100..E100; FP15 narrows it.
    """

    name: str
    tokens_per_number: int
    vocab_size: int
    min_exponent, max_exponent = EXP_RANGE

    def exponent_name(self, token: int, first: int) -> str:
        """Name of an exponent token, the exponent tokens starting at ``first``."""
        return f"E{token - first + self.min_exponent}"

    def split(self, x: torch.Tensor) -> Decomposed:
        return decompose(x, self.min_exponent, self.max_exponent, self.name)

    @abstractmethod
    def to_tokens(self, d: Decomposed, shift: int = 0) -> torch.Tensor:
        """Decomposed numbers [...] → tokens [..., tokens_per_number] in shift..shift+vocab_size-1."""

    @abstractmethod
    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens [..., tokens_per_number] → (values, valid) for any token values."""

    @abstractmethod
    def token_name(self, token: int) -> str:
        """Printable name of a number token."""




class TableFormat(NumberFormat):
    """A format whose tokens are those of (sign, mantissa), then the exponent: encoded by table lookup."""

    exponent_first: int  # token of the smallest exponent

    @abstractmethod
    def head_columns(self) -> list[torch.Tensor]:
        """Tokens before the exponent, each a tensor over the 2000 (sign, mantissa) pairs."""

    def to_tokens(self, d: Decomposed, shift: int = 0) -> torch.Tensor:
        return number_fields(d, self._table(shift), self.tokens_per_number - 1,
                             shift + self.exponent_first - self.min_exponent)

    def _table(self, shift: int) -> torch.Tensor:
        tables = self.__dict__.setdefault("_tables", {})
        if shift not in tables:
            tables[shift] = number_table([*(column + shift for column in self.head_columns()), 0])
        return tables[shift]


class P10(TableFormat):
    """Sign, three decimal digits, exponent: ``+ 3 1 4 E-2``."""

    name = "P10"
    tokens_per_number = 5
    vocab_size = 2 + 10 + N_EXP
    exponent_first = 12

    def head_columns(self) -> list[torch.Tensor]:
        return [SIGNS, *(digit + 2 for digit in DIGITS)]

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sign, d1, d2, d3, exp = t.unbind(-1)
        valid = (sign < 2) & (d1 >= 2) & (d1 < 12) & (d2 >= 2) & (d2 < 12) & (d3 >= 2) & (d3 < 12) & (exp >= 12)
        mantissa = (d1 - 2) * 100 + (d2 - 2) * 10 + (d3 - 2)
        return compose(sign.clamp(0, 1), mantissa, exp - 12 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        if token < 2:
            return "+-"[token]
        return str(token - 2) if token < 12 else self.exponent_name(token, 12)


class P1000(TableFormat):
    """Sign, mantissa 0..999, exponent: ``+ 314 E-2``."""

    name = "P1000"
    tokens_per_number = 3
    vocab_size = 2 + 1000 + N_EXP
    exponent_first = 1002

    def head_columns(self) -> list[torch.Tensor]:
        return [SIGNS, MANTISSAS + 2]

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sign, mant, exp = t.unbind(-1)
        valid = (sign < 2) & (mant >= 2) & (mant < 1002) & (exp >= 1002)
        return compose(sign.clamp(0, 1), mant - 2, exp - 1002 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        if token < 2:
            return "+-"[token]
        return str(token - 2) if token < 1002 else self.exponent_name(token, 1002)


class B1999(TableFormat):
    """Signed mantissa −999..999, exponent: ``314 E-2``."""

    name = "B1999"
    tokens_per_number = 2
    vocab_size = 1999 + N_EXP
    exponent_first = 1999

    def head_columns(self) -> list[torch.Tensor]:
        return [torch.where(SIGNS.bool(), -MANTISSAS, MANTISSAS) + 999]

    def from_tokens(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mant, exp = t.unbind(-1)
        valid = (mant < 1999) & (exp >= 1999)
        signed = mant - 999
        return compose((signed < 0).long(), signed.abs(), exp - 1999 + self.min_exponent), valid

    def token_name(self, token: int) -> str:
        return str(token - 999) if token < 1999 else self.exponent_name(token, 1999)


class FP15(NumberFormat):
    """One token per number: sign, mantissa 100..999 and exponent −9..6 together (|x| < 1e9)."""

    name = "FP15"
    tokens_per_number = 1
    min_exponent, max_exponent = -9, 6
    vocab_size = 1 + 2 * 900 * 16  # token 0 is zero

    def to_tokens(self, d: Decomposed, shift: int = 0) -> torch.Tensor:
        code = 1 + d.sign * (900 * 16) + (d.mantissa - 100) * 16 + (d.exponent - self.min_exponent)
        return torch.where(d.mantissa == 0, 0, code).unsqueeze(-1) + shift

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

    @staticmethod
    def _sequence(fmt: NumberFormat, matrices: list[torch.Tensor], eos: bool, positions: bool) -> torch.Tensor:
        """Tokens [B, L] (with ``positions``: [B, L, 2], token and position): for each matrix its two
        dimension tokens and entries, SEP between matrices.

        The fixed tokens (and positions) are one template row copied per problem; the numbers are then
        written into it block by block.
        """
        batch, k = matrices[0].shape[0], fmt.tokens_per_number
        row: list[int] = []  # the fixed tokens, with placeholders where numbers go
        blocks: list[tuple[int, torch.Tensor]] = []
        for i, m in enumerate(matrices):
            row += [SEP] if i else []
            rows, cols = m.shape[1:]
            row += [DIM_OFFSET + rows - 1, DIM_OFFSET + cols - 1]
            blocks.append((len(row), m))
            row += [PAD] * (rows * cols * k)
        row += [EOS] if eos else []
        template = torch.tensor(row)
        if positions:
            template = stack_last([template, torch.arange(len(row))])
        out = repeat_rows(template.unsqueeze(0), batch)
        tokens = out[..., 0] if positions else out
        for start, m in blocks:
            n = m.shape[1] * m.shape[2]
            numbers = fmt.to_tokens(fmt.split(m.reshape(batch, n)), shift=NUMBER_OFFSET)
            tokens[:, start:start + n * k].view(batch, n, k).copy_(numbers)
        return out

    def encode_operands(self, operands: list[torch.Tensor]) -> torch.Tensor:
        return self._sequence(self.input, operands, eos=False, positions=True)

    def encode_answer(self, parts: list[torch.Tensor], singular: torch.Tensor | None) -> torch.Tensor:
        tokens = self._sequence(self.output, parts, eos=True, positions=False)
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
    choices before it, so a number is one decoding step instead of one to five. With ``upper_triangle``
    (``"entry-upper"``, three digits), the input is one symmetric matrix read by its entries (i, j) with
    i ≤ j: n(n+1)/2 positions instead of n², the same numbers, as the row and column fields place them.
    """

    def __init__(self, digits: bool = True, upper_triangle: bool = False) -> None:
        self.digits = digits
        self.upper_triangle = upper_triangle
        self.name = "entry-upper" if upper_triangle else "entry" if digits else "entry-m1000"
        mantissa = [10, 10, 10] if digits else [1000]
        self.src_fields = [2, *mantissa, ENTRY_N_EXP, MAX_DIM, MAX_DIM, MAX_PARTS]
        self.out_fields = [2, ENTRY_N_EXP + 1, *mantissa]  # sign, exponent (+ not-invertible), mantissa
        self.slot_fields = [MAX_DIM, MAX_DIM, MAX_PARTS]
        self.grid = True
        mantissa_fields = DIGITS if digits else [MANTISSAS]
        self._input_table = number_table([SIGNS, *mantissa_fields, 0])
        self._output_table = number_table([SIGNS, 0, *mantissa_fields])
        n_mantissa = len(mantissa)
        self.number_fields = ([0, 1 + n_mantissa, *range(1, 1 + n_mantissa)], [0, 1, *range(2, 2 + n_mantissa)],
                              ENTRY_EXP_MIN)

    @staticmethod
    def _grid(shapes: list[Shape], batch: int) -> torch.Tensor:
        """Row, column and part index of every entry of the given matrices, [B, N, 3]."""
        grids = []
        for part, (rows, cols) in enumerate(shapes):
            r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
            grids.append(stack_last([r.reshape(-1), c.reshape(-1), part]))
        return torch.cat(grids).expand(batch, -1, -1)

    def _numbers(self, matrices: list[torch.Tensor], output: bool) -> torch.Tensor:
        """Number fields [B, N, ·]: (sign, mantissa…, exponent) for inputs, (sign, exponent, mantissa…) for outputs."""
        flat = torch.cat([m.reshape(m.shape[0], -1) for m in matrices], dim=1)
        d = decompose(flat, ENTRY_EXP_MIN, ENTRY_EXP_MAX, "entry")
        table = self._output_table if output else self._input_table
        return number_fields(d, table, 1 if output else table.shape[1] - 1, -ENTRY_EXP_MIN)

    def encode_operands(self, operands: list[torch.Tensor]) -> torch.Tensor:
        shapes = [tuple(o.shape[1:]) for o in operands]
        numbers, grid = self._numbers(operands, output=False), self._grid(shapes, 1)
        if self.upper_triangle:
            if len(shapes) != 1 or shapes[0][0] != shapes[0][1]:
                raise ValueError(f"{self.name} reads one square matrix, not operands of shapes {shapes}")
            upper = grid[0, :, 0] <= grid[0, :, 1]
            numbers, grid = numbers[:, upper], grid[:, upper]
        batch, length, n_numbers = numbers.shape
        out = torch.empty(batch, length, n_numbers + 3, dtype=torch.long)
        out[..., :n_numbers] = numbers
        out[..., n_numbers:] = grid
        return out

    def input_entries(self, shapes: list[Shape]) -> int:
        if self.upper_triangle:
            return sum(r * (r + 1) // 2 for r, _ in shapes)
        return super().input_entries(shapes)

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
        complete = out.shape[1] >= needed  # decoding stops early when every problem answered "not invertible"
        body = torch.nn.functional.pad(out, (0, 0, 0, max(0, needed - out.shape[1])))[:, :needed]
        sign, exponent = body[..., 0], body[..., 1]
        valid = (exponent < ENTRY_N_EXP).all(dim=1) & complete & ~not_invertible
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
            mantissa = row[2] * 100 + row[3] * 10 + row[4] if self.digits else row[2]
            names.append(f"{'+-'[sign]}{mantissa}E{exponent + ENTRY_EXP_MIN}")
        return names


ENCODINGS = ("P10", "P1000", "B1999", "FP15", "entry", "entry-m1000", "entry-upper")


def make_codec(name: str) -> Codec:
    """``"entry"``, ``"entry-m1000"`` or ``"entry-upper"``, a number format (``"P1000"``) or input/output formats
    (``"FP15/P1000"``)."""
    if name in ("entry", "entry-m1000", "entry-upper"):
        return EntryCodec(digits=name != "entry-m1000", upper_triangle=name == "entry-upper")
    input_format, _, output_format = name.partition("/")
    output_format = output_format or input_format
    for fmt in (input_format, output_format):
        if fmt not in NUMBER_FORMATS:
            raise ValueError(f"unknown encoding {fmt!r}; choose from {', '.join(ENCODINGS)} or IN/OUT")
    return TokenCodec(input_format, output_format)


__all__ = ["ENCODINGS", "Codec", "DecodedAnswer", "Encoded", "EncodingRangeError", "collate", "make_codec"]
