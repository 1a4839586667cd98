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
CPU with native bf16); log_softmax and the sums stay fp32 / fp64 (the decoders: lm/probes/decoders.py).
`token_scores` gives the terms of each sum, token by token (lm/probes/surprisal.py builds on it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lm.console import watched
from lm.device import cpu_has_bf16
from lm.model.rnnlm import RNNLM, map_state
from lm.probes.decoders import AdaptiveDecoder, ExactDecoder, ShiftedDecoder

PRECISIONS = ("auto", "fp32", "bf16")
DECODE_ROWS = 2048  # rows of (rows, V) logits at a time: 2048 x 10k fp32 = 80 MB
# hidden (n, D), rows (Q,), targets (Q,) -> log p(targets[q] | hidden[rows[q]]) (Q,) fp32 (lm/probes/decoders.py)
Decoder = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


def common_precision(precision: str, models: list[RNNLM]) -> str:
    """One precision for models compared side by side: the most exact any of them resolves to, so that a
    table never mixes bf16 and fp32 scores."""
    chosen = {resolve_precision(precision, m, next(m.parameters()).device) for m in models}
    return "fp32" if "fp32" in chosen or not chosen else "bf16"


def padded(seqs, device, dtype=torch.long) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) right-padded with zeros, and the lengths (B,)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    grid = np.zeros((len(seqs), int(lengths.max(initial=0))), dtype=np.int64)
    for i, s in enumerate(seqs):
        grid[i, : len(s)] = s
    return torch.from_numpy(grid).to(device, dtype), torch.from_numpy(lengths).to(device)


def run_rows(net: RNNLM, tokens: torch.Tensor, lengths: torch.Tensor, state=None, keep_outputs: bool = False):
    """Rows of tokens (B, T), row b of length lengths[b] >= 1, from `state` (None: zeros).
    Returns (output at each row's last token (B, D), final state, outputs (B, T, D) or None)."""
    order = torch.argsort(lengths, descending=True, stable=True)
    lens = lengths[order].tolist()
    tok = tokens[order]
    cur = None if state is None else map_state(lambda s: s[:, order].contiguous(), state)
    last = outputs = None
    t0 = 0
    for t1 in sorted(set(lens)):
        n = sum(1 for x in lens if x >= t1)  # rows still running: a prefix of the sorted batch
        n_after = sum(1 for x in lens if x > t1)  # rows [n_after, n) end at t1
        st = None if cur is None else map_state(lambda s: s[:, :n].contiguous(), cur)
        out, new = net.features(tok[:n, t0:t1], st)  # out (n, t1 - t0, D)
        if last is None:
            last = out.new_empty(len(lens), out.shape[-1])
            outputs = out.new_zeros(len(lens), tok.shape[1], out.shape[-1]) if keep_outputs else None
        if cur is None:
            cur = map_state(lambda s: s.clone(), new)
        else:
            for dst, src in zip(*((cur, new) if isinstance(new, tuple) else ((cur,), (new,)))):
                dst[:, :n] = src
        last[n_after:n] = out[n_after:n, -1]
        if outputs is not None:
            outputs[:n, t0:t1] = out
        t0 = t1
    inverse = torch.argsort(order)
    final = map_state(lambda s: s[:, inverse], cur)
    return last[inverse], final, None if outputs is None else outputs[inverse]


def decode(decoder: Decoder, hidden: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(targets[q] | hidden[rows[q]]) for every query q, DECODE_ROWS rows of hidden at a time; hidden (N, D),
    rows and targets (Q,), the result (Q,) fp32."""
    out = torch.empty(len(rows), dtype=torch.float32, device=hidden.device)
    order = torch.argsort(rows, stable=True)
    sorted_rows = rows[order]
    for start in range(0, len(hidden), DECODE_ROWS):
        lo = int(torch.searchsorted(sorted_rows, start))
        hi = int(torch.searchsorted(sorted_rows, start + DECODE_ROWS))
        if lo < hi:
            q = order[lo:hi]
            out[q] = decoder(hidden[start : start + DECODE_ROWS], rows[q] - start, targets[q])
    return out


def at_positions(
    decoder: Decoder, outputs: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """log p(targets[p] | outputs[rows[p], cols[p]]): only the positions asked for are decoded, each once however
    many targets it predicts (a pair's two sides); outputs (B, T, D), rows, cols and targets (P,) -> (P,) fp32."""
    flat, index = torch.unique(rows * outputs.shape[1] + cols, return_inverse=True)  # sorted: row-major order
    return decode(decoder, outputs.flatten(0, 1)[flat], index, targets)


class LogProbEngine:
    """Scores Requests with one model; see the module docstring for how the work is batched."""

    def __init__(self, model: RNNLM, precision: str = "auto", max_tokens: int = 65536, progress: bool = False):
        """progress: a progress bar over the requests, on a terminal (the scripts; not the training callback)."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, model, self.device)
        self.model, self.net, self.max_tokens, self.progress = model, model, max_tokens, progress
        if self.precision == "bf16":
            self.net = copy.deepcopy(model).to(torch.bfloat16).eval()
        if model.adaptive:  # only the targets' clusters, log-softmax in fp32 (lm/model/adaptive.py)
            self.decoder = AdaptiveDecoder(self.net)
        else:
            self.decoder = ShiftedDecoder(model.decoder) if self.precision == "bf16" else ExactDecoder(model.decoder)

    def __call__(self, requests: list[Request]) -> np.ndarray:
        """Scores (float64), in the order of `requests`."""
        out = np.zeros(len(requests))
        for chunk, lp in self._run(requests, per_token=False):
            out[chunk] = lp
        return out

    def token_scores(self, requests: list[Request]) -> list[np.ndarray]:
        """The terms each score sums, in order: log p of context[1:] (when score_context), then of each
        continuation token; float64 of the fp32 log-probabilities, one array per request."""
        out: list[np.ndarray] = [np.zeros(0)] * len(requests)
        for chunk, per_request in self._run(requests, per_token=True):
            for i, lp in zip(chunk, per_request):
                out[i] = lp
        return out

    def _run(self, requests: list[Request], per_token: bool) -> list[tuple[list[int], object]]:
        if not requests:
            return []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                order = sorted(range(len(requests)), key=lambda i: (len(requests[i].context), requests[i].context))
                out = []
                with tqdm(
                    total=len(requests),
                    desc="scoring",
                    unit=" requests",
                    leave=False,
                    disable=not (self.progress and watched()),
                ) as bar:
                    for chunk in self._chunks(order, requests):
                        out.append((chunk, self._score_chunk([requests[i] for i in chunk], per_token)))
                        bar.update(len(chunk))
                return out
        finally:
            self.model.train(was_training)

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

    def _score_chunk(self, reqs: list[Request], per_token: bool):
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
        first = self._first_tokens(reqs, owner, last)  # (R,)
        longer, rest = self._continuations(reqs, owner, state)  # rest (len(longer), m - 1)
        ctx = self._along(outputs, tokens[:, 1:], lengths - 1) if want.any() else None  # (C, T - 1)
        owner = owner.cpu().numpy()
        if per_token:
            return _token_lists(reqs, owner, first, dict(zip(longer, rest)), ctx)
        lp = first.copy()
        lp[longer] += rest.sum(axis=1)
        if ctx is not None:  # log p(context[1:] | <eos>)
            lp += np.where([r.score_context for r in reqs], ctx.sum(axis=1)[owner], 0.0)
        return lp

    def _first_tokens(self, reqs, owner, last) -> np.ndarray:
        """log p(continuation[0] | context): one decoder row per context, shared by its requests."""
        lp = np.zeros(len(reqs))
        has = [k for k, r in enumerate(reqs) if r.continuation]
        if has:
            targets = torch.tensor([reqs[k].continuation[0] for k in has], device=self.device)
            lp[has] = decode(self.decoder, last, owner[has], targets).double().cpu().numpy()
        return lp

    def _continuations(self, reqs, owner, state) -> tuple[list[int], np.ndarray]:
        """log p(continuation[t] | context, continuation[:t]) for t >= 1, run on from each context's final
        state: (the requests with such tokens, their log-probabilities padded with zeros)."""
        longer = [k for k, r in enumerate(reqs) if len(r.continuation) > 1]
        if not longer:
            return [], np.zeros((0, 0))
        cont, lengths = padded([reqs[k].continuation for k in longer], self.device)  # (n, m)
        st = map_state(lambda s: s[:, owner[longer]].contiguous(), state)
        _, _, outputs = run_rows(self.net, cont[:, :-1], lengths - 1, st, keep_outputs=True)
        return longer, self._along(outputs, cont[:, 1:], lengths - 1)

    def _along(self, outputs: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
        """log p(targets[b, t] | outputs[b, t]) for t < lengths[b], zeros after; outputs (B, T, D), targets and
        the result (B, T), float64."""
        mask = torch.arange(targets.shape[1], device=self.device)[None, :] < lengths[:, None]  # (B, T)
        tok = at_positions(self.decoder, outputs, *mask.nonzero(as_tuple=True), targets[mask])  # (N,) row-major
        grid = torch.zeros(mask.shape, dtype=torch.float64, device=self.device)
        grid[mask] = tok.double()
        return grid.cpu().numpy()


def _token_lists(
    reqs: list[Request], owner: np.ndarray, first: np.ndarray, rest: dict[int, np.ndarray], ctx: np.ndarray | None
) -> list[np.ndarray]:
    """Each request's scored tokens in order: context[1:] (score_context), continuation[0], continuation[1:]."""
    out = []
    for k, r in enumerate(reqs):
        parts = [ctx[owner[k], : len(r.context) - 1]] if r.score_context else []
        if r.continuation:
            parts.append(first[k : k + 1])
        if k in rest:
            parts.append(rest[k][: len(r.continuation) - 1])
        out.append(np.concatenate(parts) if parts else np.zeros(0))
    return out
