"""Batched log-probabilities of continuations under an RNNLM: the engine behind lm.probes.scoring.

A request is (context, continuation), token ids, the context starting with <eos> so that every item starts
from a fresh state primed with the sentence boundary. Its score is sum_t log p(continuation_t | context,
continuation_<t); `score_context` adds log p(context[1:] | <eos>) for whole-sentence scores.

Requests are sorted by context length and cut into chunks of about `max_tokens` tokens. In a chunk:
    1. each distinct context runs once (a pair's sides share it, and so do items with equal contexts);
    2. the continuations run on from their context's final state;
    3. the decoder runs only on the rows that predict a scored token; log_softmax in fp32:

        context   <eos>  the   dog  | near  the   house        (continuation)
        predicts   the   dog  [near]| [the] [house]  ...        [ ] = scored

Rows of different lengths run as one batch without padding errors (`run_rows`): sorted longest first, the
recurrent net is called once per distinct length on the rows still running, so each row's final state is
exactly the state after its own last token (the way packed sequences work, with nn.LSTM's fast padded path):

        rows by length    t: 0 1 2 3 4 5        call 1: t 0..2, rows a b c
          a (6)              x x x x x x        call 2: t 3..4, rows a b     (c is done: its state is kept)
          b (5)              x x x x x          call 3: t 5,    row  a
          c (3)              x x x

precision "bf16" runs the recurrent and decoder matmuls on a bfloat16 copy of the weights (~2-3x faster on a
CPU with native bf16); log_softmax and the sums stay fp32 / fp64.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from lm.device import cpu_has_bf16
from lm.model import RNNLM

PRECISIONS = ("auto", "fp32", "bf16")
DECODE_ROWS = 2048  # rows of (rows, V) logits at a time: 2048 x 10k fp32 = 80 MB


@dataclass(frozen=True)
class Request:
    context: tuple[int, ...]
    continuation: tuple[int, ...]
    score_context: bool = False


def resolve_precision(precision: str, model: RNNLM, device: torch.device) -> str:
    """auto: bf16 on a CPU with native bf16 matmuls, for models big enough to gain (>= 1M parameters)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    big = sum(p.numel() for p in model.parameters()) >= 1_000_000
    fast = device.type == "cpu" and torch.backends.mkldnn.is_available() and cpu_has_bf16()
    return "bf16" if big and fast else "fp32"


def padded(seqs, device, dtype=torch.long) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) right-padded with zeros, and the lengths (B,)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    grid = np.zeros((len(seqs), int(lengths.max(initial=0))), dtype=np.int64)
    for i, s in enumerate(seqs):
        grid[i, :len(s)] = s
    return torch.from_numpy(grid).to(device, dtype), torch.from_numpy(lengths).to(device)


def _state_map(state, fn):
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def run_rows(net: RNNLM, tokens: torch.Tensor, lengths: torch.Tensor, state=None, keep_outputs: bool = False):
    """Rows of tokens (B, T), row b of length lengths[b] >= 1, from `state` (None: zeros).
    Returns (output at each row's last token (B, D), final state, outputs (B, T, D) or None)."""
    order = torch.argsort(lengths, descending=True, stable=True)
    lens = lengths[order].tolist()
    tok = tokens[order]
    cur = None if state is None else _state_map(state, lambda s: s[:, order].contiguous())
    last = outputs = None
    t0 = 0
    for t1 in sorted(set(lens)):
        n = sum(1 for x in lens if x >= t1)            # rows still running: a prefix of the sorted batch
        n_after = sum(1 for x in lens if x > t1)       # rows [n_after, n) end at t1
        st = None if cur is None else _state_map(cur, lambda s: s[:, :n].contiguous())
        out, new = net.features(tok[:n, t0:t1], st)    # out (n, t1 - t0, D)
        if last is None:
            last = out.new_empty(len(lens), out.shape[-1])
            outputs = out.new_zeros(len(lens), tok.shape[1], out.shape[-1]) if keep_outputs else None
        if cur is None:
            cur = _state_map(new, lambda s: s.clone())
        else:
            for dst, src in zip(*((cur, new) if isinstance(new, tuple) else ((cur,), (new,)))):
                dst[:, :n] = src
        last[n_after:n] = out[n_after:n, -1]
        if outputs is not None:
            outputs[:n, t0:t1] = out
        t0 = t1
    inverse = torch.argsort(order)
    final = _state_map(cur, lambda s: s[:, inverse])
    return last[inverse], final, None if outputs is None else outputs[inverse]


class LogProbEngine:
    """Scores Requests with one model; see the module docstring for how the work is batched."""

    def __init__(self, model: RNNLM, precision: str = "auto", max_tokens: int = 65536):
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, model, self.device)
        self.model, self.net, self.max_tokens = model, model, max_tokens
        if self.precision == "bf16":
            self.net = copy.deepcopy(model).to(torch.bfloat16).eval()
        if model.adaptive:  # only the targets' clusters, log-softmax in fp32 (lm/adaptive.py)
            self.decoder = AdaptiveDecoder(self.net)
        else:
            self.decoder = ShiftedDecoder(model.decoder) if self.precision == "bf16" else ExactDecoder(model.decoder)

    def __call__(self, requests: list[Request]) -> np.ndarray:
        """Scores (float64), in the order of `requests`."""
        out = np.zeros(len(requests))
        if not requests:
            return out
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                order = sorted(range(len(requests)), key=lambda i: (len(requests[i].context), requests[i].context))
                for chunk in self._chunks(order, requests):
                    out[chunk] = self._score_chunk([requests[i] for i in chunk])
        finally:
            self.model.train(was_training)
        return out

    def _chunks(self, order: list[int], requests: list[Request]):
        chunk, tokens = [], 0
        for i in order:
            r = requests[i]
            chunk.append(i)
            tokens += len(r.context) + len(r.continuation)
            if tokens >= self.max_tokens:
                yield chunk
                chunk, tokens = [], 0
        if chunk:
            yield chunk

    def _score_chunk(self, reqs: list[Request]) -> np.ndarray:
        index: dict[tuple[int, ...], int] = {}
        for r in reqs:
            index.setdefault(r.context, len(index))
        contexts = list(index)
        owner = torch.tensor([index[r.context] for r in reqs], device=self.device)  # request -> its context
        want = np.zeros(len(contexts), dtype=bool)
        for r in reqs:
            want[index[r.context]] |= r.score_context
        tokens, lengths = padded(contexts, self.device)
        last, state, outputs = run_rows(self.net, tokens, lengths, keep_outputs=bool(want.any()))
        lp = self._first_tokens(reqs, owner, last)
        lp += self._continuations(reqs, owner, state)
        if want.any():
            ctx_lp = self._along(outputs, tokens[:, 1:], lengths - 1)  # (C,): log p(context[1:] | <eos>)
            lp += np.where([r.score_context for r in reqs], ctx_lp[owner.cpu().numpy()], 0.0)
        return lp

    def _first_tokens(self, reqs, owner, last) -> np.ndarray:
        """log p(continuation[0] | context): one decoder row per context, shared by its requests."""
        lp = np.zeros(len(reqs))
        has = [k for k, r in enumerate(reqs) if r.continuation]
        if has:
            targets = torch.tensor([reqs[k].continuation[0] for k in has], device=self.device)
            lp[has] = self._decode(last, owner[has], targets).double().cpu().numpy()
        return lp

    def _continuations(self, reqs, owner, state) -> np.ndarray:
        """log p(continuation[1:] | context, continuation[0]), run on from each context's final state."""
        lp = np.zeros(len(reqs))
        longer = [k for k, r in enumerate(reqs) if len(r.continuation) > 1]
        if not longer:
            return lp
        cont, lengths = padded([reqs[k].continuation for k in longer], self.device)  # (n, m)
        st = _state_map(state, lambda s: s[:, owner[longer]].contiguous())
        _, _, outputs = run_rows(self.net, cont[:, :-1], lengths - 1, st, keep_outputs=True)
        lp[longer] = self._along(outputs, cont[:, 1:], lengths - 1)
        return lp

    def _along(self, outputs: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
        """sum_t<lengths[b] log p(targets[b, t] | outputs[b, t]) per row; outputs (B, T, D), targets (B, T)."""
        T = targets.shape[1]
        mask = torch.arange(T, device=self.device)[None, :] < lengths[:, None]  # (B, T)
        rows = mask.nonzero()[:, 0]
        hidden = outputs[:, :T][mask]  # (N, D)
        tok = self._decode(hidden, torch.arange(len(hidden), device=self.device), targets[mask])
        sums = torch.zeros(len(lengths), dtype=torch.float64, device=self.device)
        return sums.index_add_(0, rows, tok.double()).cpu().numpy()

    def _decode(self, hidden: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(targets[q] | hidden[rows[q]]) for every query q; hidden (N, D), rows and targets (Q,)."""
        out = torch.empty(len(rows), dtype=torch.float32, device=hidden.device)
        order = torch.argsort(rows, stable=True)
        sorted_rows = rows[order]
        for start in range(0, len(hidden), DECODE_ROWS):
            lo = int(torch.searchsorted(sorted_rows, start))
            hi = int(torch.searchsorted(sorted_rows, start + DECODE_ROWS))
            if lo < hi:
                q = order[lo:hi]
                out[q] = self.decoder(hidden[start:start + DECODE_ROWS], rows[q] - start, targets[q])
        return out


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
