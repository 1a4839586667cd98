"""lm.device.keep_cpu_memory: a training step reuses freed memory instead of page-faulting fresh pages in."""

import platform
import subprocess
import sys

import pytest

# steps of books_cpu's model shape (30k words, tied adaptive softmax, 2 x 256) on random ids; prints the median page
# faults per step over ten steps after five warm-up steps (single steps jump: 0 or some 7,500-page tensors)
STEPS = """
import resource, sys, torch
from lm.device import keep_cpu_memory
from lm.model.rnnlm import RNNLM
if sys.argv[1] == "keep":
    keep_cpu_memory()
torch.manual_seed(0)
model = RNNLM(30000, 256, 256, 2, dropout=0.0, tie_weights=True, softmax="adaptive", cutoffs=[2000, 10000])
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, y = torch.randint(0, 30000, (2, 16, 35))
def step():
    loss = -model.target_log_probs(model.features(x)[0], y).mean()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    opt.step()
for _ in range(5):
    step()
faults = []
for _ in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(faults)[5])
"""


def page_faults_per_step(mode: str) -> float:
    run = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    return float(run.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_a_training_step_reuses_freed_memory():
    default = page_faults_per_step("default")
    kept = page_faults_per_step("keep")
    assert default > 2000  # with glibc's defaults the step's large tensors come back as fresh pages
    assert kept < 500, f"median {kept} page faults per step after keep_cpu_memory ({default} without)"
