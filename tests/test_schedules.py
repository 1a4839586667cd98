"""Per-step schedules: the warm-up/cosine shape, and Lightning stepping it every optimizer step over the run's
estimated number of steps (optim=adamw_cosine)."""

import csv
import math

import pytest
import torch

from cli import train_tiny
from lm.training.schedules import warmup_cosine


def lrs(total, warmup, final_ratio=0.0, steps=None, decay_fraction=1.0):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sched = warmup_cosine(opt, total, warmup, final_ratio, decay_fraction=decay_fraction)
    out = []
    for _ in range(steps or total + 3):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_then_half_a_cosine_to_the_floor():
    got = lrs(total=110, warmup=10, final_ratio=0.1)
    assert got[:10] == pytest.approx([2.0 * (i + 1) / 10 for i in range(10)])
    assert got[10] == pytest.approx(2.0)
    assert got[60] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # half way down the cosine
    assert got[35] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 25 / 100))))
    assert got[110:] == pytest.approx([0.2] * 3)  # stays at the floor past the end
    assert all(a >= b for a, b in zip(got[10:], got[11:]))


def test_warmup_stable_decay_holds_the_lr_until_the_last_fraction():
    got = lrs(total=110, warmup=10, decay_fraction=0.2)  # decay over the last 20 of the 100 steps after warm-up
    assert got[10:90] == pytest.approx([2.0] * 80)
    assert got[100] == pytest.approx(1.0)  # half way down the cosine
    assert got[95] == pytest.approx(1.0 * (1 + math.cos(math.pi * 5 / 20)))
    assert got[110:] == pytest.approx([0.0] * 3)
    with pytest.raises(ValueError, match="decay_fraction"):
        lrs(total=10, warmup=0, decay_fraction=0.0)


def test_a_warmup_longer_than_a_tenth_of_the_run_is_cut_to_it():
    got = lrs(total=40, warmup=100)  # adamw_cosine's 100 warm-up steps in a 40-step smoke run
    assert got[:4] == pytest.approx([2.0 * (i + 1) / 4 for i in range(4)])
    assert got[4] == pytest.approx(2.0) and got[40] == pytest.approx(0.0)


def test_a_finished_run_resumed_for_longer_stretches_its_cosine_to_the_new_end():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    first = warmup_cosine(opt, total_steps=20)
    for _ in range(20):
        opt.step()
        first.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)  # at the floor when the first run ends
    opt2 = torch.optim.SGD([p], lr=1.0)
    longer = warmup_cosine(opt2, total_steps=40)  # resumed with twice the epochs
    longer.load_state_dict(first.state_dict())
    opt2.step()
    longer.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * 21 / 40)))


def test_bad_schedule_arguments_are_refused():
    with pytest.raises(ValueError, match="total_steps"):
        lrs(total=0, warmup=0)


@pytest.mark.slow
def test_a_run_with_optim_adamw_cosine_decays_over_its_own_steps(tmp_path):
    cosine = ("optim=adamw_cosine", "optim.scheduler.warmup_steps=3", "trainer.log_every_n_steps=1")
    train_tiny(tmp_path, *cosine, "trainer.max_epochs=2", "data.lines.train=150", "test=false")
    with open(next((tmp_path / "run").rglob("metrics.csv")), newline="") as f:
        lr = [(int(r["step"]), float(r["lr-AdamW"])) for r in csv.DictReader(f) if r.get("lr-AdamW")]
    steps = [s for s, _ in lr]
    total = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    base = 0.004
    # LearningRateMonitor logs the lr step s uses, before it: rising over the warm-up, then falling across the
    # epoch boundary (a per-step schedule, not a per-epoch one) to ~0 at the run's last step
    assert lr[0] == (0, pytest.approx(base / 3, rel=1e-4))
    assert max(v for _, v in lr) == pytest.approx(base, rel=0.05)
    assert lr[-1][1] < base * 0.02 and steps[-1] >= total - 2


def test_a_time_budget_decays_over_wall_time_and_resumes_with_its_elapsed_time(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("lm.training.schedules.time.perf_counter", lambda: clock[0])
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = warmup_cosine(opt, total_minutes=1.0)  # 60 s
    for _ in range(3):  # the clock starts when the scheduler is made (Lightning: just before training)
        clock[0] += 10
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * 30 / 60)))
    saved = sched.state_dict()
    # a new process: its clock reads something else entirely; the 30 s carry over, the time before its first
    # step does not count
    clock[0] = 5.0
    opt2 = torch.optim.SGD([p], lr=1.0)
    again = warmup_cosine(opt2, total_minutes=1.0)
    again.load_state_dict(saved)
    for _ in range(2):
        clock[0] += 10
        opt2.step()
        again.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * 40 / 60)))
    clock[0] += 100
    opt2.step()
    again.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
