"""GET /: the calculator page, which also gives a first-time visitor their cookie.

Setting the cookie here, before the page's scripts run, keeps their parallel first API calls from
counting one person as several visitors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse

from lawt.web.visitors import visitor_id

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def index(_: Annotated[str, Depends(visitor_id)], response: Response) -> FileResponse:
    page = FileResponse(STATIC_DIR / "index.html", media_type="text/html")
    page.headers.raw.extend(response.headers.raw)  # the Set-Cookie the dependency may have added
    return page
