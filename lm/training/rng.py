"""The random generators a training run draws from (dropout masks, sampling), as values a checkpoint can hold.

Saved with every checkpoint and set again right before the first step of a resumed run, so that the resumed run
draws the same dropout masks as the run that was interrupted. Plain lists and tensors: `weights_only` loads them.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def collect() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
