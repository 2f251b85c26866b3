"""GET /api/models: every operation, with its model card or the reason it has no model."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lawt.ops import OPERATIONS
from lawt.solver import model_card
from lawt.web.schemas import OperationInfo
from lawt.web.services import ServicesDep
from lawt.web.visitors import visitor_id

router = APIRouter(tags=["models"], dependencies=[Depends(visitor_id)])


@router.get("/models", response_model=list[OperationInfo])
def models(svc: ServicesDep) -> list[dict]:
    """All nine operations in the calculator's order; unavailable ones say why."""
    rows = []
    for name, op in OPERATIONS.items():
        status = svc.calculator.status(name)
        available = not isinstance(status, str)
        rows.append({
            "operation": name, "title": op.title, "operands": op.n_operands, "square": op.square_only,
            "symmetric": op.symmetric_only, "available": available,
            "reason": None if available else svc.public_reason(status),
            "card": model_card(status) if available else None,
        })
    return rows
