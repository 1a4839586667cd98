"""Stateful decoders: read the prompt once, then one recurrent step per new token with the state kept.

Two engines behind one interface; they hold weights only, the caller carries the state:
    prefill(ids (1, T), batch) -> (logits (batch, V) fp32, state)     the prompt, read once
    step(ids (B,), state)      -> (logits (B, V) fp32, state)         one token per row

- `ModelEngine` calls the model itself (any cell, any device, exact fp32).
- `FusedLSTMEngine` steps the LSTM layers by hand for the CPU. `nn.LSTM` called on one token pays ~1.2 ms of
  fixed cost per call on this CPU (more than its matmuls), and the 2x650 / 10k-word model's 53 MB of fp32
  weights do not fit the 32 MB L3 cache, so every step waits on memory. Here each layer is one matmul over
  [x ; h] with W = [W_ih | W_hh] (4H, E+H), and with dtype=bfloat16 the weights take 26.6 MB and stay in cache.
  Only the weights are rounded: the state (h, c), the bias, the gate non-linearities and the logits' softmax
  stay fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lm.model import RNNLM

ENGINES = ("auto", "reference", "fp32", "bf16")


def choose_engine(model: RNNLM, engine: str, device: torch.device) -> str:
    """Resolve engine='auto' and reject combinations that cannot run (ValueError naming `engine`)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if engine == "auto":
        if model.cell != "lstm" or device.type != "cpu":
            return "reference"  # cuDNN already steps fast; GRU/RNN have no fused path
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    if engine != "reference" and model.cell != "lstm":
        raise ValueError(f"engine={engine} steps LSTM cells only (this model is a {model.cell}); "
                         "use engine=reference")
    return engine


def make_engine(model: RNNLM, engine: str = "auto", device: torch.device | None = None):
    """An engine for `model` ('auto', 'reference', 'fp32' or 'bf16'); build it once, decode many prompts."""
    device = device or next(model.parameters()).device
    engine = choose_engine(model, engine, device)
    if engine == "reference":
        return ModelEngine(model)
    return FusedLSTMEngine(model, torch.bfloat16 if engine == "bf16" else torch.float32)


class ModelEngine:
    """Decoding through `model.forward`."""

    name = "reference"

    def __init__(self, model: RNNLM):
        self.model = model

    def prefill(self, ids: torch.Tensor, batch: int = 1):
        """Read ids (1, T) once; the state is then copied to `batch` rows."""
        logits, state = self.model(ids)
        return logits[:, -1].float().expand(batch, -1), _expand(state, batch)

    def step(self, ids: torch.Tensor, state):
        logits, state = self.model(ids[:, None], state)
        return logits[:, 0].float(), state


class FusedLSTMEngine:
    """Hand-stepped LSTM layers with concatenated weights; see the module docstring."""

    def __init__(self, model: RNNLM, dtype: torch.dtype = torch.bfloat16):
        if model.cell != "lstm":
            raise ValueError(f"FusedLSTMEngine needs an LSTM model (got {model.cell})")
        self.model, self.dtype = model, dtype
        self.name = "bf16" if dtype == torch.bfloat16 else "fp32"
        self.hidden = model.hidden_size
        self.layers = [_fuse_layer(model.rnn, layer, dtype) for layer in range(model.num_layers)]
        with torch.no_grad():
            proj = model.projection
            self.projection = None if proj is None else proj.weight.detach().to(dtype)  # (E, H)
            self.decoder_w = model.decoder.weight.detach().to(dtype)  # (V, E); tied or not, a copy in dtype
            self.decoder_b = model.decoder.bias.detach().float()

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor, batch: int = 1):
        # The prompt goes through nn.LSTM in one call: exact fp32, and its fixed cost is paid once per prompt.
        out, (h, c) = self.model.rnn(self.model.embedding(ids))  # out (1, T, H); h, c (L, 1, H)
        return self._logits(out[:, -1].float()).expand(batch, -1), _expand((h.float(), c.float()), batch)

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state):
        h0, c0 = state  # (L, B, H) fp32
        x = self.model.embedding.weight[ids]  # (B, E) fp32
        hs, cs = [], []
        for layer, (w, b) in enumerate(self.layers):
            x, c = _lstm_cell(x, h0[layer], c0[layer], w, b, self.hidden)
            hs.append(x)
            cs.append(c)
        return self._logits(x), (torch.stack(hs), torch.stack(cs))

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        x = h.to(self.dtype)
        if self.projection is not None:
            x = F.linear(x, self.projection)
        return F.linear(x, self.decoder_w).float().add_(self.decoder_b)  # (B, V) fp32


def _fuse_layer(rnn: torch.nn.LSTM, layer: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """W = [W_ih | W_hh] (4H, in+H) in dtype, b = b_ih + b_hh (4H,) fp32. nn.LSTM gate order: i, f, g, o."""
    with torch.no_grad():
        w = torch.cat([getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")], dim=1)
        b = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
    return w.detach().to(dtype).contiguous(), b.detach().float()


def _lstm_cell(x, h, c, w, b, hidden):
    """One LSTM step, x (B, in), h and c (B, H) fp32 -> new (h, c)."""
    xh = torch.cat([x, h], dim=1).to(w.dtype)  # (B, in+H)
    gates = F.linear(xh, w).float().add_(b)  # (B, 4H): one matmul for both the input and the recurrent part
    i, f, g, o = gates.split(hidden, dim=1)
    c = torch.addcmul(f.sigmoid_() * c, i.sigmoid_(), g.tanh_())
    h = o.sigmoid_().mul_(c.tanh())
    return h, c


def _expand(state, batch: int):
    """State with one row (L, 1, H) -> `batch` independent rows (L, batch, H)."""
    if state is None or batch == 1:
        return state
    if isinstance(state, tuple):
        return tuple(s.expand(-1, batch, -1).contiguous() for s in state)
    return state.expand(-1, batch, -1).contiguous()
