"""Operands scaled by powers of ten into [1, 10], and answers scaled back, for every operation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lawt.numbers import decompose, round_sig3
from lawt.ops import OPERATIONS
from lawt.scaling import power_of_ten, scale_back, scale_operands, times_power_of_ten

finite_entries = st.floats(min_value=-1e30, max_value=1e30, allow_nan=False).map(lambda x: x if abs(x) > 1e-30 else 0.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite_entries, min_size=1, max_size=12))
def test_the_largest_entry_lands_in_one_to_ten(values: list[float]) -> None:
    x = round_sig3(torch.tensor(values, dtype=torch.float64))[None, None, :]
    p = power_of_ten(x)
    largest = float(round_sig3(times_power_of_ten(x, -p)).abs().max())
    assert largest == 0.0 or 1.0 <= largest <= 10.0
    if largest == 0.0 or 1.0 <= float(x.abs().max()) <= 10.0:
        assert float(p[0]) == 0.0  # operands already in range are left alone


@settings(max_examples=100, deadline=None)
@given(st.integers(-40, 40), st.integers(100, 999))
def test_scaling_shifts_only_the_decimal_exponent(k: int, mantissa: int) -> None:
    """A 3-digit number times 10^k is read with the same three digits, in [1, 10]: the model reads exactly
    what it would have read at the scale of its training data."""
    x = round_sig3(torch.tensor([[[mantissa / 100]]], dtype=torch.float64))
    shifted = round_sig3(times_power_of_ten(x, torch.tensor([float(k)], dtype=torch.float64)))
    back = round_sig3(times_power_of_ten(shifted, -power_of_ten(shifted)))
    assert 1.0 <= float(back) <= 10.0
    assert decompose(back, -100, 100).mantissa.item() == mantissa


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_answers_of_scaled_operands_scale_back_to_the_exact_answer(name: str) -> None:
    """For each operation the declared answer degrees are the real ones: solving the scaled problem and
    scaling back gives the exact answer of the original problem, whatever powers of ten the operands carry."""
    op = OPERATIONS[name]
    gen = torch.Generator().manual_seed(3)
    dims = op.all_sizes(4)[-2]
    operands = op.generate(64, dims, gen).operands
    shifts = torch.randint(-6, 7, (len(operands), 64), generator=gen).double()
    if op.common_scale:
        shifts = shifts[:1].expand(len(operands), 64)
    moved = [round_sig3(times_power_of_ten(x, s)) for x, s in zip(operands, shifts, strict=True)]
    scaled = scale_operands(op, moved)
    for x in scaled.operands:
        largest = x.abs().flatten(1).amax(1)
        assert bool(((largest >= 1) & (largest <= 10) | (largest == 0)).all())
    expected = op.solve(moved)
    got = scale_back(op.solve(scaled.operands), scaled.answer_powers)
    for e, g in zip(expected, got, strict=True):
        keep = torch.isfinite(e).flatten(1).all(1)  # the inverse of a singular matrix is NaN
        torch.testing.assert_close(g[keep], e[keep], rtol=1e-7, atol=0.0)


def test_a_zero_operand_is_left_alone_and_stays_zero() -> None:
    op = OPERATIONS["product"]
    zero, b = torch.zeros(1, 2, 2, dtype=torch.float64), torch.full((1, 2, 2), 0.5, dtype=torch.float64)
    scaled = scale_operands(op, [zero, b])
    assert [float(p[0]) for p in scaled.operand_powers] == [0.0, -1.0]
    assert torch.equal(scaled.operands[1], torch.full((1, 2, 2), 5.0, dtype=torch.float64))
    assert torch.equal(scale_back([torch.zeros(1, 2, 2, dtype=torch.float64)], [torch.tensor([400.0])])[0],
                       torch.zeros(1, 2, 2, dtype=torch.float64))
