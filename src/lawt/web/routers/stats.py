"""GET /api/stats: usage figures for the footer."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lawt.web.schemas import Stats
from lawt.web.services import ServicesDep
from lawt.web.store import Usage
from lawt.web.visitors import visitor_id

router = APIRouter(tags=["stats"], dependencies=[Depends(visitor_id)])


@router.get("/stats", response_model=Stats)
def stats(svc: ServicesDep) -> Usage:
    """Visitors online in the last 5 minutes, all visitors, computations, and the most used operation."""
    return svc.store.usage()
