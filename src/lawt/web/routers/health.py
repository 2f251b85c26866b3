"""GET /healthz: the process answers and its database is reachable."""

from __future__ import annotations

from fastapi import APIRouter

from lawt.ops import OPERATIONS
from lawt.web.schemas import Health
from lawt.web.services import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(svc: ServicesDep) -> dict:
    svc.store.ping()
    available = sum(not isinstance(svc.calculator.status(name), str) for name in OPERATIONS)
    return {"status": "ok", "models_available": available}
