"""GET and POST /api/comments: short notes from visitors, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from lawt.web.jsonbody import StrictJSONRoute
from lawt.web.schemas import CommentIn, CommentOut, problems
from lawt.web.services import ServicesDep
from lawt.web.store import Comment
from lawt.web.visitors import visitor_id

router = APIRouter(route_class=StrictJSONRoute, tags=["comments"])


@router.get("/comments", response_model=list[CommentOut], dependencies=[Depends(visitor_id)])
def list_comments(svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 50) -> list[Comment]:
    """The newest comments first, with their UTC timestamps."""
    return svc.store.recent_comments(limit)


@router.post("/comments", status_code=201, response_model=CommentOut, responses=problems(413, 422, 429))
async def post_comment(comment: CommentIn, visitor: Annotated[str, Depends(visitor_id)],
                       svc: ServicesDep) -> Comment:
    """Store a comment (1 to 100 characters, trimmed); it is committed before the 201 answer."""
    per_visitor, overall = svc.comment_limits
    if not (per_visitor.allow(visitor) and overall.allow("*")):
        window = svc.limits.comment_window
        raise HTTPException(status_code=429, headers={"Retry-After": str(int(window))},
                            detail=f"too many comments: at most {svc.limits.comments_per_visitor} per visitor "
                                   f"every {window:g} s")
    return await run_in_threadpool(svc.store.add_comment, comment.text)
