"""Where scripts run: the device a `device=` setting names, torch's CPU threads and how CPU memory is reused."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

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


def keep_cpu_memory(thp_setting: Path = Path("/sys/kernel/mm/transparent_hugepage/enabled")) -> None:
    """Large CPU tensors reuse freed memory instead of fresh pages from the kernel. With glibc's defaults a
    training step of books_cpu touched ~20,000 new 4 KiB pages (each one a page fault and a zeroing by the kernel):
    its 30,000 x 256 embedding gradient and (2,240 x 2,002) logits are freed back to the kernel and mapped anew each
    step. Freed blocks up to 32 MiB (glibc's largest mmap threshold) now stay in the heap, which is trimmed only past
    1 GiB of free memory at its top; blocks of 2 MiB and more get transparent huge pages where the kernel offers
    them on request (torch's THP_MEM_ALLOC_ENABLE, read at torch's first CPU allocation, so call this before
    building tensors). BENCHMARKS.md, "Throughput settings". Linux with glibc only; elsewhere nothing changes."""
    if platform.system() != "Linux":
        return
    if thp_setting.is_file() and "[never]" not in thp_setting.read_text():
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # an explicit 0 from the user stays
    if platform.libc_ver()[0] == "glibc":
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD


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
