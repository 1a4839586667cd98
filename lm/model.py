"""A recurrent language model in plain PyTorch: embedding -> dropout -> L recurrent layers -> dropout -> decoder.

No Lightning or Hydra here: the constructor takes plain numbers, so a checkpoint's hyperparameters rebuild it.
The decoder is a full softmax (`nn.Linear` to the vocabulary) or an adaptive softmax (lm/adaptive.py). Code that
needs probabilities goes through `log_probs` / `target_log_probs`, which work with both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lm.adaptive import AdaptiveSoftmax
from lm.device import cpu_has_bf16

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# the constructor arguments that decide the parameters' shapes; the rest (dropout, init) may differ on resume
SHAPE_ARGS = ("vocab_size", "emb_size", "hidden_size", "num_layers", "cell", "tie_weights", "tie_projection",
              "softmax", "cutoffs", "div_value")

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
    ):
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
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.drop = Dropout(dropout)
        self.rnn = CELLS[cell](emb_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                               batch_first=True)
        out_size = hidden_size
        self.projection = None
        if tie_weights and tie_projection and emb_size != hidden_size:
            self.projection = nn.Linear(hidden_size, emb_size, bias=False)
            out_size = emb_size
        if self.adaptive:  # ties the head's shortlist rows (and full-width tails) to the embedding
            self.decoder = AdaptiveSoftmax(out_size, vocab_size, cutoffs, div_value,
                                           tie=self.embedding.weight if tie_weights else None)
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
                        p[h:2 * h].fill_(forget_bias if name.startswith("bias_ih") else 0.0)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device, dtype=dtype)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def features(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.drop(self.embedding(tokens))  # (B, T, E)
        if self.cell == "lstm" and x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not cpu_has_bf16():
            # oneDNN has no bf16 LSTM primitive without bf16 instructions (it raises): run this layer in fp32
            with torch.autocast("cpu", enabled=False):
                out, state = self.rnn(x.float(), state)  # (B, T, H)
        else:
            out, state = self.rnn(x, state)  # (B, T, H)
        out = self.drop(out)
        if self.projection is not None:
            out = self.projection(out)
        return out, state

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

    def target_log_probs(self, feats: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(..., D), (...) -> log p(target) (...), fp32; the adaptive softmax computes only the target's cluster."""
        flat, tgt = feats.flatten(0, -2), targets.flatten()
        if self.adaptive:
            logp = self.decoder(flat, tgt)
        else:
            logp = -F.cross_entropy(self.decoder(flat).float(), tgt, reduction="none")
        return logp.view(targets.shape)

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
        macs = sum(gates * self.hidden_size * ((self.emb_size if layer == 0 else self.hidden_size) + self.hidden_size)
                   for layer in range(self.num_layers))
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
