"""GET /api/example: random operands from the distribution the operation's model was trained on."""

from __future__ import annotations

import random
import secrets
from typing import Annotated

import torch
from fastapi import APIRouter, Depends, HTTPException, Query

from lawt.ops import OPERATIONS, Operation
from lawt.ops.base import Dims
from lawt.web.schemas import Example, OperationName, problems
from lawt.web.services import ServicesDep
from lawt.web.visitors import visitor_id

router = APIRouter(tags=["examples"], dependencies=[Depends(visitor_id)])
UNTRAINED_MAX_DIM = 5  # without a model, pick sizes up to 5x5


def _tidy(matrix: torch.Tensor) -> list[list[float]]:
    """Entries are on the three-significant-digit grid; drop the binary noise (-2.8000000000000003)."""
    return [[float(f"{x:.3g}") for x in row] for row in matrix.tolist()]


def _size(op: Operation, label: str) -> Dims:
    try:
        return op.parse_label(label)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@router.get("/example", response_model=Example, responses=problems(422))
def example(svc: ServicesDep, operation: OperationName,
            size: Annotated[str | None, Query(pattern=r"^\d{1,2}x\d{1,2}$", description="e.g. 5x5")] = None) -> dict:
    """Random operands; without ``size``, one of the sizes the model was trained on."""
    op = OPERATIONS[operation]
    loaded = svc.calculator.status(operation)
    trained = [] if isinstance(loaded, str) else loaded.sizes
    dims = _size(op, size) if size else random.choice(trained or op.all_sizes(UNTRAINED_MAX_DIM))
    distribution = ("" if isinstance(loaded, str) else loaded.card.get("distribution")) or op.distributions[0]
    gen = torch.Generator().manual_seed(secrets.randbits(62))
    operands = op.generate(1, dims, gen, distribution).operands
    return {"operation": op.name, "size": op.label(dims), "distribution": distribution,
            "operands": [_tidy(t[0]) for t in operands], "trained_size": dims in trained}
