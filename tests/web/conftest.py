"""Fixtures for the web tests: a tiny transpose model in a temporary zoo, the app on a SQLite file, a live server."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from lawt.bar import record_check
from lawt.encodings import make_codec
from lawt.evaluate import CONFIDENCE_BINS
from lawt.model import Seq2Seq
from lawt.web import create_app
from lawt.web.db import metadata
from lawt.zoo import read_card, save_model

TINY_SIZES = ["2x2", "3x3", "4x4", "5x5"]
QUARTER = {"5%": 0.25, "2%": 0.25, "1%": 0.25, "0.5%": 0.25}  # the accuracy its card claims


def build_tiny_zoo(root: Path) -> Path:
    """A zoo holding one untrained 1-layer transpose model (answers are wrong, provenance is real), its card
    claiming a quarter right and two sizes measured against the bar."""
    torch.manual_seed(0)
    model = Seq2Seq.for_codec(make_codec("entry"), d_model=32, n_heads=2, enc_layers=1, dec_layers=1)
    card = {"operation": "transpose", "encoding": "entry", "sizes": TINY_SIZES,
            "training": {"examples": 0, "cpu_seconds": 3600,  # half of it another operation's model's
                         "started_from": {"cpu_seconds": 1800, "recipe": {"operation": "singular_values"}}},
            "evaluation": {"operation": "transpose", "encoding": "entry", "tolerances": list(QUARTER),
                           "distributions": {name: {"count": 400, "distribution": name, "overall": QUARTER,
                            "per_size": {size: {"count": 100, **QUARTER} for size in TINY_SIZES},
                            "calibration": [{"from": a, "to": b, "count": 40 + i, **QUARTER}  # every range measured
                                            for i, (a, b) in enumerate(itertools.pairwise(CONFIDENCE_BINS))]}
                                             for name in ("uniform", "typed")}}}
    save_model(model, card, root / "transpose")
    record_check(root / "transpose", {"tolerance": 0.01, "share": 0.99, "max_dim": 10, "problems_per_size": 2000,
                                      "seed": 4242, "sha256": read_card(root / "transpose")["sha256"],
                                      "per_size": {"2x2": 0.97, "3x3": 0.995}, "unserved": []})
    return root


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file; or, when $LAWT_TEST_DATABASE_URL is set (e.g. PostgreSQL), that database emptied."""
    url = os.environ.get("LAWT_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'lawt.db'}"
        return
    engine = create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def client(tiny_zoo: Path, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_zoo, database_url)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``lawt serve`` in a subprocess on a free loopback port."""

    def __init__(self, root: Path, database_url: str, log: Path) -> None:
        self.root, self.database_url, self.log = root, database_url, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lawt.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--root", str(self.root), "--database-url", self.database_url],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def live_server(tiny_zoo: Path, database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tiny_zoo, database_url, tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_server(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server for a whole test module (its database is shared by the module's tests)."""
    folder = tmp_path_factory.mktemp("shared-server")
    server = LiveServer(tiny_zoo, f"sqlite:///{folder / 'lawt.db'}", folder / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scratchpad_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose only model, singular values, writes the Gram matrix before its answer."""
    folder = tmp_path_factory.mktemp("scratchpad-zoo")
    torch.manual_seed(0)
    model = Seq2Seq.for_codec(make_codec("entry"), d_model=32, n_heads=2, enc_layers=1, dec_layers=1)
    save_model(model, {"operation": "singular_values", "encoding": "entry", "sizes": ["2x3"], "scratchpad": "gram",
                       "training": {"examples": 0, "cpu_seconds": 0.0}}, folder / "zoo" / "singular_values")
    server = LiveServer(folder / "zoo", f"sqlite:///{folder / 'lawt.db'}", folder / "server.log")
    server.start()
    yield server
    server.stop()
