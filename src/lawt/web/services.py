"""The objects a running app shares between requests, and the dependency that hands them out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from lawt.solver import Calculator
from lawt.web.inference import InferencePool
from lawt.web.ratelimit import RateLimiter
from lawt.web.store import Store
from lawt.web.visitors import VisitorTracker


@dataclass(frozen=True)
class Limits:
    """Tunable bounds of the service."""

    workers: int = 2  # inference threads
    queue: int = 16  # computations waiting beyond the workers before 503
    request_seconds: float = 30.0  # time limit of any request (504 beyond)
    max_body_bytes: int = 64 * 1024  # 413 beyond
    comments_per_visitor: int = 5  # per comment_window, 429 beyond
    comments_overall: int = 60  # from everyone together, per comment_window
    comment_window: float = 60.0


@dataclass
class Services:
    calculator: Calculator
    store: Store
    pool: InferencePool
    visitors: VisitorTracker
    root: Path
    limits: Limits
    comment_limits: tuple[RateLimiter, RateLimiter] = field(init=False)

    def __post_init__(self) -> None:
        window = self.limits.comment_window
        self.comment_limits = (RateLimiter(self.limits.comments_per_visitor, window),
                               RateLimiter(self.limits.comments_overall, window))

    def public_reason(self, reason: str) -> str:
        """A model's failure reason without the server's folder layout."""
        return reason.replace(f"{self.root}/", "")


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]
