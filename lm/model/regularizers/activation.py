"""Activation regularisation (AR) and temporal activation regularisation (TAR) (Merity et al. 2017): L2 penalties
that keep the last recurrent layer's outputs small and slowly changing. Both are means over every element, as in
AWD-LSTM, so alpha and beta carry over from its recipes."""

from __future__ import annotations

import torch


def activation_penalty(dropped: torch.Tensor) -> torch.Tensor:
    """AR: mean of squares of the last layer's output after dropout, (B, T, H) -> ()."""
    return dropped.float().pow(2).mean()


def temporal_penalty(raw: torch.Tensor) -> torch.Tensor:
    """TAR: mean of squares of h_t - h_{t-1} within the chunk, on the output before dropout, (B, T, H) -> ()."""
    if raw.shape[1] < 2:  # a one-step chunk has no difference
        return raw.new_zeros((), dtype=torch.float32)
    return (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
