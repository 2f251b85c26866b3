"""Speed of the engine on this machine: data generation, training steps and greedy decoding."""

from __future__ import annotations

import time

import torch

from lawt.data import BatchSampler
from lawt.encodings import make_codec
from lawt.hardware import autocast, resolve_precision
from lawt.model import Seq2Seq
from lawt.ops import get_operation

DIMS = (5, 5)
ARCH = {"d_model": 256, "n_heads": 8, "enc_layers": 1, "dec_layers": 1}


def _timed(fn, seconds: float, warmup: int = 1) -> tuple[int, float]:
    """Call ``fn`` (returning a work count) for about ``seconds``; returns (work done, elapsed)."""
    for _ in range(warmup):
        fn()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += fn()
    return done, time.perf_counter() - start


def generation_rate(seconds: float, chunk: int = 4096) -> float:
    """5×5 transpose problems generated, solved and encoded in P10, per second."""
    op, codec = get_operation("transpose"), make_codec("P10")
    gen = torch.Generator().manual_seed(0)

    def work() -> int:
        problems = op.generate(chunk, DIMS, gen)
        codec.encode(problems.operands, op.solve(problems.operands))
        return chunk

    done, elapsed = _timed(work, seconds)
    return done / elapsed


def training_rate(encoding: str, seconds: float, precision: str = "fp32", batch_size: int = 64,
                  ffn_mult: int = 4) -> float:
    """Training examples per second (data, forward, backward, AdamW step) for 5×5 transposition."""
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    op, codec = get_operation("transpose"), make_codec(encoding)
    model = Seq2Seq.for_codec(codec, ffn_mult=ffn_mult, **ARCH)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    sampler = BatchSampler(op, codec, [DIMS], groups=1)

    def step() -> int:
        batch = sampler.batch(batch_size)
        with autocast(precision, cpu):
            loss = model(batch.src, batch.src_mask, batch.tgt_in, batch.tgt_out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return batch_size

    done, elapsed = _timed(step, seconds, warmup=2)
    return done / elapsed


def decode_ms(encoding: str, seconds: float, batch_size: int = 128) -> float:
    """Milliseconds per example of greedy, KV-cached decoding of full 5×5 transpose answers."""
    torch.manual_seed(0)
    op, codec = get_operation("transpose"), make_codec(encoding)
    model = Seq2Seq.for_codec(codec, **ARCH).eval()
    problems = op.generate(batch_size, DIMS, torch.Generator().manual_seed(0))
    src = codec.encode_operands(problems.operands)
    slots = codec.slots(op.answer_shapes(DIMS), batch_size)
    def work() -> int:
        with torch.inference_mode():
            model.generate(src, None, slots, codec, stop_early=False)  # every position, as a trained model
        return batch_size

    done, elapsed = _timed(work, seconds)
    return 1000 * elapsed / done


def run_benchmarks(quick: bool = False) -> dict:
    """All figures of ``lawt bench``; ``quick`` shortens every measurement.

    Training is measured as ``lawt train`` runs by default (``precision: auto``: bfloat16 matrix products
    where the hardware has them), and also in plain fp32 for comparison with machines without them.
    """
    s = 0.5 if quick else 5.0
    p10_seconds, own_seconds = (s, s) if quick else (20.0, 10.0)
    precision = resolve_precision("auto", torch.device("cpu"), ARCH["d_model"])
    result: dict = {
        "threads": torch.get_num_threads(),
        "train_precision": precision,
        "gen_examples_per_s": round(generation_rate(s)),
        "train_examples_per_s_p10": round(training_rate("P10", p10_seconds, precision), 1),
        "train_examples_per_s_own": round(training_rate("entry", own_seconds, precision), 1),
    }
    if precision != "fp32":
        result["train_examples_per_s_p10_fp32"] = round(training_rate("P10", p10_seconds), 1)
        result["train_examples_per_s_own_fp32"] = round(training_rate("entry", own_seconds), 1)
    result["decode_ms_per_example_p10"] = round(decode_ms("P10", s), 3)
    result["decode_ms_per_example_own"] = round(decode_ms("entry", s), 3)
    return result
