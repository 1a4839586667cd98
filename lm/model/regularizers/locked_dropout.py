"""Locked (variational) dropout (Gal & Ghahramani 2016): one mask per sequence, shared by all its time steps, so
a unit that is dropped stays dropped for the whole chunk instead of flickering from step to step."""

from __future__ import annotations

import torch
from torch import nn


class LockedDropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"locked dropout needs 0 <= p < 1, got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D): x * mask / (1 - p), the (B, 1, D) mask drawn anew for each call."""
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape[0], 1, x.shape[2], device=x.device) >= self.p  # rand: bernoulli_ is slow on CPU
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
