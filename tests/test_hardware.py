"""Device and precision choices of a run."""

from __future__ import annotations

import pytest
import torch

from lawt.hardware import autocast, bf16_is_fast, process_device, resolve_precision


def test_auto_precision_follows_the_hardware_and_the_width() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu, 256) == ("bf16" if bf16_is_fast(cpu) else "fp32")
    assert resolve_precision("auto", cpu, 128) == "fp32"
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, not 'fp16'"):
        resolve_precision("fp16", torch.device("cpu"))


def test_bf16_multiplies_in_bfloat16_and_fp32_does_not() -> None:
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast("bf16", torch.device("cpu")):
        assert (a @ b).dtype == torch.bfloat16
    with autocast("fp32", torch.device("cpu")):
        assert (a @ b).dtype == torch.float32


def test_process_device_is_the_cpu_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert process_device() == torch.device("cpu")
