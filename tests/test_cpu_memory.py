"""lm.device.keep_cpu_memory: freed large tensors are reused, not page-faulted in again each step."""

import os
import platform
import subprocess
import sys

import pytest

from lm.device import keep_cpu_memory

# three 30,000 x 256 fp32 tensors made and freed, as a books_cpu step makes its embedding gradients and logits;
# prints the page faults per round (of 22,500 pages made) and the process's huge pages
PATTERN = """
import resource, sys, torch
from lm.device import keep_cpu_memory
if sys.argv[1] == "keep":
    keep_cpu_memory()
def rounds(n):
    for _ in range(n):
        xs = [torch.ones(30000, 256) for _ in range(3)]
        del xs
rounds(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(10)
huge = next(line.split()[1] for line in open("/proc/self/smaps_rollup") if line.startswith("AnonHugePages"))
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10, huge)
"""

linux_glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt, /proc"
)


def faults_and_huge_kb(mode: str, env: dict | None = None) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return float(out[0]), int(out[1])


@linux_glibc
def test_freed_tensors_come_back_without_page_faults():
    default, _ = faults_and_huge_kb("default")
    kept, _ = faults_and_huge_kb("keep")
    assert default > 2000  # glibc hands the freed blocks back to the kernel: the pattern does what a step does
    assert kept < 100, f"{kept} page faults per round after keep_cpu_memory (22,500 pages made)"


@linux_glibc
def test_large_tensors_get_huge_pages_where_the_kernel_offers_them(monkeypatch):
    setting = "/sys/kernel/mm/transparent_hugepage/enabled"
    try:
        offered = "[never]" not in open(setting).read()
    except OSError:
        offered = False
    if not offered:
        pytest.skip("this kernel offers no transparent huge pages")
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    assert faults_and_huge_kb("keep")[1] > 0
    assert faults_and_huge_kb("keep", {**os.environ, "THP_MEM_ALLOC_ENABLE": "0"})[1] == 0  # the user's 0 stays


def test_nothing_changes_without_a_thp_setting_file(tmp_path, monkeypatch):
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    keep_cpu_memory(tmp_path / "missing")
    assert "THP_MEM_ALLOC_ENABLE" not in os.environ
