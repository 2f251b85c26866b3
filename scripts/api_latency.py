"""Latency of POST /api/compute for one operation and size, over sequential requests; prints one JSON object.

    python scripts/api_latency.py                      # starts its own server on a free loopback port
    python scripts/api_latency.py --requests 200 --operation transpose --size 5x5

The benchmark of issue #3: a 5×5 transpose answered with p50 ≤ 50 ms and p99 ≤ 200 ms over 200 requests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import torch

from lawt.ops import get_operation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import percentile, start_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--operation", default="transpose")
    parser.add_argument("--size", default="5x5", help="size label of the operation (5x5; 2x3x4 for a product)")
    args = parser.parse_args()
    try:
        op = get_operation(args.operation)
        dims = op.parse_label(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    gen = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(None, f"sqlite:///{tmp}/latency.db", Path(tmp) / "server.log")
        try:
            latencies, provenance = [], set()
            with httpx2.Client(base_url=url, timeout=30) as client:
                for i in range(args.requests + 5):
                    operands = [x[0].tolist() for x in op.generate(1, dims, gen).operands]
                    start = time.perf_counter()
                    response = client.post("/api/compute", json={"operation": args.operation, "operands": operands})
                    elapsed = 1000 * (time.perf_counter() - start)
                    response.raise_for_status()
                    if i >= 5:  # the first requests warm up the server
                        latencies.append(elapsed)
                        provenance.add(response.json()["provenance"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({"operation": args.operation, "size": args.size, "requests": len(latencies),
                      "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
                      "max_ms": round(max(latencies), 1), "provenance": sorted(provenance)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
