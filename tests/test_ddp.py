"""Data-parallel training: two gloo processes launched by torchrun end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from lawt.encodings import make_codec
from lawt.model import Seq2Seq

# Run ``lawt train`` (the CLI) in each process, and save that process's model when training is over.
LAUNCHER = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    import torch
    import lawt.train
    from lawt.cli import leave, main

    made = []
    create = lawt.train.Seq2Seq.for_codec

    def capture(codec, **arch):
        made.append(create(codec, **arch))
        return made[-1]

    lawt.train.Seq2Seq.for_codec = staticmethod(capture)
    code = main(["train", *sys.argv[1:]])
    out = Path(sys.argv[sys.argv.index("--out-dir") + 1])
    torch.save(made[0].state_dict(), out / f"rank{os.environ['RANK']}.pt")
    leave(code)  # as the lawt command does
''')


def test_two_process_training_keeps_the_ranks_identical(tmp_path: Path, port: int) -> None:
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER)
    out = tmp_path / "run"
    args = ["--operation", "sum", "--encoding", "entry", "--sizes", "2x2,3x3", "--d-model", "32", "--n-heads", "4",
            "--ffn-mult", "2", "--batch-size", "8", "--steps", "6", "--warmup-steps", "2", "--lr", "0.003",
            "--log-every", "2", "--checkpoint-every", "3", "--eval-problems", "8", "--seed", "1",
            "--out-dir", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                             "--master-addr", "127.0.0.1", "--master-port", str(port), str(script), *args],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run saved in" in result.stdout
    rank0 = torch.load(out / "rank0.pt")
    rank1 = torch.load(out / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    torch.manual_seed(1)  # the weights moved away from their (shared) initialisation
    initial = Seq2Seq.for_codec(make_codec("entry"), d_model=32, n_heads=4, ffn_mult=2).state_dict()
    assert any(not torch.equal(initial[k], rank0[k]) for k in rank0)
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(state["model"][k], rank0[k]) for k in rank0)
    assert len(state["rng"]) == 2 and not torch.equal(state["rng"][0], state["rng"][1])  # ranks draw other data
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "loss" in r]
    assert [r["step"] for r in logged] == [2, 4, 6]  # only rank 0 writes
    assert logged[-1]["examples"] == 2 * 8 * 6  # examples of both ranks
    assert (out / "last" / "model.safetensors").exists() and (out / "best" / "model.safetensors").exists()
