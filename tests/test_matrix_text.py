"""Reading matrices typed or pasted by people: JSON, MATLAB, tab- and comma-separated text."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lawt.matrix_text import MatrixFormatError, check_matrix, format_matrix, parse_matrix

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**6, 10**6).map(float),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, 0.1, -2.5e-5]),
)
shapes = st.tuples(st.integers(1, 10), st.integers(1, 10))
matrices = shapes.flatmap(lambda s: st.lists(st.lists(numbers, min_size=s[1], max_size=s[1]),
                                             min_size=s[0], max_size=s[0]))

FAST = settings(deadline=None, max_examples=40)  # keep the suite within its time budget


def same(a: list[list[float]], b: list[list[float]]) -> bool:
    """Equal entry by entry, bit for bit (the sign of zero included)."""
    def equal(x: float, y: float) -> bool:
        return x == y and math.copysign(1, x) == math.copysign(1, y)

    return len(a) == len(b) and all(
        len(r) == len(s) and all(equal(x, y) for x, y in zip(r, s, strict=True)) for r, s in zip(a, b, strict=True))


FORMATS = {
    "json": lambda m: json.dumps(m),
    "json-compact": lambda m: json.dumps(m, separators=(",", ":")),
    "numpy-lines": lambda m: "[" + ",\n ".join("[" + ", ".join(repr(x) for x in r) + "]" for r in m) + "]",
    "matlab": lambda m: "[" + "; ".join(" ".join(repr(x) for x in r) for r in m) + "]",
    "matlab-commas": lambda m: "[" + "; ".join(", ".join(repr(x) for x in r) for r in m) + "]",
    "tabs": lambda m: "\n".join("\t".join(repr(x) for x in r) for r in m) + "\n",
    "tabs-crlf": lambda m: "\r\n".join("\t".join(repr(x) for x in r) for r in m) + "\r\n",
    "commas": lambda m: "\n".join(",".join(repr(x) for x in r) for r in m),
    "semicolons": lambda m: "; ".join(" ".join(repr(x) for x in r) for r in m),
    "padded": lambda m: "\n\n  " + "\n".join("  ".join(repr(x) for x in r) for r in m) + "  \n\n",
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@FAST
@given(matrix=matrices)
def test_formatted_matrices_parse_back_exactly(fmt: str, matrix: list[list[float]]) -> None:
    text = FORMATS[fmt](matrix)
    assert same(parse_matrix(text), matrix), text


@FAST
@given(matrix=matrices)
def test_check_matrix_accepts_json_values(matrix: list[list[float]]) -> None:
    as_json = json.loads(json.dumps(matrix))
    assert same(check_matrix(as_json), matrix)


def test_exponents_signs_and_bare_points() -> None:
    assert parse_matrix("[[1e3, -2.5E-2], [+.5, 5.]]") == [[1000.0, -0.025], [0.5, 5.0]]
    assert parse_matrix("[ [1, 2], [3, 4] ]") == [[1.0, 2.0], [3.0, 4.0]]
    assert parse_matrix("1;2;3") == [[1.0], [2.0], [3.0]]
    assert parse_matrix("[1 -2 3]") == [[1.0, -2.0, 3.0]]


@pytest.mark.parametrize("text", [json.dumps([[1, 2], [3, 4]], indent=2), "[\n  [1, 2],\n  [3, 4]\n]",
                                  "[\t[1, 2], [3, 4]]"])
def test_pretty_printed_json(text: str) -> None:
    assert parse_matrix(text) == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   \n\n ", "empty"),
    ("[]", "empty"),
    ("[[]]", "empty"),
    ("1 2; 3", "rows have different lengths \\(1, 2\\)"),
    ("[[1, 2], [3]]", "rows have different lengths"),
    ("1 2\n3 4 5", "rows have different lengths"),
    ("1 a; 3 4", "row 1, column 2: 'a' is not a number"),
    ("1 2; 3 0x10", "row 2, column 2: '0x10' is not a number"),
    ("[[1, 2], [3, four]]", "row 2, column 2: 'four' is not a number"),
    ("nan 1", "'nan' is not a number"),
    ("NaN 1", "is not a number"),
    ("inf 1", "'inf' is not a number"),
    ("-Infinity 1", "is not a number"),
    ("1e400 1", "'1e400' is too large"),
    ("[[1, 2], [3, 4]", "must end with"),
    ("[1 2; 3 4", "unbalanced brackets"),
    ("1 2; 3 4]", "unbalanced brackets"),
    ("[[[1]]]", "is not a number"),
    ("\n".join(["1"] * 11), "limited to 10x10, got 11x1"),
    (" ".join(["1"] * 11), "limited to 10x10, got 1x11"),
    ("[" + ",".join(["[" + ",".join(["1"] * 11) + "]"] * 11) + "]", "limited to 10x10, got 11x11"),
    ("1 " * 10_001, "too long"),
])
def test_bad_text_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(MatrixFormatError, match=message):
        parse_matrix(text)


def test_ten_by_ten_is_accepted() -> None:
    text = "\n".join(" ".join(str(i * 10 + j) for j in range(10)) for i in range(10))
    m = parse_matrix(text)
    assert len(m) == 10 and all(len(r) == 10 for r in m) and m[9][9] == 99.0


@pytest.mark.parametrize(("value", "message"), [
    ([], "non-empty list of rows"),
    ("1 2", "non-empty list of rows"),
    ([[1, 2], []], "row 2 must be a non-empty list"),
    ([[1, 2], 3], "row 2 must be a non-empty list"),
    ([[1, True]], "row 1, column 2: not a number"),
    ([[1, "2"]], "row 1, column 2: not a number"),
    ([[1, None]], "not a number"),
    ([[1, float("nan")]], "NaN and infinity are not accepted"),
    ([[float("-inf")]], "NaN and infinity are not accepted"),
    ([[1, 2], [3]], "rows have different lengths"),
    ([[0.0] * 11], "limited to 10x10"),
    ([1, 2, 3], "flat list"),
])
def test_check_matrix_refuses(value: object, message: str) -> None:
    with pytest.raises(MatrixFormatError, match=message):
        check_matrix(value)


def test_flat_list_is_a_column_only_when_allowed() -> None:
    assert check_matrix([1, 2.5, -3], allow_vector=True) == [[1.0], [2.5], [-3.0]]
    with pytest.raises(MatrixFormatError, match="flat list"):
        check_matrix([1, 2.5, -3])


@FAST
@given(matrix=matrices.filter(lambda m: all(abs(x) < 1e300 for r in m for x in r)))
def test_format_matrix_is_readable_back_to_three_digits(matrix: list[list[float]]) -> None:
    text = format_matrix(matrix)
    back = parse_matrix(text)
    for row, row_back in zip(matrix, back, strict=True):
        for x, y in zip(row, row_back, strict=True):
            assert y == float(f"{x:.3g}")
