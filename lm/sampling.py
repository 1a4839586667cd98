"""Sampling math: logits in, token ids out. Pure functions of their arguments (and the generators given).

Order of the filters, as in most LM toolkits: temperature, then top-k, then top-p on what top-k kept.
Draws use the inverse CDF with one uniform number per row, so a row's draw depends only on its own generator:
a batch of rows with one generator each samples exactly what each row would sample alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Generators = torch.Generator | Sequence[torch.Generator] | None

# A cumulative sum of fp32 probabilities is off by a few ulps; without this slack a token whose mass only
# "reaches" top_p after rounding would be dropped or kept by chance.
TOP_P_SLACK = 1e-6


def check_args(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
               greedy: bool = False) -> None:
    """Raise ValueError naming the first bad argument."""
    if not greedy and not temperature > 0:  # `not >` also rejects NaN
        raise ValueError(f"temperature must be > 0 (got {temperature}); use greedy=true for argmax decoding")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 or null (got {top_k})")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or null (got {top_p})")


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Logits (B, V) with the tokens outside top-k / the top-p nucleus set to -inf (a new tensor)."""
    out = logits.float().clone()
    if top_k is not None and top_k < out.size(-1):
        kth = torch.topk(out, int(top_k), dim=-1).values[:, -1:]  # (B, 1); ties with the k-th are kept
        out.masked_fill_(out < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        out.masked_fill_(~nucleus_mask(out.softmax(-1), top_p), float("-inf"))
    return out


def nucleus_mask(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """(B, V) bool: the smallest set of most probable tokens whose total probability reaches top_p."""
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p  # mass of the more probable tokens, (B, V)
    keep_sorted = before < top_p - TOP_P_SLACK  # the first token always has before == 0 and is kept
    return torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)


def probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """The distribution `sample` draws from: (B, V) float32 rows that sum to 1."""
    check_args(temperature, top_k, top_p)
    logits = logits.float() if temperature == 1 else logits.float() / temperature
    return filter_logits(logits, top_k, top_p).softmax(-1)


def uniforms(batch: int, generator: Generators, device: torch.device) -> torch.Tensor:
    """(B, 1) numbers in [0, 1): one per row, from that row's generator (drawn on the CPU, so a seed means
    the same numbers on every device)."""
    if generator is None or isinstance(generator, torch.Generator):
        u = torch.rand(batch, 1, generator=generator)
    else:
        if len(generator) != batch:
            raise ValueError(f"generator: got {len(generator)} generators for {batch} rows")
        u = torch.cat([torch.rand(1, 1, generator=g) for g in generator])
    return u.to(device)


def draw(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse CDF: for each row the first token whose cumulative probability exceeds u * total. (B,) long."""
    cdf = probs.cumsum(-1)  # (B, V), non-decreasing; a zero-probability token never raises it
    total = cdf[:, -1:]
    x = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))  # strictly below the top
    return torch.searchsorted(cdf, x, right=True).squeeze(-1)


def sample(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           generator: Generators = None, greedy: bool = False) -> torch.Tensor:
    """Next token per row. logits: (B, V) or (V,); returns (B,) or () long.

    generator: None (torch's global generator), one torch.Generator for all rows, or one per row.
    greedy: the argmax, ignoring the other settings and drawing no random numbers.
    """
    check_args(temperature, top_k, top_p, greedy)
    flat = logits.dim() == 1
    rows = logits.unsqueeze(0) if flat else logits
    if greedy:
        ids = rows.argmax(-1)
    else:
        ids = draw(probabilities(rows, temperature, top_k, top_p), uniforms(rows.size(0), generator, rows.device))
    return ids.squeeze(0) if flat else ids
