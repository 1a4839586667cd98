"""How the engine turns hidden states into log p(target): fp32 logits, an adaptive softmax's clusters, or a
bf16 matmul whose rounding falls on small numbers. Each is called with (hidden (N, D), rows (Q,), targets (Q,))
and returns log p(targets[q] | hidden[rows[q]]) (Q,) fp32; lm/probes/engine.py picks one per model and precision.
"""

from __future__ import annotations

import torch

from lm.model.rnnlm import RNNLM


def _lse(logits: torch.Tensor) -> torch.Tensor:
    """logsumexp over dim 1 in fp32, in place on a fresh fp32 copy (~25% faster than torch.logsumexp)."""
    x = logits.float()
    m = x.amax(dim=1, keepdim=True)
    return x.sub_(m).exp_().sum(dim=1).log_().add_(m[:, 0])


class ExactDecoder:
    """log p from the model's own decoder, fp32 logits."""

    def __init__(self, decoder: torch.nn.Module):
        self.decoder = decoder

    def __call__(self, hidden: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.decoder(hidden).float()  # (n, V)
        return logits[rows, targets] - _lse(logits)[rows]


class AdaptiveDecoder:
    """log p from an adaptive softmax: the head and each target's own cluster, fp32 log-softmax."""

    def __init__(self, net: RNNLM):
        self.net = net

    def __call__(self, hidden: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.net.target_log_probs(hidden[rows], targets)


class ShiftedDecoder:
    """bf16 decoder matmul whose output rounding falls on small numbers.

    A bf16 result is rounded to ~3 significant digits, so a logit of 10 is off by ~0.02, and so is log p.
    Here each row r is shifted by c_r, the exact (fp32) logit of one of its queried targets, inside the matmul:

        [h_r, 1, 1, -c_hi, -c_lo] . [W_i, b_hi, b_lo, 1, 1] = z_ri - c_r     (bias and c split into two bf16s)

    so the logits that dominate the logsumexp are near 0 when rounded; the target logits are computed in fp32,
    and log p = z_t - (c_r + logsumexp_i(z_ri - c_r)). Weights and h are the bf16-rounded ones throughout, so what
    is left is the log-softmax of a slightly rounded model, not the rounding of its logits.
    """

    def __init__(self, decoder: torch.nn.Linear, dtype=torch.bfloat16):
        w = decoder.weight.detach().to(dtype)  # (V, D)
        b = decoder.bias.detach().float()
        b_hi = b.to(dtype)
        b_lo = (b - b_hi.float()).to(dtype)
        ones = torch.ones(len(b), 2, dtype=dtype, device=b.device)
        self.w_aug = torch.cat([w, b_hi[:, None], b_lo[:, None], ones], dim=1).contiguous()  # (V, D + 4)
        self.w32, self.b32, self.dtype = w.float(), b, dtype

    def __call__(self, hidden: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        n = len(hidden)
        h = hidden.to(self.dtype)
        h32 = h.float()  # the rounded h, as the matmul sees it: log p is exact for it
        z_t = (h32[rows] * self.w32[targets]).sum(dim=1) + self.b32[targets]  # (Q,) exact target logits
        c = torch.zeros(n, device=hidden.device)
        c[rows] = z_t  # one of each row's queries (which one does not matter: c cancels below)
        c_hi = c.to(self.dtype)
        c_lo = (c - c_hi.float()).to(self.dtype)
        ones = torch.ones(n, 2, dtype=self.dtype, device=hidden.device)
        h_aug = torch.cat([h, ones, -c_hi[:, None], -c_lo[:, None]], dim=1)
        shifted = torch.nn.functional.linear(h_aug, self.w_aug)  # (n, V) bf16: z - c
        return z_t - (c[rows] + _lse(shifted)[rows])
