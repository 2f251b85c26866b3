"""Shared fixtures: tiny models, a tiny model zoo, and settings that keep the suite fast on a shared machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lawt.encodings import Codec, make_codec
from lawt.model import Seq2Seq
from lawt.ops import Operation
from lawt.ops.inverse import is_singular
from lawt.predict import Prediction
from lawt.zoo import save_model

# Two cores are shared with a long training run: with two intra-op threads, torch spends its time waiting on
# the other process (decoding a tiny model is ~100x slower). One thread keeps every test fast.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

TINY_ARCH = {"d_model": 32, "n_heads": 4, "enc_layers": 1, "dec_layers": 1, "ffn_mult": 2}


def exact_prediction(op: Operation, operands: list[torch.Tensor], scale: float = 1.0,
                     through: Codec | None = None) -> Prediction:
    """What a perfect model would answer (optionally scaled, or written in an encoding and read back)."""
    batch = operands[0].shape[0]
    singular = is_singular(operands[0]) if op.name == "inverse" else torch.zeros(batch, dtype=torch.bool)
    parts = [torch.nan_to_num(p, nan=0.0) * scale for p in op.solve(operands)]
    if through is not None:
        parts = through.decode(through.encode_answer(parts, None), [tuple(p.shape[1:]) for p in parts]).parts
    return Prediction(parts=parts, valid=~singular, not_invertible=singular, log_prob=torch.zeros(batch, 1),
                      fields=torch.zeros(batch, 1, 1, 1, dtype=torch.long), decode_seconds=0.0,
                      operand_powers=[torch.zeros(batch)] * len(operands),
                      answer_powers=[torch.zeros(batch)] * len(parts))


def tiny_model(encoding: str, seed: int = 0, **arch: int) -> Seq2Seq:
    """A randomly initialised tiny model for ``encoding`` (deterministic for a seed), in eval mode."""
    torch.manual_seed(seed)
    return Seq2Seq.for_codec(make_codec(encoding), **{**TINY_ARCH, **arch}).eval()


def tiny_train_config(out_dir: Path, **overrides: object) -> dict:
    """Settings for a training run of a few seconds: tiny model, small batches, frequent logs."""
    base: dict = {"operation": "transpose", "encoding": "entry", "sizes": "2x2,2x3", "d_model": 32, "n_heads": 4,
                  "ffn_mult": 2, "batch_size": 16, "warmup_steps": 2, "steps": 12, "lr": 3e-3, "eval_every": 1000,
                  "eval_problems": 10, "checkpoint_every": 6, "log_every": 3, "out_dir": str(out_dir)}
    base.update(overrides)
    return base


def ship_tiny(folder: Path, operation: str, encoding: str, sizes: list[str], seed: int = 0,
              model: Seq2Seq | None = None) -> Seq2Seq:
    """Save a tiny model as a shipped model folder (fp32 weights) and return it."""
    model = model if model is not None else tiny_model(encoding, seed)
    card = {"operation": operation, "encoding": encoding, "sizes": sizes,
            "training": {"examples": 0, "steps": 0, "cpu_seconds": 0.0}}
    save_model(model, card, folder, half=False)
    return model


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo with two tiny (untrained) models: transpose (entry, 2x2) and sum (P1000, 2x2 and 2x3)."""
    root = tmp_path_factory.mktemp("zoo")
    ship_tiny(root / "transpose", "transpose", "entry", ["2x2"], seed=1)
    ship_tiny(root / "sum", "sum", "P1000", ["2x2", "2x3"], seed=2)
    return root


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_lawt(args: list[str], stdin: str | None = None, timeout: float = 120,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m lawt.cli ARGS`` in a fresh process, one torch thread."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "lawt.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def lawt_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``run_lawt``: the CLI in a subprocess."""
    return run_lawt


@pytest.fixture
def make_model() -> Callable[..., Seq2Seq]:
    """``tiny_model``: a seeded tiny random model for an encoding."""
    return tiny_model


@pytest.fixture
def ship_model() -> Callable[..., Seq2Seq]:
    """``ship_tiny``: save a tiny model as a shipped model folder."""
    return ship_tiny


@pytest.fixture
def train_settings() -> Callable[..., dict]:
    """``tiny_train_config``: settings of a training run of a few seconds."""
    return tiny_train_config


@pytest.fixture
def port() -> int:
    return free_port()
