"""Sampling math: logits in, token ids out. Pure functions of their arguments (and the generators given).

Order of the filters, as in most LM toolkits: temperature, then top-k, then top-p on what top-k kept.
Draws use the inverse CDF with one uniform number per row, so a row's draw depends only on its own generator:
a batch of rows with one generator each samples exactly what each row would sample alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

Generators = torch.Generator | Sequence[torch.Generator] | None

# fp32 probabilities carry rounding error (~1e-7 each); without this slack a token set whose mass reaches
# top_p exactly would keep one more token, or not, by chance. The cumulative sum itself is taken in fp64.
TOP_P_SLACK = 1e-6


def check_args(
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, greedy: bool = False
) -> None:
    """Raise ValueError naming the first bad argument."""
    if not greedy and not temperature > 0:  # `not >` also rejects NaN
        raise ValueError(f"temperature must be > 0 (got {temperature}); use greedy=true for argmax decoding")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 or null (got {top_k})")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or null (got {top_p})")


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Logits (B, V) fp32 with the tokens outside top-k / the top-p nucleus set to -inf (a copy when any is)."""
    out = logits.float()
    if top_k is None and (top_p is None or top_p >= 1):
        return out
    out = out.clone()
    if top_k is not None and top_k < out.size(-1):
        kth = torch.topk(out, int(top_k), dim=-1).values[:, -1:]  # (B, 1); ties with the k-th are kept
        out.masked_fill_(out < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        out.masked_fill_(~nucleus_mask(out.softmax(-1), top_p), float("-inf"))
    return out


def nucleus_mask(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """(B, V) bool: the smallest set of most probable tokens whose total probability reaches top_p."""
    sorted_p, order = probs.sort(dim=-1, descending=True)
    sorted_p = sorted_p.double()
    cum = sorted_p.cumsum(-1)
    before = (cum - sorted_p) / cum[:, -1:]  # share of the more probable tokens, (B, V); fp32 rows may not sum to 1
    keep_sorted = before < top_p - TOP_P_SLACK  # the first token always has before == 0 and is kept
    return torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)


def probabilities(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
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


def draw(probs: torch.Tensor, u: torch.Tensor, block: int = 128) -> torch.Tensor:
    """Inverse CDF: for each row the token where the cumulative probability first exceeds u * total. (B,) long.

    probs (B, V) >= 0, rows need not sum to 1; u (B, 1) in [0, 1). A zero-probability token is never drawn.
    A scan over all V is slow on the CPU for a batch (~0.25 ms for 16 x 10k), so it goes in two levels:
    the sums of blocks of `block` tokens pick the block, then a scan inside that block picks the token.
    """
    rows, vocab = probs.shape
    padded = F.pad(probs, (0, -vocab % block)) if vocab % block else probs
    blocks = padded.reshape(rows, -1, block)  # (B, nb, block), zero-padded
    cdf = blocks.sum(-1).cumsum(-1)  # (B, nb)
    x = _below(u * cdf[:, -1:], cdf[:, -1:])  # (B, 1), strictly below the total
    j = torch.searchsorted(cdf, x, right=True)  # (B, 1): first block whose cumulative mass exceeds x
    before = F.pad(cdf, (1, 0)).gather(1, j)  # mass of the blocks before j, <= x
    inner = blocks[torch.arange(rows, device=probs.device), j[:, 0]].cumsum(-1)  # (B, block)
    k = torch.searchsorted(inner, _below(x - before, inner[:, -1:]), right=True)  # (B, 1)
    return (j * block + k).squeeze(-1)


def _below(x: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """x clamped to just under top (top > 0): rounding must not push a draw past the last kept token."""
    return torch.clamp(x, max=torch.nextafter(top, torch.zeros_like(top)))


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: Generators = None,
    greedy: bool = False,
) -> torch.Tensor:
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


def sample_with_logprob(
    logits: torch.Tensor, generator: Generators = None, **settings
) -> tuple[torch.Tensor, torch.Tensor]:
    """`sample(logits, generator=generator, **settings)` on (B, V) logits (settings: temperature, top_k, top_p,
    greedy), and each drawn token's log-probability under the model itself, log softmax(logits) (no temperature,
    no filtering). (B,) long, (B,) float32.

    Plain sampling (temperature 1, no filters) shares one softmax between the draw and the log-probability.
    """
    s = {"temperature": 1.0, "top_k": None, "top_p": None, "greedy": False} | settings
    check_args(**s)
    if s["greedy"] or s["temperature"] != 1 or s["top_k"] is not None or (s["top_p"] is not None and s["top_p"] < 1):
        ids = sample(logits, generator=generator, **s)
        return ids, logits.float().log_softmax(-1).gather(1, ids[:, None]).squeeze(1)
    probs = logits.float().softmax(-1)
    ids = draw(probs, uniforms(logits.size(0), generator, logits.device))
    return ids, probs.gather(1, ids[:, None]).squeeze(1).log()  # a drawn token has probability > 0
