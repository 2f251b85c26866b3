"""Bounds: comment rate limits (429), a full inference pool (503 + Retry-After), the request time limit (504)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx2
from fastapi.testclient import TestClient

from lawt.solver import Answer, Calculator
from lawt.web import create_app
from lawt.web.services import Limits

PROBLEM = {"operation": "transpose", "operands": [[[1, 2], [3, 4]]]}


class SlowCalculator(Calculator):
    """The real calculator, a fixed time slower."""

    def __init__(self, root: Path, seconds: float) -> None:
        super().__init__(root=root)
        self.seconds = seconds

    def solve(self, operation: str, operands: list, beam: int = 1) -> Answer:
        time.sleep(self.seconds)
        return super().solve(operation, operands, beam)


def concurrent_computes(app, count: int) -> list[httpx2.Response]:
    async def go() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await asyncio.gather(*(client.post("/api/compute", json=PROBLEM) for _ in range(count)))

    return asyncio.run(go())


def test_comment_rate_limit_per_visitor(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, limits=Limits(comments_per_visitor=3))
    with TestClient(app) as alice, TestClient(app) as bob:
        for k in range(3):
            assert alice.post("/api/comments", json={"text": f"hello {k}"}).status_code == 201
        refused = alice.post("/api/comments", json={"text": "one too many"})
        assert refused.status_code == 429
        assert "too many comments" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0
        assert bob.post("/api/comments", json={"text": "another visitor"}).status_code == 201
        assert len(alice.get("/api/comments").json()) == 4


def test_comment_rate_limit_overall(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, limits=Limits(comments_per_visitor=10, comments_overall=2))
    statuses = []
    for k in range(3):
        with TestClient(app) as visitor:  # a fresh cookie each time
            statuses.append(visitor.post("/api/comments", json={"text": f"visitor {k}"}).status_code)
    assert statuses == [201, 201, 429]


def test_full_pool_answers_503_with_retry_after(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, calculator=SlowCalculator(tiny_zoo, 1.0),
                     limits=Limits(workers=1, queue=0))
    responses = concurrent_computes(app, 3)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 503, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"].isdigit()
    assert "busy" in busy.json()["detail"]


def test_queue_holds_waiting_computations(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, calculator=SlowCalculator(tiny_zoo, 0.5),
                     limits=Limits(workers=1, queue=1))
    codes = sorted(r.status_code for r in concurrent_computes(app, 3))
    assert codes == [200, 200, 503]


def test_pool_frees_its_slots(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, calculator=SlowCalculator(tiny_zoo, 0.05),
                     limits=Limits(workers=1, queue=0))
    with TestClient(app) as client:
        assert [client.post("/api/compute", json=PROBLEM).status_code for _ in range(5)] == [200] * 5


def test_slow_request_hits_the_time_limit(tiny_zoo: Path, database_url: str) -> None:
    app = create_app(tiny_zoo, database_url, calculator=SlowCalculator(tiny_zoo, 1.5),
                     limits=Limits(request_seconds=0.3))
    with TestClient(app) as client:
        started = time.monotonic()
        response = client.post("/api/compute", json=PROBLEM)
        assert time.monotonic() - started < 1.2
    assert response.status_code == 504
    assert "longer than 0.3 s" in response.json()["detail"]
