"""What a training run does with a non-finite loss or gradient norm: stop (default) or skip the step.

`stop` notes the first step whose value is not finite on the device, with no host sync, and `check` raises at the
next logging step or checkpoint; `skip` decides at once (one host sync per step, the price of skipping) and stops
after MAX_SKIPS bad steps in a row all the same.
"""

from __future__ import annotations

import torch

from lm.errors import Diverged

MODES = ("stop", "skip")
MAX_SKIPS = 100
WHAT = ("loss", "gradient norm")  # `which` 0 and 1
ADVICE = "try a lower optim.optimizer.lr or trainer.gradient_clip_val=0.25"


class NonFiniteGuard:
    def __init__(self, mode: str = "stop"):
        if mode not in MODES:
            raise ValueError(f"nonfinite must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.first_bad: torch.Tensor | None = None  # (2,): step of the first bad loss / gradient norm, -1: none
        self.skips = self.skips_in_row = 0

    def finite(self, value: torch.Tensor, which: int, step: int, strategy) -> bool:
        """False when this step must be skipped (mode skip); `which`: 0 the loss, 1 the gradient norm; `step`
        the 1-based step number; `strategy` Lightning's, for the ranks to agree."""
        bad = ~torch.isfinite(value.detach())
        if self.mode == "stop":
            if self.first_bad is None:
                self.first_bad = torch.full((2,), -1, dtype=torch.long, device=value.device)
            first = self.first_bad[which]
            first.copy_(torch.where(bad & (first < 0), step, first))
            return True
        # ranks must agree (a rank that skips its backward pass would leave the others waiting); the gradient
        # norm is computed after the all-reduce, so it agrees already
        bad = strategy.reduce_boolean_decision(bool(bad), all=False) if which == 0 else bool(bad)
        if not bad:
            if which == 1:  # the step went through
                self.skips_in_row = 0
            return True
        self.skips += 1
        self.skips_in_row += 1
        if self.skips_in_row >= MAX_SKIPS:
            raise Diverged(
                f"training diverged: {MAX_SKIPS} steps in a row had a non-finite {WHAT[which]} "
                f"(last at step {step}); {ADVICE}"
            )
        return False

    def check(self) -> None:
        """Raise Diverged if a bad value was noted (mode stop); reads the device once."""
        if self.first_bad is None:
            return
        loss_step, grad_step = self.first_bad.tolist()
        if loss_step < 0 and grad_step < 0:
            return
        which = 0 if loss_step >= 0 and (grad_step < 0 or loss_step <= grad_step) else 1
        raise Diverged(
            f"training diverged: the {WHAT[which]} was not finite at step {(loss_step, grad_step)[which]}; no "
            "checkpoint was written from it. Try a lower optim.optimizer.lr, trainer.gradient_clip_val=0.25 or "
            "trainer.precision=32-true, or nonfinite=skip to skip such steps"
        )
