"""The nine operations: generators, exact answers and the paper's error checks."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lawt.numbers import round_sig3
from lawt.ops import OPERATIONS, OperandError, Operation, get_operation
from lawt.ops.base import TYPED, Dims, canonical_signs
from lawt.ops.inverse import MAX_INVERSE, condition_number, is_singular, rank_deficient, singular_integer

SIZES: dict[str, list[Dims]] = {
    "transpose": [(1, 1), (2, 3), (4, 2), (3, 3)],
    "sum": [(1, 1), (2, 3), (4, 2), (3, 3)],
    "matvec": [(1, 1), (2, 3), (4, 2), (3, 3)],
    "product": [(1, 1, 1), (2, 3, 4), (4, 1, 2), (3, 3, 3)],
    "eigenvalues": [(1,), (3,), (5,)],
    "eigenvectors": [(1,), (3,), (5,)],
    "singular_values": [(1, 1), (2, 3), (4, 2), (3, 3)],
    "svd": [(1, 1), (2, 3), (4, 2), (3, 3)],
    "inverse": [(1,), (3,), (5,)],
}
CASES = [(name, dims, dist) for name, op in OPERATIONS.items() for dims in SIZES[name]
         for dist in op.all_distributions()]
BATCH = 8


def test_registry_has_the_nine_operations() -> None:
    assert sorted(OPERATIONS) == sorted(SIZES)
    assert get_operation("svd") is OPERATIONS["svd"]
    with pytest.raises(ValueError, match="unknown operation 'det'; choose from transpose"):
        get_operation("det")


def generated(name: str, dims: Dims, dist: str, seed: int = 0) -> tuple[Operation, list[torch.Tensor], torch.Tensor]:
    """Operands of BATCH problems, and the mask of problems that have an answer (invertible ones for inverse)."""
    op = OPERATIONS[name]
    problems = op.generate(BATCH, dims, torch.Generator().manual_seed(seed), dist)
    answerable = torch.ones(BATCH, dtype=torch.bool) if problems.singular is None else ~problems.singular
    return op, problems.operands, answerable


def scaled(parts: list[torch.Tensor], index: int, factor: torch.Tensor | float) -> list[torch.Tensor]:
    return [p * factor if i == index else p for i, p in enumerate(parts)]


@pytest.mark.parametrize(("name", "dims", "dist"), CASES)
def test_shapes_grid_and_exact_answer(name: str, dims: Dims, dist: str) -> None:
    op, operands, answerable = generated(name, dims, dist)
    assert [tuple(o.shape) for o in operands] == [(BATCH, *s) for s in op.operand_shapes(dims)]
    assert all(o.dtype == torch.float64 for o in operands)
    assert op.dims_of([tuple(o.shape[1:]) for o in operands]) == dims
    for o in operands:  # every coefficient is on the three-significant-digit grid
        nonzero = o[o != 0].abs()
        mantissa = nonzero / 10 ** (torch.floor(torch.log10(nonzero)) - 2)
        assert torch.allclose(mantissa, mantissa.round(), atol=1e-6)
    parts = op.solve(operands)
    assert [tuple(p.shape) for p in parts] == [(BATCH, *s) for s in op.answer_shapes(dims)]
    err = op.error(operands, parts)
    assert err.shape == (BATCH,)
    assert bool((err[answerable] < 1e-6).all()), err


@pytest.mark.parametrize(("name", "dims", "dist"), CASES)
def test_perturbed_answers_fail_at_five_percent(name: str, dims: Dims, dist: str) -> None:
    """Scaling the answer (σ, λ for the decompositions) by 1.1 costs exactly 10 % under every metric;
    ±20 % noise on the values costs 20 % (an answer of zeros, which typed problems can have, scales to itself)."""
    op, operands, answerable = generated(name, dims, dist, seed=1)
    parts = op.solve(operands)
    values = {"svd": 1, "eigenvectors": 0}.get(name, 0)  # the part holding the answer's values (σ, λ)
    answerable = answerable & (parts[values].nan_to_num().abs().flatten(1).sum(1) > 0)
    err = op.error(operands, scaled(parts, values, 1.1))[answerable]
    assert bool((err > 0.05).all())
    assert torch.allclose(err, torch.full_like(err, 0.1), rtol=1e-6)
    signs = torch.randint(0, 2, parts[values].shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
    err = op.error(operands, scaled(parts, values, 1 + 0.2 * signs))[answerable]
    assert bool((err > 0.05).all()), err
    if name != "inverse":
        assert torch.allclose(err, torch.full_like(err, 0.2), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- distributions


@pytest.mark.parametrize("name", ["eigenvalues", "eigenvectors"])
@pytest.mark.parametrize("dist", OPERATIONS["eigenvalues"].distributions)
def test_eigen_operations_get_symmetric_matrices(name: str, dist: str) -> None:
    op, (a,), _ = generated(name, (4,), dist)
    assert torch.equal(a, a.transpose(1, 2))
    op.check_operands([a])
    values = torch.linalg.eigvalsh(a)
    if dist in ("positive", "positive2", "marcenko"):
        scale = values.abs().amax(-1, keepdim=True)
        assert bool((values >= -0.02 * scale).all()), values
    if dist == "wigner":
        assert bool((a.abs() <= 10).all())


def test_eigen_operations_refuse_non_symmetric_matrices() -> None:
    a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.float64)
    for name in ("eigenvalues", "eigenvectors"):
        with pytest.raises(OperandError, match="symmetric"):
            OPERATIONS[name].check_operands([a])
    for name in ("transpose", "inverse", "svd", "singular_values"):
        OPERATIONS[name].check_operands([a])


@pytest.mark.parametrize("name", ["transpose", "sum", "matvec", "product", "singular_values", "svd"])
def test_uniform_coefficients(name: str) -> None:
    op = OPERATIONS[name]
    dims = SIZES[name][-1]
    operands = op.generate(200, dims, torch.Generator().manual_seed(0)).operands
    for o in operands:
        assert bool((o.abs() <= 10).all())
        assert 4.0 < float(o.abs().mean()) < 6.0  # uniform on [-10, 10] has mean |x| = 5
        assert abs(float(o.mean())) < 0.5


def test_unknown_distribution() -> None:
    with pytest.raises(ValueError, match="unknown distribution 'laplace'"):
        OPERATIONS["transpose"].generate(2, (2, 2), torch.Generator(), "laplace")
    with pytest.raises(ValueError, match="choose from wigner"):
        OPERATIONS["eigenvalues"].generate(2, (2,), torch.Generator(), "cauchy")


def test_generation_is_seeded() -> None:
    for name, op in OPERATIONS.items():
        dims = SIZES[name][1]
        a = op.generate(4, dims, torch.Generator().manual_seed(7)).operands
        b = op.generate(4, dims, torch.Generator().manual_seed(7)).operands
        c = op.generate(4, dims, torch.Generator().manual_seed(8)).operands
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
        assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


# ---------------------------------------------------------------------------------------------- checked against A


def random_order(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen), (torch.randint(0, 2, (n,), generator=gen) * 2 - 1).double()


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("seed", range(3))
def test_eigenvectors_any_order_and_signs_are_right(n: int, seed: int) -> None:
    op, operands, _ = generated("eigenvectors", (n,), "wigner", seed)
    values, vectors = op.solve(operands)
    order, signs = random_order(n, seed)
    err = op.error(operands, [values[:, order], vectors[:, :, order] * signs])
    assert bool((err < 1e-6).all())
    if n > 1:  # eigenvalues and eigenvectors paired wrongly
        err = op.error(operands, [values.flip(1), vectors])
        assert bool((err > 0.05).all())
    if n == 5:  # eigenvectors of another matrix (in 2-D they can be close by chance)
        other = op.solve(generated("eigenvectors", (n,), "wigner", seed + 100)[1])[1]
        assert bool((op.error(operands, [values, other]) > 0.05).all())


def test_exact_eigenvectors_are_canonical() -> None:
    op, operands, _ = generated("eigenvectors", (4,), "wigner")
    values, vectors = op.solve(operands)
    assert bool((values[:, :-1] >= values[:, 1:]).all())
    assert torch.equal(canonical_signs(vectors), torch.ones(BATCH, 1, 4, dtype=torch.float64))
    eye = torch.eye(4, dtype=torch.float64).expand(BATCH, 4, 4)
    assert torch.allclose(vectors.transpose(1, 2) @ vectors, eye, atol=1e-10)


def test_eigenvalues_must_be_sorted() -> None:
    op, operands, _ = generated("eigenvalues", (4,), "wigner")
    (values,) = op.solve(operands)
    assert bool((values[:, :-1] >= values[:, 1:]).all())
    assert bool((op.error(operands, [values.flip(1)]) > 0.05).all())


@pytest.mark.parametrize("dims", [(1, 1), (2, 3), (4, 2), (3, 3)])
@pytest.mark.parametrize("seed", range(3))
def test_svd_any_order_and_signs_are_right(dims: Dims, seed: int) -> None:
    op, operands, _ = generated("svd", dims, "uniform", seed)
    u, s, v = op.solve(operands)
    k = min(dims)
    order, signs = random_order(k, seed)
    err = op.error(operands, [u[:, :, order] * signs, s[:, order], v[:, :, order] * signs])
    assert bool((err < 1e-6).all())
    flipped = torch.ones(k, dtype=torch.float64)
    flipped[0] = -1  # U's first column flipped but not V's: −σ₁ on the diagonal
    assert bool((op.error(operands, [u * flipped, s, v]) > 0.05).all())
    a = operands[0]
    assert torch.allclose(u @ torch.diag_embed(s.squeeze(-1)) @ v.transpose(1, 2), a, atol=1e-10)


def test_svd_negative_singular_values_fail() -> None:
    """σ is checked against UᵀAV with its sign: −σ (U and V unchanged) is wrong."""
    op, operands, _ = generated("svd", (3, 3), "uniform")
    u, s, v = op.solve(operands)
    assert bool((op.error(operands, [u, -s, v]) > 0.05).all())


@pytest.mark.parametrize("name", ["eigenvectors", "svd"])
def test_decomposition_checks_reject_degenerate_answers(name: str) -> None:
    """Σ|VᵀAV − diag(λ)| is zero for V = 0, λ = 0 (and tiny for a shrunk V and λ): such answers must fail."""
    dims = (3,) if name == "eigenvectors" else (3, 2)
    op, operands, _ = generated(name, dims, op_default(name))
    zeros = [torch.zeros_like(p) for p in op.solve(operands)]
    assert bool((op.error(operands, zeros) > 0.05).all())


def op_default(name: str) -> str:
    return OPERATIONS[name].distributions[0]


# ---------------------------------------------------------------------------------------------- inverse


def exact_determinant(matrix: list[list[Fraction]]) -> Fraction:
    """Determinant by Gaussian elimination over the rationals."""
    m = [row[:] for row in matrix]
    n, det = len(m), Fraction(1)
    for i in range(n):
        pivot = next((r for r in range(i, n) if m[r][i] != 0), None)
        if pivot is None:
            return Fraction(0)
        if pivot != i:
            m[i], m[pivot] = m[pivot], m[i]
            det = -det
        det *= m[i][i]
        for r in range(i + 1, n):
            f = m[r][i] / m[i][i]
            m[r] = [x - f * y for x, y in zip(m[r], m[i], strict=True)]
    return det


@pytest.mark.parametrize("n", range(1, 7))
def test_singular_test_matrices_are_exactly_singular(n: int) -> None:
    """Entries stay on the 0.01 grid after rounding, and the determinant is exactly zero in rational arithmetic."""
    a = rank_deficient(40, n, torch.Generator().manual_seed(n))
    assert a.shape == (40, n, n)
    assert bool(is_singular(a).all())
    assert bool((condition_number(a) > 1e10).all())
    assert bool((a.abs() <= 10).all())
    hundredths = a * 100
    assert torch.allclose(hundredths, hundredths.round(), atol=1e-7)
    for matrix in hundredths.round().long().tolist():
        assert exact_determinant([[Fraction(x) for x in row] for row in matrix]) == 0
    if n > 1:  # not trivially singular: every row and column is non-zero in most matrices
        assert float((a.abs().sum(-1) > 0).all(-1).double().mean()) > 0.9


def test_inverse_singular_distribution() -> None:
    op = OPERATIONS["inverse"]
    problems = op.generate(30, (4,), torch.Generator().manual_seed(0), "singular")
    assert problems.singular is not None and bool(problems.singular.all())
    assert bool(is_singular(problems.operands[0]).all())
    (inverse,) = op.solve(problems.operands)
    assert bool(inverse.isnan().all())


@pytest.mark.parametrize("n", [1, 3, 5])
def test_inverse_mixed_has_about_half_singular(n: int) -> None:
    op = OPERATIONS["inverse"]
    problems = op.generate(400, (n,), torch.Generator().manual_seed(n), "mixed")
    a, singular = problems.operands[0], problems.singular
    assert singular is not None
    assert 0.4 < float(singular.double().mean()) < 0.6
    assert torch.equal(is_singular(a), singular)
    (inverse,) = op.solve(problems.operands)
    assert bool(inverse[singular].isnan().all()) and bool(torch.isfinite(inverse[~singular]).all())
    assert bool((inverse[~singular].abs() <= MAX_INVERSE).all())
    eye = torch.eye(n, dtype=torch.float64)
    residual = (a[~singular] @ inverse[~singular] - eye).abs().flatten(1).amax(1)
    assert bool((residual <= 1e-10).all())


@pytest.mark.parametrize("n", [2, 3, 5])
def test_inverse_mixed_halves_share_the_grid(n: int) -> None:
    """Both halves of the verdict's data are on the 0.01 grid, so the entries' digits cannot tell them apart."""
    problems = OPERATIONS["inverse"].generate(400, (n,), torch.Generator().manual_seed(n), "mixed")
    a, singular = problems.operands[0], problems.singular
    assert singular is not None
    hundredths = a * 100
    assert torch.allclose(hundredths, hundredths.round(), atol=1e-7)
    assert torch.equal(round_sig3(a), a)
    below_one = a.abs() < 1  # as often among the invertible matrices as among the singular ones
    assert abs(float(below_one[~singular].double().mean()) - float(below_one[singular].double().mean())) < 0.06
    integer = (a == a.round()).flatten(1).all(1)  # a quarter of each half on the integer grid
    for half in (singular, ~singular):
        assert 0.15 < float(integer[half].double().mean()) < 0.35


@pytest.mark.parametrize("n", range(1, 6))
def test_singular_integer_matrices_are_exactly_singular_and_typed_by_hand(n: int) -> None:
    """Integers in −10..10 with a zero determinant in rational arithmetic, of more than one kind of dependence."""
    a = singular_integer(60, n, torch.Generator().manual_seed(n))
    assert a.shape == (60, n, n)
    assert torch.equal(a, a.round()) and bool((a.abs() <= 10).all())
    for matrix in a.long().tolist():
        assert exact_determinant([[Fraction(x) for x in row] for row in matrix]) == 0
    if n > 1:  # not only the ±r_j ± r_k rows of the training data: most have no row equal to ± another
        rows = a.unsqueeze(2) - a.unsqueeze(1), a.unsqueeze(2) + a.unsqueeze(1)
        off_diagonal = ~torch.eye(n, dtype=torch.bool)
        repeated = ((rows[0].abs().sum(-1) == 0) | (rows[1].abs().sum(-1) == 0))[:, off_diagonal].any(-1)
        assert float(repeated.double().mean()) < 0.5


@pytest.mark.parametrize("n", [2, 4])
def test_inverse_mixed_singular_integers_include_typed_ones(n: int) -> None:
    """Half the singular integer matrices of the mixed set are typed ones: no row or column is ±r_j ± r_k or ±r_j."""
    problems = OPERATIONS["inverse"].generate(800, (n,), torch.Generator().manual_seed(n), "mixed")
    a, singular = problems.operands[0], problems.singular
    assert singular is not None
    a = a[singular & (a == a.round()).flatten(1).all(1)]
    pairs = [(j, k) for j in range(n) for k in range(n) if j != k]

    def signed_sum_of_others(m: torch.Tensor) -> bool:
        for t in range(n):
            for j, k in pairs:
                if t in (j, k):
                    continue
                if any(torch.equal(m[t], sj * m[j] + sk * m[k]) for sj in (-1.0, 1.0) for sk in (-1.0, 1.0)):
                    return True
            if any(torch.equal(m[t], s * m[j]) for j in range(n) if j != t for s in (-1.0, 1.0)):
                return True
        return False

    built = [signed_sum_of_others(m) or signed_sum_of_others(m.T) for m in a]
    assert 0.25 < 1 - sum(built) / len(built) < 0.75


def test_singular_integer_refuses_sizes_it_cannot_find() -> None:
    with pytest.raises(ValueError, match="found up to 5x5, not 6x6"):
        OPERATIONS["inverse"].generate(4, (6,), torch.Generator().manual_seed(0), "singular_integer")


def test_inverse_integer_is_invertible_and_integer() -> None:
    problems = OPERATIONS["inverse"].generate(100, (3,), torch.Generator().manual_seed(0), "integer")
    a = problems.operands[0]
    assert problems.singular is not None and not bool(problems.singular.any())
    assert torch.equal(a, a.round()) and not bool(is_singular(a).any())


def test_inverse_uniform_is_invertible() -> None:
    problems = OPERATIONS["inverse"].generate(100, (3,), torch.Generator().manual_seed(0), "uniform")
    assert problems.singular is not None and not bool(problems.singular.any())
    assert not bool(is_singular(problems.operands[0]).any())


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_inverse_near_singular_test_matrices(n: int) -> None:
    """Invertible, condition number above 1e6, inverse entries within the models' range."""
    problems = OPERATIONS["inverse"].generate(50, (n,), torch.Generator().manual_seed(n), "near_singular")
    a = problems.operands[0]
    assert problems.singular is not None and not bool(problems.singular.any())
    assert not bool(is_singular(a).any())
    assert bool((condition_number(a) > 1e6).all())
    assert float(OPERATIONS["inverse"].solve([a])[0].abs().max()) <= MAX_INVERSE


def test_evaluations_cover_the_test_distributions() -> None:
    assert OPERATIONS["inverse"].report_distributions("mixed") == ["mixed", "near_singular", "integer",
                                                                   "singular_integer"]
    assert OPERATIONS["transpose"].report_distributions() == ["uniform", "typed"]
    eigen = OPERATIONS["eigenvalues"].report_distributions("positive")
    assert eigen[0] == "positive" and sorted(eigen) == sorted(OPERATIONS["eigenvalues"].all_distributions())


def test_is_singular_and_condition_number() -> None:
    a = torch.tensor([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]],
                     dtype=torch.float64)
    assert is_singular(a).tolist() == [True, False, True]
    cond = condition_number(a)
    assert cond[1].item() == pytest.approx(4.0)
    assert cond[0].item() > 1e15 and cond[2].item() == float("inf")


# ---------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(("name", "shapes", "message"), [
    ("sum", [(2, 3), (3, 2)], "same shape"),
    ("sum", [(2, 3)], "takes 2 operand"),
    ("product", [(2, 3), (2, 3)], "as many columns in A as rows in B"),
    ("matvec", [(2, 3), (2, 1)], "v with 3 entries"),
    ("matvec", [(2, 3), (1, 3)], "v with 3 entries"),
    ("transpose", [(2, 2), (2, 2)], "takes 1 operand"),
    ("transpose", [(11, 2)], "1 to 10 rows"),
    ("transpose", [(0, 2)], "1 to 10 rows"),
    ("svd", [(2, 11)], "1 to 10 rows"),
    ("inverse", [(2, 3)], "needs a square matrix"),
    ("eigenvalues", [(3, 2)], "needs a square matrix"),
    ("eigenvectors", [(1, 4)], "needs a square matrix"),
])
def test_dims_of_refuses_shapes_that_do_not_fit(name: str, shapes: list[tuple[int, int]], message: str) -> None:
    with pytest.raises(OperandError, match=message):
        OPERATIONS[name].dims_of(shapes)


def test_dims_of_accepts_shapes_that_fit() -> None:
    assert OPERATIONS["product"].dims_of([(2, 3), (3, 4)]) == (2, 3, 4)
    assert OPERATIONS["matvec"].dims_of([(2, 3), (3, 1)]) == (2, 3)
    assert OPERATIONS["sum"].dims_of([(10, 1), (10, 1)]) == (10, 1)
    assert OPERATIONS["inverse"].dims_of([(4, 4)]) == (4,)
    assert OPERATIONS["svd"].dims_of([(4, 2)]) == (4, 2)


@pytest.mark.parametrize("name", list(SIZES))
def test_labels_round_trip(name: str) -> None:
    op = OPERATIONS[name]
    sizes = op.all_sizes()
    assert len(sizes) == {"product": 1000}.get(name, 10 if op.square_only else 100)
    for dims in sizes:
        assert op.parse_label(op.label(dims)) == dims
    assert op.label(sizes[0]) == "1x1"


def test_product_labels() -> None:
    op = OPERATIONS["product"]
    assert op.label((5, 5, 5)) == "5x5" and op.parse_label("5x5") == (5, 5, 5)
    assert op.label((2, 3, 4)) == "2x3x4" and op.parse_label("2x3x4") == (2, 3, 4)
    assert op.parse_label("5x5x5") == (5, 5, 5)
    with pytest.raises(ValueError, match="'5x3' is not a size of product: sizes m x k x n"):
        op.parse_label("5x3")  # once read as 5x5x3


@pytest.mark.parametrize(("name", "label"), [("eigenvalues", "5x3"), ("inverse", "5"), ("sum", "3"), ("sum", "11x1"),
                                             ("sum", "0x2"), ("transpose", "3x4x5"), ("product", "1x2x3x4"),
                                             ("matvec", " 3x3"), ("matvec", "3x3 "), ("sum", "x"), ("sum", "")])
def test_a_label_that_names_no_size_is_refused_by_name(name: str, label: str) -> None:
    with pytest.raises(ValueError, match=f"{label!r} is not a size of {name}: "):
        OPERATIONS[name].parse_label(label)


@given(st.sampled_from(sorted(OPERATIONS)), st.text(alphabet="0123456789x ²-", max_size=9))
def test_parse_label_returns_a_size_or_a_value_error(name: str, label: str) -> None:
    op = OPERATIONS[name]
    try:
        dims = op.parse_label(label)
    except ValueError as exc:
        assert repr(label) in str(exc)
    else:
        assert dims in op.all_sizes()


def test_invertible_draws_skip_an_exactly_singular_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uniform draw that happens to be exactly singular is redrawn, not a crash (it once stopped a
    25-minute training run at step 4,950)."""
    import lawt.ops.inverse

    original = lawt.ops.inverse.uniform
    draws = iter([torch.tensor([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]]], dtype=torch.float64)])

    def first_singular(batch: int, rows: int, cols: int, gen: torch.Generator) -> torch.Tensor:
        drawn = next(draws, None)
        return original(batch, rows, cols, gen) if drawn is None else drawn

    monkeypatch.setattr(lawt.ops.inverse, "uniform", first_singular)
    problems = get_operation("inverse").generate(3, (2,), torch.Generator().manual_seed(0), "uniform")
    a = problems.operands[0]
    assert a.shape == (3, 2, 2) and not bool(is_singular(a).any())
    assert torch.equal(a[0], torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64))


@pytest.mark.parametrize("name", [name for name, op in OPERATIONS.items() if op.typed_inputs])
def test_typed_problems_are_whole_numbers_with_zeros_and_keep_symmetry(name: str) -> None:
    """What people type: integers in [-10, 10], about a quarter zeros, half the problems non-negative; the
    eigen operations' matrices stay symmetric."""
    op = OPERATIONS[name]
    dims = op.parse_label("4x4")
    operands = op.generate(400, dims, torch.Generator().manual_seed(3), TYPED).operands
    for x in operands:
        assert torch.equal(x, x.round()) and float(x.abs().max()) <= 10
        assert 0.15 < float((x == 0).double().mean()) < 0.35
        non_negative = (x >= 0).flatten(1).all(1).double().mean()
        assert 0.4 < float(non_negative) < 0.65
    if op.symmetric_only:
        assert torch.equal(operands[0], operands[0].transpose(1, 2))


def test_typed_problems_are_seeded_and_not_for_the_inverse() -> None:
    op = OPERATIONS["product"]
    a, b = (op.generate(5, (2, 3, 2), torch.Generator().manual_seed(1), TYPED).operands for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="unknown distribution 'typed'"):
        OPERATIONS["inverse"].generate(2, (3,), torch.Generator(), TYPED)


@pytest.mark.parametrize(("name", "dims"), [("matvec", (1, 5)), ("matvec", (4, 2)), ("product", (1, 3, 1)),
                                            ("product", (3, 4, 2))])
def test_cancelling_rows_answer_a_tenth_of_their_terms_or_less(name: str, dims: Dims) -> None:
    """The cancelling draw is the uniform one with about half the rows of A changed in one entry each, so that the
    row's dot product with a column of B is at most a tenth of Σ|a_iq b_qj| (uniform rows seldom are)."""
    op = OPERATIONS[name]
    plain = op.generate(2000, dims, torch.Generator().manual_seed(3))
    a, b = op.generate(2000, dims, torch.Generator().manual_seed(3), "cancelling").operands
    assert torch.equal(b, plain.operands[1]) and bool((a.abs() <= 10).all())
    entries_changed = (a != plain.operands[0]).sum(2)
    assert int(entries_changed.max()) == 1
    changed = entries_changed == 1
    assert 0.35 < float(changed.double().mean()) < 0.53  # half chosen, some cannot reach
    ratio = ((a @ b).abs() / (a.unsqueeze(3) * b.unsqueeze(1)).abs().sum(2)).amin(2)  # per row, its best column
    assert bool((ratio[changed] < 0.115).all()), ratio[changed].max()  # ρ / (1 − ρ) at most
    assert float((ratio[changed] < 0.01).double().mean()) > 0.4  # ρ is log-uniform on [1e-3, 1e-1]
    assert float((ratio[~changed] < 0.115).double().mean()) < 0.4


def test_cancelling_leaves_a_single_column_alone() -> None:
    """With one column, a row's dot product is one term: nothing can cancel, and nothing changes."""
    op = OPERATIONS["matvec"]
    plain = op.generate(50, (4, 1), torch.Generator().manual_seed(1))
    hard = op.generate(50, (4, 1), torch.Generator().manual_seed(1), "cancelling")
    assert all(torch.equal(x, y) for x, y in zip(plain.operands, hard.operands, strict=True))


def test_cancelling_sums_put_nearly_minus_a_in_about_half_of_b() -> None:
    """The cancelling sum is the uniform one with about half the entries of B replaced by −A(1 ± ρ), ρ ≤ 0.3:
    those entries of A + B are at most a fifth of |a| + |b|, and a hundredth or less for about a third of them."""
    op = OPERATIONS["sum"]
    plain = op.generate(2000, (2, 3), torch.Generator().manual_seed(0))
    a, b = op.generate(2000, (2, 3), torch.Generator().manual_seed(0), "cancelling").operands
    assert torch.equal(a, plain.operands[0]) and bool((b.abs() <= 10).all())
    changed = b != plain.operands[1]
    assert 0.45 < float(changed.double().mean()) < 0.55
    ratio = ((a + b).abs() / (a.abs() + b.abs()))[changed]
    assert float(ratio.max()) < 0.2 and 0.25 < float((ratio <= 0.01).double().mean()) < 0.6
