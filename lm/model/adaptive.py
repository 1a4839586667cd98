"""Adaptive softmax (Grave et al. 2017) with weight tying and fp32 log-softmax under bf16 autocast.

`AdaptiveSoftmax` keeps `nn.AdaptiveLogSoftmaxWithLoss`'s parameters and layout: a head over the `cutoffs[0]`
most frequent words plus one logit per tail cluster, and for cluster i a projection to in_features / div_value^i
dimensions followed by the cluster's words. In training only the head and, for each token, the one cluster its
target falls in are computed, which is where the speed comes from; ids must be ordered by frequency (the word
tokenizer's are). What changes from torch's module:

- tying: with `tie` (the embedding matrix, vocab x in_features) the head's word rows *are* the embedding rows of
  the shortlist, and a tail cluster whose projection keeps the full size (div_value 1) uses the embedding rows
  of its words as its output weights. Smaller tails keep their own weights: their width differs from the
  embedding's;
- the log-softmaxes run in fp32 even when the matmuls run in bf16, and the result is fp32;
- `forward` returns log p(target) per row (no loss, no row-count check with a host sync); `log_prob` gives the
  full distribution, as torch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class TiedLinear(nn.Module):
    """x -> x W^T (+ b) with W = [shared[lo:hi]; own rows]: output rows borrowed from a shared matrix."""

    def __init__(self, shared: nn.Parameter, lo: int, hi: int, extra_rows: int = 0, bias: bool = False):
        super().__init__()
        self.shared, self.lo, self.hi = shared, lo, hi  # a Parameter attribute registers the same tensor here
        self.in_features, self.out_features = shared.shape[1], hi - lo + extra_rows
        self.extra = nn.Parameter(torch.empty(extra_rows, shared.shape[1])) if extra_rows else None
        self.bias = nn.Parameter(torch.empty(hi - lo + extra_rows)) if bias else None
        self.reset_parameters()

    @property
    def weight(self) -> torch.Tensor:
        rows = self.shared[self.lo : self.hi]
        return rows if self.extra is None else torch.cat([rows, self.extra])

    def reset_parameters(self) -> None:  # never touches the shared rows: they belong to the embedding
        bound = 1 / math.sqrt(self.shared.shape[1])
        if self.extra is not None:
            nn.init.uniform_(self.extra, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class AdaptiveSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = True,
        tie: nn.Parameter | None = None,
    ):
        cutoffs = [int(c) for c in cutoffs]
        if not cutoffs or cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1 or cutoffs[-1] > n_classes - 1:
            raise ValueError(
                f"model.cutoffs must be increasing ids between 1 and vocab size - 1 = {n_classes - 1}, got {cutoffs}"
            )
        if int(in_features // div_value ** len(cutoffs)) < 1:
            raise ValueError(
                f"model.div_value={div_value} leaves the last of {len(cutoffs)} tail clusters no "
                f"dimensions of {in_features}: lower div_value or use fewer cutoffs"
            )
        super().__init__(in_features, n_classes, cutoffs, div_value, head_bias)
        # where each tail cluster starts; a buffer, so it moves with the module instead of being copied every step
        self.register_buffer("starts", torch.tensor(cutoffs), persistent=False)
        self.tied_tails: list[int] = []
        if tie is not None:
            if tuple(tie.shape) != (n_classes, in_features):
                raise ValueError(f"tying needs an embedding of {n_classes} x {in_features}, got {tuple(tie.shape)}")
            self.head = TiedLinear(tie, 0, self.shortlist_size, extra_rows=self.n_clusters, bias=head_bias)
            for i, (_, out) in enumerate(self.tail):
                if out.in_features == in_features:
                    self.tail[i][1] = TiedLinear(tie, self.cutoffs[i], self.cutoffs[i + 1])
                    self.tied_tails.append(i)

    def forward(self, x: torch.Tensor, target: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """log p(target) (M,) fp32 for features x (N, in) and targets (M,): target[j] at row rows[j] of x, at
        row j without `rows` (then M = N). Each row's head is computed once, however many targets it has."""
        head = F.log_softmax(self.head(x).float(), dim=-1)  # (N, shortlist + clusters)
        cluster = torch.bucketize(target, self.starts, right=True)  # 0: head word, i >= 1: tail cluster i
        first = torch.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        logp = head.gather(1, first[:, None])[:, 0] if rows is None else head[rows, first]
        for i, tail in enumerate(self.tail, start=1):
            picked = (cluster == i).nonzero()[:, 0]  # only the targets in this cluster
            local = F.log_softmax(tail(x.index_select(0, picked if rows is None else rows[picked])).float(), dim=-1)
            within = (target.index_select(0, picked) - self.cutoffs[i - 1])[:, None]
            logp = logp.index_add(0, picked, local.gather(1, within)[:, 0])
        return logp

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p over the whole vocabulary (N, V) fp32."""
        head = F.log_softmax(self.head(x).float(), dim=-1)
        parts = [head[:, : self.shortlist_size]]
        for i, tail in enumerate(self.tail):
            parts.append(F.log_softmax(tail(x).float(), dim=-1) + head[:, self.shortlist_size + i, None])
        return torch.cat(parts, dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x).argmax(dim=1)

    def extra_repr(self) -> str:
        tied = f", tied head, tied tails {self.tied_tails}" if isinstance(self.head, TiedLinear) else ""
        return f"cutoffs={self.cutoffs[:-1]}, div_value={self.div_value}{tied}"
