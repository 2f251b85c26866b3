"""A comment answered 201 survives SIGKILL of the server."""

from __future__ import annotations

import httpx2


def test_comment_survives_sigkill(live_server) -> None:
    with httpx2.Client(base_url=live_server.url, timeout=10) as client:
        created = client.post("/api/comments", json={"text": "still here after kill -9"})
        assert created.status_code == 201
        client.post("/api/compute", json={"operation": "transpose", "operands": [[[1, 2], [3, 4]]]})
        cookies = client.cookies
    live_server.kill()
    live_server.start()
    with httpx2.Client(base_url=live_server.url, timeout=10, cookies=cookies) as client:
        comments = client.get("/api/comments").json()
        stats = client.get("/api/stats").json()
    assert comments[0] == created.json()
    assert stats["computations"] == 1 and stats["total_visitors"] == 1
