"""NT-ASGD (Merity, Keskar & Socher 2018): SGD that turns into averaged SGD once validation stops improving.

Before the switch it is plain SGD (weight decay included). `observe(val_loss)` is called after each validation; it
switches when the loss is worse than the best of all but the last `nonmono` validations, i.e. after `nonmono`
validations without a new best. From then on every step also updates ax, the running mean of the iterates after
the switch (torch.optim.ASGD with t0 = 0 and lambd = 0 computes the same), and the caller validates, saves and
tests the averaged weights (`averaged()`). Fine-tuning (AWD's finetune.py) averages from the first step and stops
when `observe` finds no improvement for `nonmono` validations again.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


class NTASGD(torch.optim.SGD):
    def __init__(
        self,
        params,
        lr: float,
        weight_decay: float = 0.0,
        nonmono: int = 5,
        averaged_from_start: bool = False,
        stop_when_flat: bool = False,
    ):
        if nonmono < 1:
            raise ValueError(f"NT-ASGD needs nonmono >= 1, got {nonmono}")
        super().__init__(params, lr=lr, weight_decay=weight_decay)
        self.nonmono, self.stop_when_flat = nonmono, stop_when_flat
        self.history: list[float] = []  # every validation loss observed
        self.averaging = averaged_from_start
        self.averaged_steps = 0  # steps since averaging began: ax is the mean of that many iterates

    def observe(self, val_loss: float) -> str | None:
        """Record a validation loss; "switch" when averaging begins now, "stop" when a fine-tuning run (or any
        run with stop_when_flat) has stopped improving while averaging, else None."""
        flat = len(self.history) > self.nonmono and val_loss > min(self.history[: -self.nonmono])
        self.history.append(val_loss)
        if flat and not self.averaging:
            self.averaging = True
            return "switch"
        if flat and self.stop_when_flat:
            return "stop"
        return None

    def step(self, closure=None):
        loss = super().step(closure)
        if self.averaging:
            self.averaged_steps += 1
            with torch.no_grad():
                for p in self.params():
                    state = self.state[p]
                    if "ax" not in state:  # the first iterate after the switch
                        state["ax"] = p.detach().clone()
                    else:  # ax_n = ax_{n-1} + (p_n - ax_{n-1}) / n
                        state["ax"].add_(p.detach() - state["ax"], alpha=1 / self.averaged_steps)
        return loss

    def params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def average(self) -> dict[torch.Tensor, torch.Tensor]:
        """parameter -> its averaged value; empty before the first averaged step."""
        return {p: self.state[p]["ax"] for p in self.params() if "ax" in self.state[p]}

    @contextmanager
    def averaged(self):
        """The parameters hold the averaged weights inside the block and their iterates again after it."""
        average = self.average()
        saved = {p: p.detach().clone() for p in average}
        with torch.no_grad():
            for p, ax in average.items():
                p.copy_(ax)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, value in saved.items():
                    p.copy_(value)

    # the schedule's state travels with the optimizer's in a checkpoint, so a resumed run switches when the
    # interrupted one would have
    def state_dict(self):
        return {
            **super().state_dict(),
            "ntasgd": {
                "history": list(self.history),
                "averaging": self.averaging,
                "averaged_steps": self.averaged_steps,
            },
        }

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        extra = state_dict.pop("ntasgd", None)
        super().load_state_dict(state_dict)
        if extra is not None:
            self.history = list(extra["history"])
            self.averaging, self.averaged_steps = extra["averaging"], extra["averaged_steps"]


def swap_in_average(average: dict, params: dict, state_dict: dict) -> dict | None:
    """Put the averaged weights (`average`: parameter -> its average) into a checkpoint's `state_dict` and return
    the iterates they replace (None before the switch); `params`: the module's state_dict(keep_vars=True), whose
    tensors are the parameters (a tied weight appears under both its keys)."""
    if not average:
        return None
    by_param = {id(p): ax for p, ax in average.items()}
    iterate = {}
    for key, p in params.items():
        if id(p) in by_param:
            iterate[key], state_dict[key] = state_dict[key], by_param[id(p)].detach().clone()
    return iterate
