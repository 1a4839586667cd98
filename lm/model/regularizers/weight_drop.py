"""Weight drop (Wan et al. 2013's DropConnect on the hidden-to-hidden matrices, as AWD-LSTM uses it): each
training batch draws one mask per recurrent matrix U_l; the fused kernel (cuDNN / oneDNN) then runs with the
dropped matrices in place of the stored ones, which stay untouched. Dropping U rather than h_{t-1} keeps the
kernel: no Python loop over time steps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def recurrent_weights(rnn: nn.RNNBase, p: float, training: bool) -> list[torch.Tensor]:
    """The weights `rnn` passes to its kernel (w_ih, w_hh, b_ih, b_hh per layer), with each w_hh dropped
    (scaled by 1 / (1 - p)) when training and p > 0."""
    weights = list(rnn._flat_weights)
    if not training or p == 0:
        return weights
    return [
        F.dropout(w, p, training=True) if name.startswith("weight_hh") else w
        for name, w in zip(rnn._flat_weights_names, weights)
    ]
