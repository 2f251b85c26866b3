"""Reading matrices typed or pasted by people, and checking nested lists from JSON.

Accepted text: NumPy/JSON ``[[1, 2], [3, 4]]``, MATLAB ``[1 2; 3 4]``, rows separated by ``;`` or new
lines with entries separated by spaces, commas or tabs (spreadsheet paste). A single row or a plain list
is a vector only where the caller says so.
"""

from __future__ import annotations

import math
import re

from lawt.encodings import MAX_DIM


class MatrixFormatError(ValueError):
    """Text or JSON that is not a matrix we accept; the message says what is wrong."""


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(token: str, row: int, col: int) -> float:
    if not _NUMBER.match(token):
        raise MatrixFormatError(f"row {row}, column {col}: {token[:20]!r} is not a number")
    value = float(token)
    if not math.isfinite(value):
        raise MatrixFormatError(f"row {row}, column {col}: {token[:20]!r} is too large")
    return value


def parse_matrix(text: str) -> list[list[float]]:
    """Parse one matrix from text; raises :class:`MatrixFormatError`."""
    body = text.strip()
    if len(body) > 20_000:
        raise MatrixFormatError("matrix text is too long")
    compact = re.sub(r"\s+", "", body)
    if compact.startswith("[["):
        body = compact
        if not body.endswith("]]"):
            raise MatrixFormatError("a matrix written [[...], [...]] must end with ']]'")
        rows_text = re.split(r"\]\s*,\s*\[", body[2:-2])
        rows = [[t for t in r.split(",")] for r in rows_text]
    else:
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        elif body.startswith("[") or body.endswith("]"):
            raise MatrixFormatError("unbalanced brackets")
        rows = [re.split(r"[,\s]+", r.strip()) for r in re.split(r"[;\n]", body) if r.strip()]
    if not rows or rows == [[""]]:
        raise MatrixFormatError("the matrix is empty")
    matrix = [[_number(t.strip(), i + 1, j + 1) for j, t in enumerate(r)] for i, r in enumerate(rows)]
    return check_matrix(matrix)


def check_matrix(matrix: object, allow_vector: bool = False) -> list[list[float]]:
    """Validate a nested list (rows of numbers); a flat list becomes a column when ``allow_vector``."""
    if not isinstance(matrix, list) or not matrix:
        raise MatrixFormatError("a matrix must be a non-empty list of rows")
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in matrix):
        if not allow_vector:
            raise MatrixFormatError("expected a list of rows, got a flat list")
        matrix = [[x] for x in matrix]
    rows: list[list[float]] = []
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or not row:
            raise MatrixFormatError(f"row {i + 1} must be a non-empty list of numbers")
        values = []
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise MatrixFormatError(f"row {i + 1}, column {j + 1}: not a number")
            if not math.isfinite(x):
                raise MatrixFormatError(f"row {i + 1}, column {j + 1}: NaN and infinity are not accepted")
            values.append(float(x))
        rows.append(values)
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise MatrixFormatError(f"rows have different lengths ({', '.join(map(str, sorted(widths)))})")
    if len(rows) > MAX_DIM or len(rows[0]) > MAX_DIM:
        raise MatrixFormatError(f"matrices are limited to {MAX_DIM}x{MAX_DIM}, got {len(rows)}x{len(rows[0])}")
    return rows


def format_matrix(matrix: list[list[float]]) -> str:
    """NumPy-style text with three significant digits."""
    return "[" + ",\n ".join("[" + ", ".join(f"{x:.3g}" for x in row) + "]" for row in matrix) + "]"
