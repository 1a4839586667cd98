"""The continuous cache pointer (Grave, Joulin & Usunier 2017, "Improving neural language models with a continuous
cache"), mixed into a trained model's predictions at evaluation time as Merity et al.'s awd-lstm-lm does.

At position t of a stream, with h_t the model's last-layer features (what `RNNLM.features` returns, the input of
the decoder, in eval mode), the cache holds the previous min(window, t) positions j with their features h_j and
their next words x_{j+1}:

    a_tj       = softmax_j(theta * h_t . h_j)        over the cached j
    p_cache(w) = sum_j a_tj [x_{j+1} == w]
    p(w)       = (1 - lambda) p_model(w) + lambda p_cache(w)

A position with an empty cache (the first of a stream) uses p_model. Only the target's probability is computed, in
log space and fp32: log p(x_{t+1}) = logaddexp(log(1 - lambda) + log p_model(x_{t+1}), log(lambda) + log p_cache),
where log p_cache is a logsumexp of the log-attention over the cached positions whose next word is the target.
Each row of a batched stream has its own cache, carried across bptt chunks as the recurrent state is.

Settings of Grave et al. as awd-lstm-lm runs them: PTB window 500, theta 1.0, lambda 0.1; WikiText-2 window 3785,
theta 0.6625, lambda 0.1279.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real

import torch

from lm.errors import UserError

KEYS = ("window", "theta", "lambda")
DEFAULTS = {"window": 0, "theta": 1.0, "lambda": 0.1}


def check_settings(window, theta, lam) -> None:
    """ValueError unless window is a whole number >= 0, theta a finite number >= 0 and lambda within [0, 1]."""
    if isinstance(window, bool) or not isinstance(window, Integral) or window < 0:
        raise ValueError(f"window={window!r}: the number of cached positions must be a whole number >= 0 (0: off)")
    for name, value in (("theta", theta), ("lambda", lam)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"{name}={value!r}: give a number")
    if theta < 0:
        raise ValueError(f"theta={theta!r}: the attention's inverse temperature must be >= 0")
    if not 0 <= lam <= 1:
        raise ValueError(f"lambda={lam!r}: the cache's weight in the mixture must be within [0, 1]")


def pointer_settings(spec) -> dict | None:
    """{"window", "theta", "lambda"} from a mapping (missing keys take DEFAULTS); None when the pointer is off:
    no spec, False, "off", or window 0 / null. Bad values raise a one-line UserError."""
    if spec is None or spec is False or spec == "off":
        return None
    if not isinstance(spec, Mapping):
        raise UserError(f"perplexity.pointer={spec!r}: give {{window, theta, lambda}} or null")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise UserError(f"perplexity.pointer has unknown key(s) {', '.join(map(str, unknown))}: use {', '.join(KEYS)}")
    values = DEFAULTS | {k: v for k, v in spec.items() if not (k == "window" and v is None)}
    try:
        check_settings(values["window"], values["theta"], values["lambda"])
    except ValueError as e:
        raise UserError(f"perplexity.pointer.{e}") from None
    if values["window"] == 0:
        return None
    return {"window": int(values["window"]), "theta": float(values["theta"]), "lambda": float(values["lambda"])}


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf  # lambda 0 or 1: that side of the mixture drops out exactly


class CachePointer:
    """Scores one stream chunk by chunk: `pointer(feats, targets, model_logp)` gives each target's log-probability
    under the mixture and remembers the last `window` positions of each row for the next call. One instance per
    stream; `reset()` empties the cache."""

    def __init__(self, window: int, theta: float, lam: float):
        check_settings(window, theta, lam)
        if window < 1:
            raise ValueError("a cache pointer needs window >= 1")
        self.window, self.theta, self.lam = int(window), float(theta), float(lam)
        self.reset()

    def reset(self) -> None:
        self.feats: torch.Tensor | None = None  # (B, H, D), H <= window: the cached positions' features, fp32
        self.words: torch.Tensor | None = None  # (B, H): the word that followed each of them

    def __call__(self, feats: torch.Tensor, targets: torch.Tensor, model_logp: torch.Tensor) -> torch.Tensor:
        """(B, T, D) features, (B, T) targets (the next words), (B, T) log p_model(target) -> (B, T) log p, fp32."""
        feats, model_logp = feats.float(), model_logp.float()
        b, t, d = feats.shape
        if self.feats is None:
            self.feats, self.words = feats.new_zeros(b, 0, d), targets.new_zeros(b, 0)
        h = self.feats.shape[1]
        keys = torch.cat([self.feats, feats], dim=1)  # (B, H+T, D): the cache, then this chunk
        words = torch.cat([self.words, targets], dim=1)  # (B, H+T): the word after each key
        # query i sits at key index H+i and sees the keys k with H+i-window <= k < H+i
        q = torch.arange(t, device=feats.device)[:, None] + h
        k = torch.arange(h + t, device=feats.device)
        seen = (k < q) & (k >= q - self.window)  # (T, H+T)
        with torch.autocast(feats.device.type, enabled=False):  # fp32 even inside a caller's bf16 autocast
            scores = torch.bmm(feats, keys.transpose(1, 2)).mul_(self.theta)  # (B, T, H+T)
        # a row that sees nothing (the stream's first position) gives NaN here; torch.where drops it below
        log_attn = scores.masked_fill_(~seen, -math.inf).log_softmax(dim=-1)
        hits = words[:, None, :] == targets[:, :, None]  # (B, T, H+T): key k's next word is query i's target
        log_cache = log_attn.masked_fill_(~hits, -math.inf).logsumexp(dim=-1)  # (B, T)
        mixed = torch.logaddexp(model_logp + _log(1 - self.lam), log_cache + _log(self.lam))
        self.feats, self.words = keys[:, -self.window :], words[:, -self.window :]
        return torch.where(seen.any(dim=-1), mixed, model_logp)
