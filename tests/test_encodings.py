"""Numbers on the three-significant-digit grid and the sequence layouts (P10, P1000, B1999, FP15, entry)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lawt.encodings import (
    DIM_OFFSET,
    ENCODINGS,
    ENTRY_EXP_MAX,
    ENTRY_EXP_MIN,
    ENTRY_NOT_INVERTIBLE,
    EOS,
    IGNORE,
    NOT_INVERTIBLE,
    NUMBER_FORMATS,
    NUMBER_OFFSET,
    SEP,
    Codec,
    EncodingRangeError,
    TokenCodec,
    collate,
    make_codec,
)
from lawt.model import Seq2Seq
from lawt.numbers import compose, decompose, round_sig3

ENTRY_LAYOUTS = tuple(  # the entry layouts that read any matrix
    name for name in ENCODINGS if name.startswith("entry") and not make_codec(name).upper_triangle)

FAST = settings(deadline=None, max_examples=40)  # keep the suite within its time budget


def exponent_range(fmt: str) -> tuple[int, int]:
    """Smallest and largest exponent of the mantissa (100..999) a number format or entry layout can write."""
    if fmt.startswith("entry"):
        return ENTRY_EXP_MIN, ENTRY_EXP_MAX
    return NUMBER_FORMATS[fmt].min_exponent, NUMBER_FORMATS[fmt].max_exponent


def output_format(name: str) -> str:
    return name.split("/")[-1]


def input_format(name: str) -> str:
    return name.split("/")[0]


def in_range(fmt: str) -> st.SearchStrategy[float]:
    """Finite values a format can write (zero included), spread log-uniformly over its whole range."""
    low, high = exponent_range(fmt)
    nonzero = st.builds(lambda s, m, e: s * m * 10.0**e, st.sampled_from([-1.0, 1.0]),
                        st.floats(1.0, 9.99, allow_nan=False), st.integers(low + 2, high + 2))
    return st.one_of(st.just(0.0), nonzero)


def matrices(fmt: str, max_rows: int = 4, max_cols: int = 4) -> st.SearchStrategy[torch.Tensor]:
    """A batch of one matrix [1, r, c] of in-range values."""
    return st.integers(1, max_rows).flatmap(lambda r: st.integers(1, max_cols).flatmap(
        lambda c: st.lists(in_range(fmt), min_size=r * c, max_size=r * c).map(
            lambda v: torch.tensor(v, dtype=torch.float64).reshape(1, r, c))))


def symmetric_part(m: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix of ``m``'s largest leading square's upper triangle."""
    k = min(m.shape[1:])
    upper = m[:, :k, :k].triu()
    return upper + upper.triu(1).transpose(1, 2)


def round_trip(codec: Codec, parts: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Encode answer parts as decoder targets and decode them back."""
    out = codec.encode_answer(parts, None)
    decoded = codec.decode(out, [tuple(p.shape[1:]) for p in parts])
    return decoded.parts, decoded.valid


def assert_three_digits(x: torch.Tensor, y: torch.Tensor) -> None:
    """y is x to three significant digits: within 0.5 % per entry, zeros exact."""
    zero = x == 0
    assert torch.equal(y[zero], x[zero])
    rel = (y[~zero] - x[~zero]).abs() / x[~zero].abs()
    assert bool((rel <= 0.005 * (1 + 1e-9)).all()), f"relative errors {rel.max().item()}"
    assert bool((torch.sign(y[~zero]) == torch.sign(x[~zero])).all())


# ---------------------------------------------------------------------------------------------- the number grid


@FAST
@given(st.integers(100, 999), st.integers(-98, 98), st.booleans())
def test_grid_values_are_fixed_points(mantissa: int, exponent: int, negative: bool) -> None:
    """A value already on the grid decomposes into its own mantissa and exponent and recomposes bit-exactly."""
    x = torch.tensor([(-1.0 if negative else 1.0) * mantissa * 10.0**exponent], dtype=torch.float64)
    d = decompose(x, -100, 100)
    assert (int(d.sign), int(d.mantissa), int(d.exponent)) == (int(negative), mantissa, exponent)
    assert math.isclose(float(compose(d.sign, d.mantissa, d.exponent)[0]), float(x[0]), rel_tol=1e-15)
    assert torch.equal(round_sig3(round_sig3(x)), round_sig3(x))


@FAST
@given(st.floats(min_value=-1e80, max_value=1e80, allow_nan=False, allow_infinity=False))
def test_round_sig3_matches_decimal_rounding(x: float) -> None:
    """round_sig3 is correctly rounded to three significant digits, except at ties within float noise."""
    rounded = float(round_sig3(torch.tensor([x], dtype=torch.float64))[0])
    if abs(x) < 0.9995e-98:
        assert rounded == 0.0
        return
    reference = float(f"{x:.2e}")  # Python's correctly rounded decimal formatting
    if not math.isclose(rounded, reference, rel_tol=1e-12):
        unit = 10.0 ** (math.floor(math.log10(abs(reference))) - 2)
        assert abs(abs(x - rounded) - abs(x - reference)) <= 1e-6 * unit, (x, rounded, reference)


def test_mantissa_carry_into_next_decade() -> None:
    """9.996 rounds up to 10.0 (mantissa 100, exponent one higher), not to a four-digit mantissa."""
    d = decompose(torch.tensor([9.996, -99.97, 0.0009996], dtype=torch.float64), -100, 100)
    assert d.mantissa.tolist() == [100, 100, 100]
    assert d.exponent.tolist() == [-1, 0, -5]
    assert d.sign.tolist() == [0, 1, 0]


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ENCODINGS)
@FAST
@given(data=st.data())
def test_answer_round_trip(name: str, data: st.DataObject) -> None:
    """encode → decode keeps every in-range entry to three significant digits, zero exactly."""
    codec = make_codec(name)
    parts = [data.draw(matrices(output_format(name))), data.draw(matrices(output_format(name)))]
    decoded, valid = round_trip(codec, parts)
    assert bool(valid.all())
    for x, y in zip(parts, decoded, strict=True):
        assert y.shape == x.shape
        assert_three_digits(x, y)
        # the same grid value as round_sig3 (compose's vectorised pow may differ in the last bit)
        assert torch.allclose(y, round_sig3(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["FP15/P1000", "P1000/FP15", "B1999/P10", "P10/B1999"])
@FAST
@given(data=st.data())
def test_mixed_formats_use_input_format_for_operands_and_output_format_for_answers(name: str,
                                                                                  data: st.DataObject) -> None:
    codec = make_codec(name)
    assert isinstance(codec, TokenCodec)
    assert codec.name == name
    assert (codec.input.name, codec.output.name) == (input_format(name), output_format(name))
    operand = data.draw(matrices(input_format(name)))
    answer = data.draw(matrices(output_format(name)))
    decoded, valid = round_trip(codec, [answer])
    assert bool(valid.all())
    assert_three_digits(answer, decoded[0])
    # Operands are written with the input format: decoding them with a codec whose output format is the
    # input format gives the operand back.
    src = codec.encode_operands([operand])[..., 0]
    same = make_codec(input_format(name))
    out = torch.cat([src, torch.full((1, 1), EOS)], dim=1).unsqueeze(-1)
    back = same.decode(out, [tuple(operand.shape[1:])])
    assert bool(back.valid.all())
    assert_three_digits(operand, back.parts[0])


def test_same_format_codec_name_and_unknown_names() -> None:
    assert make_codec("P1000/P1000").name == "P1000"
    assert make_codec("FP15").name == "FP15"
    for bad in ("P100", "P10/entry", "entry/P10", "fp15", ""):
        with pytest.raises(ValueError, match="unknown encoding"):
            make_codec(bad)


@pytest.mark.parametrize("name", ["P10", "P1000", "B1999", "FP15"])
def test_token_layout_of_a_2x2_matrix(name: str) -> None:
    """Two dimension tokens, then the entries row by row, then EOS; tokens per number as in the paper."""
    per_number = {"P10": 5, "P1000": 3, "B1999": 2, "FP15": 1}[name]
    codec = make_codec(name)
    m = torch.tensor([[[3.14, -20.0], [0.0, 1000.0]]], dtype=torch.float64)
    tokens = codec.encode_answer([m], None)[0, :, 0]
    assert tokens.shape[0] == 2 + 4 * per_number + 1
    assert tokens[:2].tolist() == [DIM_OFFSET + 1, DIM_OFFSET + 1]
    assert int(tokens[-1]) == EOS
    assert bool((tokens[2:-1] >= NUMBER_OFFSET).all())
    names = codec.describe(codec.encode_answer([m], None)[0])
    expected = {
        "P10": ["D2", "D2", "+", "3", "1", "4", "E-2", "-", "2", "0", "0", "E-1", "+", "0", "0", "0", "E0",
                "+", "1", "0", "0", "E1", "<eos>"],
        "P1000": ["D2", "D2", "+", "314", "E-2", "-", "200", "E-1", "+", "0", "E0", "+", "100", "E1", "<eos>"],
        "B1999": ["D2", "D2", "314", "E-2", "-200", "E-1", "0", "E0", "100", "E1", "<eos>"],
        "FP15": ["D2", "D2", "+314E-2", "-200E-1", "0", "+100E1", "<eos>"],
    }[name]
    assert names == expected
    assert codec.answer_length([(2, 2)]) == len(expected)


def test_entry_layout_of_a_2x2_matrix() -> None:
    """One position per entry: (sign, 3 mantissa digits, exponent, row, column, part) in,
    (sign, exponent, 3 mantissa digits) out."""
    codec = make_codec("entry")
    m = torch.tensor([[[3.14, -20.0], [0.0, 1000.0]]], dtype=torch.float64)
    src = codec.encode_operands([m])[0]
    assert src.tolist() == [[0, 3, 1, 4, -2 + 100, 0, 0, 0], [1, 2, 0, 0, -1 + 100, 0, 1, 0],
                            [0, 0, 0, 0, 0 + 100, 1, 0, 0], [0, 1, 0, 0, 1 + 100, 1, 1, 0]]
    out = codec.encode_answer([m], None)[0]
    assert out.tolist() == [[0, 98, 3, 1, 4], [1, 99, 2, 0, 0], [0, 100, 0, 0, 0], [0, 101, 1, 0, 0]]
    assert codec.describe(out) == ["+314E-2", "-200E-1", "+0E0", "+100E1"]
    assert codec.slots([(2, 2), (2, 1)], 1)[0].tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0],
                                                             [0, 0, 1], [1, 0, 1]]


def test_entry_m1000_layout_of_a_2x2_matrix() -> None:
    """The same with the mantissa as one field of 1000 values."""
    codec = make_codec("entry-m1000")
    m = torch.tensor([[[3.14, -20.0], [0.0, 1000.0]]], dtype=torch.float64)
    src = codec.encode_operands([m])[0]
    assert src.tolist() == [[0, 314, -2 + 100, 0, 0, 0], [1, 200, -1 + 100, 0, 1, 0],
                            [0, 0, 0 + 100, 1, 0, 0], [0, 100, 1 + 100, 1, 1, 0]]
    out = codec.encode_answer([m], None)[0]
    assert out.tolist() == [[0, 98, 314], [1, 99, 200], [0, 100, 0], [0, 101, 100]]
    assert codec.describe(out) == ["+314E-2", "-200E-1", "+0E0", "+100E1"]


def test_entry_upper_layout_of_a_3x3_symmetric_matrix() -> None:
    """The upper triangle only, row by row: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2), with their row and column."""
    m = torch.tensor([[[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]]], dtype=torch.float64)
    src = make_codec("entry-upper").encode_operands([m])[0]
    assert [row[-3:] for row in src.tolist()] == [[0, 0, 0], [0, 1, 0], [0, 2, 0], [1, 1, 0], [1, 2, 0], [2, 2, 0]]
    assert [row[1] for row in src.tolist()] == [1, 2, 3, 4, 5, 6]  # the first mantissa digit
    assert make_codec("entry-upper").input_entries([(3, 3)]) == 6 and make_codec("entry").input_entries([(3, 3)]) == 9


@FAST
@given(data=st.data())
def test_entry_upper_is_the_entry_layout_without_the_lower_triangle(data: st.DataObject) -> None:
    m = symmetric_part(data.draw(matrices("entry", 5, 5)))
    upper, full = make_codec("entry-upper").encode_operands([m])[0], make_codec("entry").encode_operands([m])[0]
    assert torch.equal(upper, full[full[:, -3] <= full[:, -2]])
    assert upper.shape[0] == make_codec("entry-upper").input_entries([tuple(m.shape[1:])])


@pytest.mark.parametrize("shapes", [[(2, 3)], [(2, 2), (2, 2)]])
def test_entry_upper_refuses_anything_but_one_square_matrix(shapes: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError, match="reads one square matrix"):
        make_codec("entry-upper").encode_operands([torch.ones(1, r, c, dtype=torch.float64) for r, c in shapes])


@pytest.mark.parametrize("name", [*ENCODINGS, "FP15/P1000"])
@FAST
@given(data=st.data())
def test_every_field_is_inside_its_vocabulary(name: str, data: st.DataObject) -> None:
    """Encoder and decoder fields index their embedding tables: 0 <= value < vocabulary (IGNORE aside)."""
    codec = make_codec(name)
    a = data.draw(matrices(input_format(name)))
    b = data.draw(matrices(input_format(name)))
    operands = [symmetric_part(a)] if codec.upper_triangle else [a, b]
    answer = data.draw(matrices(output_format(name)))
    singular = torch.tensor([data.draw(st.booleans())])
    enc = codec.encode(operands, [answer], singular)
    for tensor, vocab in ((enc.src, codec.src_fields), (enc.tgt_in, codec.tgt_fields)):
        assert tensor.shape[-1] == len(vocab)
        assert bool((tensor >= 0).all())
        assert bool((tensor < torch.tensor(vocab)).all())
    real = enc.tgt_out != IGNORE
    assert bool(((enc.tgt_out >= 0) & (enc.tgt_out < torch.tensor(codec.out_fields)) | ~real).all())


# ---------------------------------------------------------------------------------------------- range limits


@pytest.mark.parametrize(("name", "value"), [
    ("P10", 1e200), ("P1000", -1e200), ("B1999", 1e104), ("entry", 1e200), ("entry-m1000", -1e104),
    ("FP15", 2e9), ("FP15", -1e10),
    ("FP15", 9.996e8),  # rounds up to 1.00e9, one past the largest FP15 number
])
def test_too_large_raises(name: str, value: float) -> None:
    codec = make_codec(name)
    m = torch.tensor([[[1.0, value]]], dtype=torch.float64)
    fmt = "entry" if name.startswith("entry") else name
    with pytest.raises(EncodingRangeError, match=f"{fmt}: value too large to encode \\(largest magnitude is"):
        codec.encode_answer([m], None)
    with pytest.raises(EncodingRangeError, match="too large"):
        codec.encode_operands([m])


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_raise(name: str, value: float) -> None:
    codec = make_codec(name)
    m = torch.tensor([[[value, 1.0]]], dtype=torch.float64)
    for encode in (lambda: codec.encode_operands([m]), lambda: codec.encode_answer([m], None)):
        with pytest.raises(EncodingRangeError, match="NaN or infinite"):
            encode()


def test_largest_values_still_encode() -> None:
    for name, value in (("P10", 9.99e102), ("FP15", 9.99e8), ("FP15", -9.994e8), ("entry", -9.99e102)):
        decoded, valid = round_trip(make_codec(name), [torch.tensor([[[value]]], dtype=torch.float64)])
        assert bool(valid.all()) and math.isclose(float(decoded[0]), value, rel_tol=1e-3)


def test_mixed_format_range_follows_each_side() -> None:
    """FP15/P1000: 2e9 cannot be an operand (FP15) but can be an answer (P1000); the reverse for P1000/FP15."""
    m = torch.tensor([[[2e9]]], dtype=torch.float64)
    with pytest.raises(EncodingRangeError, match="FP15"):
        make_codec("FP15/P1000").encode_operands([m])
    make_codec("FP15/P1000").encode_answer([m], None)
    make_codec("P1000/FP15").encode_operands([m])
    with pytest.raises(EncodingRangeError, match="FP15"):
        make_codec("P1000/FP15").encode_answer([m], None)


@pytest.mark.parametrize("name", ENCODINGS)
@FAST
@given(fraction=st.floats(0.0, 0.999), negative=st.booleans())
def test_tiny_values_underflow_to_zero(name: str, fraction: float, negative: bool) -> None:
    """Magnitudes below the smallest number (1.00·10^(min exponent + 2)) become exactly +0."""
    low = exponent_range(output_format(name))[0]
    tiny = (-1 if negative else 1) * fraction * 0.9995 * 10.0 ** (low + 2)
    decoded, valid = round_trip(make_codec(name), [torch.tensor([[[tiny, 5.0]]], dtype=torch.float64)])
    assert bool(valid.all())
    assert decoded[0][0, 0, 0].item() == 0.0 and math.copysign(1, decoded[0][0, 0, 0].item()) == 1.0
    assert decoded[0][0, 0, 1].item() == 5.0


# ---------------------------------------------------------------------------------------------- collate


@pytest.mark.parametrize("name", [*ENTRY_LAYOUTS, "P1000", "FP15/P1000"])
def test_collate_pads_groups_of_different_sizes(name: str) -> None:
    codec = make_codec(name)
    gen = torch.Generator().manual_seed(0)
    shapes = [((2, 2), 3), ((3, 4), 2), ((1, 1), 1)]
    groups = []
    for (r, c), batch in shapes:
        a = torch.rand(batch, r, c, generator=gen, dtype=torch.float64) * 20 - 10
        groups.append(codec.encode([a], [a.transpose(1, 2)]))
    batch = collate(groups)
    src_len, tgt_len = max(g.src.shape[1] for g in groups), max(g.tgt_out.shape[1] for g in groups)
    assert batch.src.shape == (6, src_len, len(codec.src_fields))
    assert batch.tgt_in.shape == (6, tgt_len, len(codec.tgt_fields))
    assert batch.tgt_out.shape == (6, tgt_len, len(codec.out_fields))
    assert batch.src_mask is not None and batch.src_mask.dtype == torch.bool
    row = 0
    for g in groups:
        n, s, t = g.src.shape[0], g.src.shape[1], g.tgt_out.shape[1]
        rows = slice(row, row + n)
        assert torch.equal(batch.src[rows, :s], g.src) and bool((batch.src[rows, s:] == 0).all())
        assert bool(batch.src_mask[rows, :s].all()) and not bool(batch.src_mask[rows, s:].any())
        assert torch.equal(batch.tgt_in[rows, :t], g.tgt_in) and bool((batch.tgt_in[rows, t:] == 0).all())
        assert torch.equal(batch.tgt_out[rows, :t], g.tgt_out)
        assert bool((batch.tgt_out[rows, t:] == IGNORE).all())
        row += n


def test_collate_without_source_padding_has_no_mask() -> None:
    codec = make_codec("entry")
    a, b = torch.ones(2, 2, 3, dtype=torch.float64), torch.ones(1, 3, 2, dtype=torch.float64)
    batch = collate([codec.encode([a], [a.sum(2, keepdim=True)]), codec.encode([b], [b.sum(2, keepdim=True)])])
    assert batch.src_mask is None
    assert batch.tgt_out.shape[:2] == (3, 3)
    assert bool((batch.tgt_out[:2, 2] == IGNORE).all())
    single = codec.encode([a], [a])
    assert collate([single]) is single


@pytest.mark.parametrize("name", ["entry", "P1000", "entry+grid"])
def test_padding_does_not_change_the_model(name: str) -> None:
    """A padded batch gives the same hidden states and loss as its groups run one by one."""
    codec = make_codec(name.removesuffix("+grid"))
    torch.manual_seed(0)
    grid = name.endswith("+grid")
    model = Seq2Seq.for_codec(codec, d_model=32, n_heads=4, ffn_mult=2, grid_bias=grid, index_bias=grid).eval()
    with torch.no_grad():
        for name_, p in model.named_parameters():
            if name_.endswith(("bias.weight", "bias.index")):  # the grid bias starts at zero: make it matter
                p.normal_(std=0.3)
    gen = torch.Generator().manual_seed(1)
    groups = []
    for (r, c), n in (((3, 3), 2), ((1, 2), 3)):
        a = torch.rand(n, r, c, generator=gen, dtype=torch.float64) * 20 - 10
        groups.append(codec.encode([a], [a.transpose(1, 2)]))
    batch = collate(groups)
    with torch.no_grad():
        h = model.hidden(batch.tgt_in, model.encode(batch.src, batch.src_mask), batch.src, batch.src_mask)
        row, sums, counts = 0, torch.zeros(len(codec.out_fields)), torch.zeros(len(codec.out_fields))
        for g in groups:
            n, t = g.src.shape[0], g.tgt_out.shape[1]
            alone = model.hidden(g.tgt_in, model.encode(g.src, None), g.src, None)
            assert torch.allclose(h[row:row + n, :t], alone, atol=1e-5)
            for k in range(len(codec.out_fields)):
                logits = model.field_logits(alone, g.tgt_out.clamp(min=0), k)
                sums[k] += torch.nn.functional.cross_entropy(logits.flatten(0, -2), g.tgt_out[..., k].flatten(),
                                                             ignore_index=IGNORE, reduction="sum")
                counts[k] += int((g.tgt_out[..., k] != IGNORE).sum())
            row += n
        loss = model(batch.src, batch.src_mask, batch.tgt_in, batch.tgt_out)
    assert math.isclose(float(loss), float((sums / counts).sum()), rel_tol=1e-5)


# ---------------------------------------------------------------------------------------------- decode validity


def encoded_answer(name: str, shapes: list[tuple[int, int]]) -> tuple[Codec, torch.Tensor, list[torch.Tensor]]:
    codec = make_codec(name)
    gen = torch.Generator().manual_seed(3)
    parts = [round_sig3(torch.rand(2, r, c, generator=gen, dtype=torch.float64) * 20 - 10) for r, c in shapes]
    return codec, codec.encode_answer(parts, None), parts


@pytest.mark.parametrize("name", ["P10", "P1000", "B1999", "FP15"])
def test_token_decode_rejects_wrong_shapes_and_garbage(name: str) -> None:
    codec, out, parts = encoded_answer(name, [(2, 3)])
    good = codec.decode(out, [(2, 3)])
    assert bool(good.valid.all()) and torch.equal(good.parts[0], parts[0])
    assert not bool(codec.decode(out, [(3, 2)]).valid.any())  # dimension tokens say 2x3
    assert not bool(codec.decode(out, [(2, 3), (1, 1)]).valid.any())  # a part is missing
    assert not bool(codec.decode(out[:, :-1], [(2, 3)]).valid.any())  # no EOS
    assert not bool(codec.decode(out[:, :5], [(2, 3)]).valid.any())  # truncated
    for position, token in ((2, SEP), (3, EOS), (out.shape[1] - 1, NUMBER_OFFSET), (0, DIM_OFFSET + 9)):
        broken = out.clone()
        broken[:, position, 0] = token
        assert not bool(codec.decode(broken, [(2, 3)]).valid.any()), (position, token)
    beyond = out.clone()
    beyond[:, 2, 0] = NUMBER_OFFSET + codec.output.vocab_size + 3  # outside the number vocabulary
    assert not bool(codec.decode(beyond, [(2, 3)]).valid.any())
    assert not bool(codec.decode(torch.zeros(2, 40, 1, dtype=torch.long), [(2, 3)]).valid.any())
    # anything after EOS is ignored
    longer = torch.cat([out, torch.full((2, 4, 1), SEP)], dim=1)
    assert bool(codec.decode(longer, [(2, 3)]).valid.all())


@pytest.mark.parametrize("name", ["P10", "P1000", "B1999", "FP15"])
@FAST
@given(tokens=st.lists(st.integers(0, 2300), min_size=0, max_size=30))
def test_token_decode_never_raises_on_random_tokens(name: str, tokens: list[int]) -> None:
    codec = make_codec(name)
    out = torch.tensor([tokens], dtype=torch.long).reshape(1, -1, 1)
    decoded = codec.decode(out, [(2, 2)])
    if bool(decoded.valid[0]):
        assert tokens[:2] == [DIM_OFFSET + 1, DIM_OFFSET + 1]
        assert tokens[2 + 4 * codec.output.tokens_per_number] == EOS
        assert bool(torch.isfinite(decoded.parts[0]).all())


@pytest.mark.parametrize("name", ["P10", "P1000", "B1999"])  # FP15 numbers are a single token
def test_sign_and_digit_positions_are_checked(name: str) -> None:
    """A token of the wrong kind in a number (an exponent where the mantissa goes) makes the output invalid."""
    codec, out, _ = encoded_answer(name, [(1, 2)])
    fmt = codec.output
    first_number = out[:, 2:2 + fmt.tokens_per_number, 0]
    swapped = out.clone()
    swapped[:, 2, 0], swapped[:, 2 + fmt.tokens_per_number - 1, 0] = first_number[:, -1], first_number[:, 0]
    assert not bool(codec.decode(swapped, [(1, 2)]).valid.any())


def test_token_not_invertible_verdict() -> None:
    codec = make_codec("FP15/P1000")
    m = torch.tensor([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    out = codec.encode_answer([m], torch.tensor([True, False]))
    assert out[0, :2, 0].tolist() == [NOT_INVERTIBLE, EOS] and bool((out[0, 2:] == IGNORE).all())
    decoded = codec.decode(out.clamp(min=0), [(2, 2)])
    assert decoded.not_invertible.tolist() == [True, False]
    assert decoded.valid.tolist() == [False, True]
    assert codec.describe(out[0].clamp(min=0)) == ["<not-invertible>", "<eos>"]


@pytest.mark.parametrize("name", ENTRY_LAYOUTS)
def test_entry_decode_validity(name: str) -> None:
    codec, out, parts = encoded_answer(name, [(2, 2), (2, 1)])
    good = codec.decode(out, [(2, 2), (2, 1)])
    assert bool(good.valid.all()) and all(torch.equal(a, b) for a, b in zip(good.parts, parts, strict=True))
    late = out.clone()
    late[0, 3, 1] = ENTRY_NOT_INVERTIBLE  # "not invertible" in the middle of an answer is not an answer
    decoded = codec.decode(late, [(2, 2), (2, 1)])
    assert decoded.valid.tolist() == [False, True] and decoded.not_invertible.tolist() == [False, False]
    first = out.clone()
    first[1, 0] = 0
    first[1, 0, 1] = ENTRY_NOT_INVERTIBLE
    decoded = codec.decode(first, [(2, 2), (2, 1)])
    assert decoded.not_invertible.tolist() == [False, True] and decoded.valid.tolist() == [True, False]
    verdict = codec.encode_answer([parts[0]], torch.tensor([True, False]))
    assert verdict[0, 0, 1] == ENTRY_NOT_INVERTIBLE and bool((verdict[0, 0, [0, 2]] == 0).all())
    assert bool((verdict[0, 1:] == IGNORE).all())
    assert codec.describe(verdict[0].clamp(min=0)) == ["<not-invertible>"]


@pytest.mark.parametrize("name", ENTRY_LAYOUTS)
def test_entry_decode_of_a_short_output(name: str) -> None:
    """Decoding stops after one position when every problem answers "not invertible"; decode must cope,
    and any other too-short output is simply invalid."""
    codec = make_codec(name)
    out = torch.zeros(1, 1, len(codec.out_fields), dtype=torch.long)
    out[0, 0, 1] = ENTRY_NOT_INVERTIBLE
    decoded = codec.decode(out, [(2, 2)])
    assert decoded.not_invertible.tolist() == [True]
    assert decoded.valid.tolist() == [False]
    assert decoded.parts[0].shape == (1, 2, 2)
    short = codec.encode_answer([torch.ones(1, 2, 2, dtype=torch.float64)], None)[:, :3]
    assert codec.decode(short, [(2, 2)]).valid.tolist() == [False]
