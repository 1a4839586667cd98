"""Clocks and the machine for benchmarks/run.py: wall seconds with the device synchronised, the best matrix-multiply
rate (the ceiling each run's FLOP/s is set against) and a description of the machine for the JSON.
"""

from __future__ import annotations

import math
import platform
import time
from functools import partial

import torch

from lm.generation.fast_decode import linear_op


def sync(device: str) -> None:
    if device == "cuda":  # kernels run asynchronously: wait for them before reading the clock
        torch.cuda.synchronize()


def seconds(fn, device: str) -> float:
    """Wall seconds of fn(), the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def matmul_ceiling(device: str, dtype: torch.dtype, n: int | None = None, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n matrix product (n: 2048 on a CPU, 8192 on a GPU). On a CPU the best of torch.mm
    and oneDNN with a packed weight: torch.mm's fp32 goes through MKL, which on AMD processors runs at about half
    of what oneDNN (and nn.LSTM, which uses it) reaches."""
    n = n or (8192 if device == "cuda" else 2048)
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    ops = [lambda: torch.mm(a, b)]
    if device == "cpu":
        ops.append(partial(linear_op(b.t().contiguous()), a))  # a @ b, oneDNN
    best = math.inf
    for op in ops:
        op()
        for _ in range(repeats):
            best = min(best, seconds(op, device))
    return 2 * n**3 / best


def machine(device: str) -> dict:
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info
