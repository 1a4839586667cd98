"""A recurrent language model in plain PyTorch: embedding -> dropout -> L recurrent layers -> dropout -> decoder.

AWD-LSTM's regularisers (lm/model/regularizers) are options: locked instead of element-wise dropout, embedding dropout,
and weight drop on the recurrent matrices. Without them the layers run as one nn.LSTM call; locked dropout between
layers runs one kernel call per layer, and weight drop passes the dropped matrices to the same fused kernels.

No Lightning or Hydra here: the constructor takes plain numbers, so a checkpoint's hyperparameters rebuild it.
The decoder is a full softmax (`nn.Linear` to the vocabulary) or an adaptive softmax (lm/model/adaptive.py). Code that
needs probabilities goes through `log_probs` / `target_log_probs`, which work with both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lm.device import cpu_has_bf16
from lm.model.adaptive import AdaptiveSoftmax
from lm.model.regularizers import embedding_dropout
from lm.model.regularizers.locked_dropout import LockedDropout
from lm.model.regularizers.weight_drop import recurrent_weights

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}  # what nn.LSTM / GRU / RNN call
# the constructor arguments that decide the parameters' shapes; the rest (dropout, init) may differ on resume
SHAPE_ARGS = (
    "vocab_size",
    "emb_size",
    "hidden_size",
    "num_layers",
    "cell",
    "tie_weights",
    "tie_projection",
    "softmax",
    "cutoffs",
    "div_value",
)

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Dropout(nn.Dropout):
    """nn.Dropout whose mask comes from torch.rand on a CPU: there `bernoulli_`, which F.dropout uses, takes
    ~4x longer (4.7 vs 1.2 ms for a 20x35x650 batch, ~8% of a bf16 ptb_medium step). Same distribution: each
    element is kept with probability 1 - p and scaled by 1 / (1 - p). GPUs keep the fused kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        if self.p == 1:
            return x * 0
        keep = torch.rand(x.shape) >= self.p
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


class RNNLM(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        emb_size: int = 200,
        hidden_size: int = 200,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.2,
        tie_weights: bool = False,
        tie_projection: bool = False,
        init_range: float = 0.1,
        forget_bias: float = 0.0,
        softmax: str = "full",
        cutoffs: list[int] | None = None,
        div_value: float = 4.0,
        locked_dropout: bool = False,
        dropout_input: float | None = None,
        dropout_hidden: float | None = None,
        dropout_embed: float = 0.0,
        weight_drop: float = 0.0,
    ):
        """dropout applies to the last layer's output, and to the embedding output and between layers unless
        dropout_input / dropout_hidden say otherwise (AWD's dropout, dropouti, dropouth); locked_dropout: one mask
        per sequence instead of one per element; dropout_embed: whole word types (dropoute); weight_drop: the
        hidden-to-hidden matrices (wdrop)."""
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if tie_weights and emb_size != hidden_size and not tie_projection:
            raise ValueError(
                f"tie_weights needs emb_size == hidden_size (got {emb_size} and {hidden_size}); "
                "set them equal or set model.tie_projection=true to project the hidden state to emb_size"
            )
        self.vocab_size, self.emb_size, self.hidden_size = vocab_size, emb_size, hidden_size
        if softmax not in ("full", "adaptive"):
            raise ValueError(f"model.softmax must be full or adaptive, got {softmax!r}")
        if softmax == "adaptive" and not cutoffs:
            raise ValueError("model.softmax=adaptive needs model.cutoffs, e.g. model.cutoffs=[2000,10000]")
        self.num_layers, self.cell, self.adaptive = num_layers, cell, softmax == "adaptive"
        for name, p in (("dropout_embed", dropout_embed), ("weight_drop", weight_drop)):
            if not 0 <= p < 1:
                raise ValueError(f"model.{name} must be in [0, 1), got {p}")
        self.embedding = nn.Embedding(vocab_size, emb_size)
        drop = LockedDropout if locked_dropout else Dropout
        self.drop_in = drop(dropout if dropout_input is None else dropout_input)
        self.drop = drop(dropout)  # the last layer's output
        hidden_p = (dropout if dropout_hidden is None else dropout_hidden) if num_layers > 1 else 0.0
        self.drop_hidden = drop(hidden_p) if locked_dropout else None  # else nn.LSTM's own between layers
        self.dropout_embed, self.weight_drop = dropout_embed, weight_drop
        self.rnn = CELLS[cell](
            emb_size, hidden_size, num_layers, dropout=0.0 if locked_dropout else hidden_p, batch_first=True
        )
        out_size = hidden_size
        self.projection = None
        if tie_weights and tie_projection and emb_size != hidden_size:
            self.projection = nn.Linear(hidden_size, emb_size, bias=False)
            out_size = emb_size
        if self.adaptive:  # ties the head's shortlist rows (and full-width tails) to the embedding
            self.decoder = AdaptiveSoftmax(
                out_size, vocab_size, cutoffs, div_value, tie=self.embedding.weight if tie_weights else None
            )
        else:
            self.decoder = nn.Linear(out_size, vocab_size)
            if tie_weights:  # weight tying: Press & Wolf 2016, Inan et al. 2017
                self.decoder.weight = self.embedding.weight
        self.reset_parameters(init_range, forget_bias)

    def reset_parameters(self, init_range: float, forget_bias: float) -> None:
        nn.init.uniform_(self.embedding.weight, -init_range, init_range)
        if self.adaptive:
            self.decoder.reset_parameters()  # nn.Linear's init for its own weights; tied rows stay the embedding's
        else:
            nn.init.zeros_(self.decoder.bias)
            if self.decoder.weight is not self.embedding.weight:
                nn.init.uniform_(self.decoder.weight, -init_range, init_range)
        if forget_bias and self.cell == "lstm":
            # nn.LSTM packs gates as [input | forget | cell | output]; two biases per layer (b_ih, b_hh) add up.
            h = self.hidden_size
            with torch.no_grad():
                for name, p in self.rnn.named_parameters():
                    if name.startswith("bias_"):
                        p[h : 2 * h].fill_(forget_bias if name.startswith("bias_ih") else 0.0)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device, dtype=dtype)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def features(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        out, state, _ = self.features_and_outputs(tokens, state)
        return out, state

    def features_and_outputs(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State, tuple[torch.Tensor, torch.Tensor]]:
        """features (B, T, D), the new state, and the last recurrent layer's output (B, T, H) before and after
        its dropout (what AR and TAR penalise)."""
        x = self.drop_in(embedding_dropout.embed(self.embedding, tokens, self.dropout_embed, self.training))
        if self.cell == "lstm" and x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not cpu_has_bf16():
            # oneDNN has no bf16 LSTM primitive without bf16 instructions (it raises): run this layer in fp32
            with torch.autocast("cpu", enabled=False):
                raw, state = self._recur(x.float(), state)  # (B, T, H)
        else:
            raw, state = self._recur(x, state)  # (B, T, H)
        dropped = self.drop(raw)
        out = self.projection(dropped) if self.projection is not None else dropped
        return out, state, (raw, dropped)

    def _recur(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        weight_drop = self.training and self.weight_drop > 0
        if self.drop_hidden is None and not weight_drop:
            return self.rnn(x, state)
        weights = recurrent_weights(self.rnn, self.weight_drop, self.training)
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        if self.drop_hidden is None:  # all layers in one call, nn.LSTM's dropout between them
            return self._kernel(x, state, weights, self.num_layers, self.rnn.dropout)
        per = len(weights) // self.num_layers  # w_ih, w_hh, b_ih, b_hh
        states = []
        for layer in range(self.num_layers):
            if layer:
                x = self.drop_hidden(x)
            x, s = self._kernel(
                x, map_state(lambda t: t[layer : layer + 1], state), weights[layer * per : (layer + 1) * per], 1, 0.0
            )
            states.append(s)
        if self.cell == "lstm":
            return x, (torch.cat([h for h, _ in states]), torch.cat([c for _, c in states]))
        return x, torch.cat(states)

    def _kernel(self, x, state, weights, num_layers, dropout) -> tuple[torch.Tensor, State]:
        """The fused kernel nn.LSTM / GRU / RNN call, with the given weights: x (B, T, I), state (L, B, H)."""
        kernel = torch.rnn_relu if self.cell == "rnn" and self.rnn.nonlinearity == "relu" else KERNELS[self.cell]
        hx = list(state) if self.cell == "lstm" else state
        out, *new = kernel(x, hx, weights, True, num_layers, dropout, self.training, False, True)
        return out, (tuple(new) if self.cell == "lstm" else new[0])

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., V) scores whose softmax is the model's distribution: the decoder's logits, or with
        an adaptive softmax the log-probabilities themselves (fp32)."""
        if self.adaptive:
            return self.decoder.log_prob(feats.flatten(0, -2)).unflatten(0, feats.shape[:-1])
        return self.decoder(feats)

    def log_probs(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., D) -> log p over the vocabulary (..., V), fp32."""
        logits = self.logits(feats)
        return logits if self.adaptive else F.log_softmax(logits.float(), dim=-1)

    def target_log_probs(
        self, feats: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(..., D), (...) -> log p(target) (...), fp32; the adaptive softmax computes only the target's cluster.
        With `rows` (M,), indices into the flattened positions of feats, targets (M,) are scored there: several
        words at one position cost one pass through the output layer (target_and_word_log_probs)."""
        flat, tgt = feats.flatten(0, -2), targets.flatten()
        if self.adaptive:
            logp = self.decoder(flat, tgt, rows)
        elif rows is None:
            logp = -F.cross_entropy(self.decoder(flat).float(), tgt, reduction="none")
        else:
            logp = F.log_softmax(self.decoder(flat).float(), dim=-1)[rows, tgt]
        return logp.view(targets.shape)

    def target_and_word_log_probs(
        self, feats: torch.Tensor, targets: torch.Tensor, positions: torch.Tensor, words: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(target) (...) and log p(words[j]) at positions[j] of the flattened (...) (M,), in one pass through
        the output layer: a second pass would build the tied embedding's full-size gradient again (~10% of a
        books_cpu step for the hinge's partners, BENCHMARKS.md "Throughput settings")."""
        n = targets.numel()
        rows = torch.cat([torch.arange(n, device=targets.device), positions])
        logp = self.target_log_probs(feats, torch.cat([targets.flatten(), words]), rows)
        return logp[:n].view(targets.shape), logp[n:]

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        out, state = self.features(tokens, state)
        return self.logits(out), state  # (B, T, V)

    def macs_per_token(self, cluster_share: Sequence[float] | None = None) -> float:
        """Multiply-adds of one token's forward pass through the matmuls: recurrent layers, projection, decoder.
        Embedding look-ups, biases and the element-wise gate arithmetic are left out (a few % of the total).
        An adaptive softmax computes its head and, for each tail cluster i, the share cluster_share[i] of the
        tokens whose target is in it (training, scoring); cluster_share=None counts every cluster, as giving
        the whole distribution does (generation). Training costs about 3x this: forward, and twice for backward."""
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[self.cell]
        macs = sum(
            gates * self.hidden_size * ((self.emb_size if layer == 0 else self.hidden_size) + self.hidden_size)
            for layer in range(self.num_layers)
        )
        if self.projection is not None:
            macs += self.projection.weight.numel()
        if not self.adaptive:
            return float(macs + self.decoder.in_features * self.decoder.out_features)
        dec = self.decoder
        macs += dec.in_features * dec.head_size
        for i, (proj, out) in enumerate(dec.tail):
            share = 1.0 if cluster_share is None else cluster_share[i]
            macs += share * (proj.in_features * proj.out_features + out.in_features * out.out_features)
        return float(macs)


def cluster_share(model: RNNLM, ids) -> list[float] | None:
    """Fraction of the targets `ids` (token ids, array-like) in each tail cluster of an adaptive softmax: what
    macs_per_token needs to count the work of training or scoring that text; None for a full softmax."""
    if not model.adaptive:
        return None
    counts = np.bincount(np.asarray(ids).ravel(), minlength=model.vocab_size)  # numpy: the token cache is read-only
    bounds, total = model.decoder.cutoffs, counts.sum()
    return [float(counts[lo:hi].sum() / total) for lo, hi in zip(bounds, bounds[1:])]


def map_state(fn, state: State | None) -> State | None:
    """fn applied to the hidden state, or to h and c of an LSTM."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


def detach_state(state: State | None) -> State | None:
    return map_state(torch.Tensor.detach, state)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields a tied weight once
