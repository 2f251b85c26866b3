"""Load test of the web calculator on the loopback interface; prints one JSON summary.

N clients (each with its own cookie, so its own visitor) send a mix of valid and invalid requests for D
seconds or until a request budget is spent. Unexpected answers are 5xx other than 503 and connection
errors. Without --url the script starts its own server (``lawt serve``) on a free port and stops it after.

    python scripts/loadtest.py --clients 50 --duration 120
    python scripts/loadtest.py --url http://127.0.0.1:8000 --pid 1234 --clients 5 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import torch

from lawt.ops import OPERATIONS

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
EXPECTED = {200, 201, 413, 422, 429, 503}
MAX_CLIENTS, MAX_SECONDS = 200, 600


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    sent: int = 0


def valid_problem(rng: random.Random) -> dict:
    """A problem of any registered operation, size up to 6 and distribution, drawn by the operation itself."""
    op = OPERATIONS[rng.choice(list(OPERATIONS))]
    dims = rng.choice(op.all_sizes(max_dim=6))
    distribution = rng.choice([d for d in op.all_distributions() if op.covers(d, dims)])
    gen = torch.Generator().manual_seed(rng.randrange(2**62))
    operands = [x[0].tolist() for x in op.generate(1, dims, gen, distribution).operands]
    return {"operation": op.name, "operands": operands, "beam": rng.choice([1, 1, 1, 2])}


INVALID_BODIES = [
    '{"operation": "transpose", "operands": [[[1, 2], [3]]]}',
    '{"operation": "transpose", "operands": [[[NaN, 1]]]}',
    '{"operation": "eigenvalues", "operands": [[[1, 2], [3, 4]]]}',
    '{"operation": "sum", "operands": [[[1, 2]], [[1, 2, 3]]]}',
    '{"operation": "transpose", "operands": [[[1e200]]]}',
    '{"operation": "cube", "operands": [[[1]]]}',
    '{"operation": "transpose", "operands": ' + "[" * 2000 + "]" * 2000 + "}",
    '{"operation": "transpose", "operands": [' + ",".join(["[" + ",".join(["1"] * 11) + "]"] * 11) + "]}",
    '{"operation": "transpose", "operands": [[["1"]]], "beam": "wide"}',
    '{"operation": "transpose", "operands": [[[1]]], "padding": "' + "x" * 70_000 + '"}',
    "{not json",
]


async def one_request(client: httpx2.AsyncClient, rng: random.Random) -> httpx2.Response:
    roll = rng.random()
    if roll < 0.55:
        return await client.post("/api/compute", json=valid_problem(rng))
    if roll < 0.75:
        return await client.post("/api/compute", content=rng.choice(INVALID_BODIES),
                                 headers={"Content-Type": "application/json"})
    if roll < 0.80:
        text = rng.choice(["load test ✓", "负载测试", " ", "x" * 120])
        return await client.post("/api/comments", json={"text": text})
    path = rng.choice(["/api/models", "/api/stats", "/api/comments", "/healthz",
                       "/api/example?operation=transpose", "/api/example?operation=inverse&size=4x4",
                       "/api/example?operation=svd&size=11x2"])
    return await client.get(path)


async def simulate_client(url: str, seed: int, deadline: float, budget: int, tally: Tally, timeout: float) -> None:
    rng = random.Random(seed)
    async with httpx2.AsyncClient(base_url=url, timeout=timeout) as client:
        while time.monotonic() < deadline and tally.sent < budget:
            tally.sent += 1
            started = time.perf_counter()
            try:
                response = await one_request(client, rng)
            except httpx2.HTTPError as exc:
                tally.statuses["connection-error"] += 1
                tally.unexpected.append(f"{type(exc).__name__}: {exc}")
                continue
            tally.latencies_ms.append(1000 * (time.perf_counter() - started))
            tally.statuses[str(response.status_code)] += 1
            if response.status_code not in EXPECTED:
                tally.unexpected.append(f"{response.request.method} {response.request.url.path}: "
                                        f"{response.status_code} {response.text[:200]}")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)


def rss_kb(pid: int | None) -> int | None:
    """Resident memory of a process from /proc, in KiB."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path | None, database_url: str | None, log: Path) -> tuple[subprocess.Popen, str]:
    """``lawt serve`` on a free loopback port; returns once /healthz answers."""
    port = free_port()
    command = [sys.executable, "-m", "lawt.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--database-url", database_url or f"sqlite:///{log.parent / 'loadtest.db'}"]
    if root is not None:
        command += ["--root", str(root)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with code {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx2.HTTPError:
            pass
        time.sleep(0.25)
    process.kill()
    raise SystemExit("server did not start within 90 s")


async def run_load(url: str, clients: int, seconds: float, budget: int, timeout: float, seed: int) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(simulate_client(url, seed + k, deadline, budget, tally, timeout) for k in range(clients)))
    return tally


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on the loopback interface (default: start one)")
    parser.add_argument("--pid", type=int, help="the running server's process id, for its memory use")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, help="model zoo of the server this script starts")
    parser.add_argument("--database-url", help="database of the server this script starts (default: a temp file)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.duration <= MAX_SECONDS:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --duration 0..{MAX_SECONDS} s")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must be on the loopback interface (127.0.0.1, localhost or ::1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    process = None
    with tempfile.TemporaryDirectory(prefix="lawt-loadtest-") as scratch:
        url, pid = args.url, args.pid
        if url is None:
            process, url = start_server(args.root, args.database_url, Path(scratch) / "server.log")
            pid = process.pid
        try:
            rss_start = rss_kb(pid)
            started = time.monotonic()
            tally = asyncio.run(run_load(url, args.clients, args.duration, args.max_requests, args.timeout,
                                         args.seed))
            elapsed = time.monotonic() - started
            rss_end = rss_kb(pid)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=15)
    summary = {
        "url": url, "clients": args.clients, "seconds": round(elapsed, 1), "requests": tally.sent,
        "requests_per_second": round(tally.sent / elapsed, 1) if elapsed else None,
        "unexpected_errors": len(tally.unexpected), "unexpected_examples": tally.unexpected[:5],
        "status_counts": dict(sorted(tally.statuses.items())),
        "latency_ms": {"p50": percentile(tally.latencies_ms, 0.50), "p99": percentile(tally.latencies_ms, 0.99)},
        "server_rss_kb": {"start": rss_start, "end": rss_end},
    }
    print(json.dumps(summary))
    return 1 if tally.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
