"""Where scripts run: the device a `device=` setting names and torch's CPU threads."""

from __future__ import annotations

import torch

from lm.errors import UserError


def resolve_device(name: str) -> torch.device:
    """auto (CUDA when there is one), cpu, cuda or cuda:N."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not str(name).startswith("cuda:"):
        raise UserError(f"device must be auto, cpu or cuda (got {name!r})")
    if name != "cpu" and not torch.cuda.is_available():
        raise UserError(f"device={name} but CUDA is not available here: use device=cpu or device=auto")
    return torch.device(name)


def set_threads(threads) -> None:
    """torch's CPU threads; None (or 0) keeps torch's default."""
    if not threads:
        return
    try:
        n = int(threads)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or n != threads:
        raise UserError(f"threads must be a whole number >= 1 or null (got {threads})")
    torch.set_num_threads(n)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX). oneDNN also runs bf16 on plain
    AVX-512 by converting, which is slower than fp32, so that does not count."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def native_bf16(accelerator: str) -> bool:
    """Whether a Lightning `accelerator` (cpu, gpu, cuda, auto) runs bf16 matmuls natively on this machine."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_has_bf16()
