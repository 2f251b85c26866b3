"""The registry of operations: one entry per task, keyed by the id used in the CLI, API and files."""

from __future__ import annotations

from lawt.ops.base import OperandError, Operation, Problems
from lawt.ops.eigenvalues import Eigenvalues
from lawt.ops.eigenvectors import Eigenvectors
from lawt.ops.inverse import Inverse
from lawt.ops.matvec import MatVec
from lawt.ops.product import Product
from lawt.ops.scratchpad import with_scratchpad
from lawt.ops.singular_values import SingularValues
from lawt.ops.sum import Sum
from lawt.ops.svd import SVD
from lawt.ops.transpose import Transpose

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Transpose(), Sum(), MatVec(), Product(), Eigenvalues(), Eigenvectors(), SingularValues(), SVD(), Inverse()
    )
}


def get_operation(name: str, scratchpad: str = "") -> Operation:
    """The operation with this id, answered after the named scratchpad if one is given; a ValueError listing
    the ids (or the operation's scratchpads) otherwise."""
    try:
        op = OPERATIONS[name]
    except KeyError:
        raise ValueError(f"unknown operation {name!r}; choose from {', '.join(OPERATIONS)}") from None
    return with_scratchpad(op, scratchpad)


__all__ = ["OPERATIONS", "OperandError", "Operation", "Problems", "get_operation"]
