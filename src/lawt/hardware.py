"""Where a run computes: the device of this process and the precision of its matrix products."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def process_device() -> torch.device:
    """``cuda:LOCAL_RANK`` when a GPU is present (one per torchrun process), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    return torch.device("cpu")


def bf16_is_fast(device: torch.device) -> bool:
    """Whether this device multiplies bfloat16 matrices in hardware (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` becomes ``bf16`` where the hardware has it and ``fp32`` elsewhere; the others stay."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """Mixed precision for the forward pass: matrix products in bfloat16, weights, norms and loss in float32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
