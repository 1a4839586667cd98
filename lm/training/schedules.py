"""Per-step learning-rate schedules (Lightning steps them every optimizer step: `interval: step` in the optim
config; `total_steps` is filled in from the trainer's estimate).

A time budget ("the best model ten minutes can train") knows its length in minutes, not steps: with
`total_minutes` the cosine runs over training wall time instead, so the lr reaches its floor as the budget ends
(stop the run with trainer.max_time). The elapsed time travels in the scheduler's state, so a resumed run goes on
from where it was."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine:
    """lr factor of step t: linear warm-up over `warmup_steps` (at most a tenth of `total_steps`), then half a
    cosine from 1 down to `final_ratio` at `total_steps` (or after `total_minutes` of training) and flat after.
    With `decay_fraction` f < 1 the factor stays 1 for the first 1 - f of the run after the warm-up and the
    cosine spans the last f (warm-up, stable, decay)."""

    def __init__(
        self,
        total_steps: int | None,
        warmup_steps: int = 0,
        final_ratio: float = 0.0,
        total_minutes: float | None = None,
        decay_fraction: float = 1.0,
    ):
        if (
            (total_minutes is None and (total_steps or 0) <= 0)
            or (total_minutes is not None and total_minutes <= 0)
            or warmup_steps < 0
            or not 0.0 <= final_ratio <= 1.0
            or not 0.0 < decay_fraction <= 1.0
        ):
            raise ValueError(
                f"need total_steps > 0 (or total_minutes > 0), warmup_steps >= 0, 0 <= final_ratio <= 1 and "
                f"0 < decay_fraction <= 1, got {total_steps}, {total_minutes}, {warmup_steps}, {final_ratio}, "
                f"{decay_fraction}"
            )
        if total_steps is not None and total_minutes is None:
            warmup_steps = min(warmup_steps, total_steps // 10)  # a short run (a test, a smoke run) still decays
        self.total_steps, self.warmup_steps, self.final_ratio = total_steps, warmup_steps, final_ratio
        self.decay_fraction = decay_fraction
        self.total_seconds = None if total_minutes is None else 60.0 * total_minutes
        self.elapsed = 0.0  # seconds of training so far, summed step by step (saved with the scheduler)
        self._last = None  # perf_counter at the previous step; None after a (re)start

    def progress(self, step: int) -> float:
        if self.total_seconds is None:
            return (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        now = time.perf_counter()
        if self._last is not None:
            self.elapsed += now - self._last
        self._last = now
        return self.elapsed / self.total_seconds

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            self.progress(step)  # the clock runs during the warm-up too
            return (step + 1) / self.warmup_steps
        done = min(1.0, max(0.0, (self.progress(step) - 1.0) / self.decay_fraction + 1.0))
        return self.final_ratio + (1.0 - self.final_ratio) * 0.5 * (1.0 + math.cos(math.pi * done))


class _Schedule(LambdaLR):
    def load_state_dict(self, state_dict):
        # only the elapsed time comes from the checkpoint; the schedule's shape is this run's config, so a finished
        # run resumed with a larger trainer.max_epochs (or budget) stretches its cosine to the new end instead of
        # training on at the old floor
        cosines = [fn for fn in self.lr_lambdas if isinstance(fn, WarmupCosine)]
        shapes = [{k: v for k, v in vars(fn).items() if k != "elapsed"} for fn in cosines]
        super().load_state_dict(state_dict)
        for fn, shape in zip(cosines, shapes):
            vars(fn).update(shape, _last=None)  # the saved perf_counter reading belongs to another process


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int | None = None,
    warmup_steps: int = 0,
    final_ratio: float = 0.0,
    total_minutes: float | None = None,
    decay_fraction: float = 1.0,
) -> LambdaLR:
    """lr rises linearly over `warmup_steps`, then follows half a cosine from lr down to lr * final_ratio at
    `total_steps` (or after `total_minutes` of training) and stays there; the cosine spans the last
    `decay_fraction` of the run, the lr holding before it."""
    return _Schedule(optimizer, WarmupCosine(total_steps, warmup_steps, final_ratio, total_minutes, decay_fraction))


def step_with_scaled_lr(optimizer: Optimizer, closure: Callable, scale: Callable[[], float]):
    """optimizer.step with every group's lr multiplied by scale() for this step only. AWD's variable BPTT scales
    by chunk length / bptt, so each token weighs the same; the closure (forward, backward, clipping) runs inside
    step() and sets the chunk length, so the rate is scaled after it."""
    base = [group["lr"] for group in optimizer.param_groups]

    def scaled():
        loss = closure()
        for group, lr in zip(optimizer.param_groups, base):
            group["lr"] = lr * scale()
        return loss

    try:
        return optimizer.step(closure=scaled)
    finally:
        for group, lr in zip(optimizer.param_groups, base):
            group["lr"] = lr
