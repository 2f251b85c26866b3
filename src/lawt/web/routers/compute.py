"""POST /api/compute: one problem answered by its model, beside the exact answer."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from lawt.solver import UNAVAILABLE, Answer
from lawt.web.jsonbody import StrictJSONRoute
from lawt.web.schemas import ComputeRequest, ComputeResponse, problems
from lawt.web.services import ServicesDep
from lawt.web.visitors import visitor_id

router = APIRouter(route_class=StrictJSONRoute, tags=["compute"], dependencies=[Depends(visitor_id)])


def json_safe(value: Any) -> Any:
    """Replace infinities and NaN (an overflowing determinant, say) by None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


@router.post("/compute", response_model=ComputeResponse, responses=problems(413, 422, 503, 504))
async def compute(problem: ComputeRequest, svc: ServicesDep) -> dict:
    """Answer with the operation's transformer and the exact solver; ``provenance`` says where the answer came from.

    Operands are read scaled by powers of ten into the range the model was trained on (``scaled_by``); input
    that no operation can take (shape, symmetry, count) is refused with 422.
    """
    try:
        answer: Answer = await svc.pool.run(svc.calculator.solve, problem.operation, problem.operands, problem.beam)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    if answer.provenance == UNAVAILABLE:
        answer.provenance_detail = f"model unavailable: {svc.public_reason(answer.provenance_detail)}"
    await run_in_threadpool(svc.store.count_computation, answer.operation)
    return json_safe(answer.to_dict())
