"""Stateful decoders: read the prompt once, then one recurrent step per new token with the state kept.

Two engines behind one interface; they hold weights only, the caller carries the state:
    prefill(ids (1, T), batch) -> (logits (batch, V) fp32, state)     the prompt, read once
    step(ids (B,), state)      -> (logits (B, V) fp32, state)         one token per row

- `ModelEngine` calls the model itself (any cell, any device, exact fp32).
- `FusedLSTMEngine` steps the LSTM layers by hand, for the CPU. There, `nn.LSTM` called on one token pays
  about a millisecond of fixed cost per call (more than its matmuls), and the 2x650 / 10k-word PTB model's
  53 MB of fp32 weights do not fit the 32 MB L3 cache, so every step waits on memory. Here each layer is one
  matmul over [x ; h] with W = [W_ih | W_hh] (4H, E+H), through oneDNN with the weights packed once, and with
  dtype=bfloat16 the weights take 26.6 MB and stay in cache. Only the matmuls are in bf16: the state (h, c),
  the biases, the gate non-linearities and the softmax stay fp32.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F

from lm.device import cpu_has_bf16
from lm.model.rnnlm import RNNLM

ENGINES = ("auto", "reference", "fp32", "bf16")


def choose_engine(model: RNNLM, engine: str, device: torch.device) -> str:
    """Resolve engine='auto' and reject combinations that cannot run (ValueError naming `engine`)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if engine == "auto":
        if model.cell != "lstm" or device.type != "cpu":
            return "reference"  # cuDNN already steps fast; GRU/RNN have no fused path
        return "bf16" if cpu_has_bf16() else "fp32"
    if engine != "reference" and model.cell != "lstm":
        raise ValueError(f"engine={engine} steps LSTM cells only (this model is a {model.cell}); use engine=reference")
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
        self.layers = []
        for layer in range(model.num_layers):
            w, b = _fuse_layer(model.rnn, layer, dtype)
            self.layers.append((linear_op(w), b))
        with torch.no_grad():
            proj = model.projection
            self.projection = None if proj is None else linear_op(proj.weight.detach().to(dtype))  # H -> E
            if model.adaptive:  # a dtype copy of the adaptive softmax; its log-softmaxes stay fp32
                self.decoder = copy.deepcopy(model.decoder).to(dtype).log_prob
                self.decoder_b = None
            else:
                self.decoder = linear_op(model.decoder.weight.detach().to(dtype))  # E -> V; tied or not, a copy
                self.decoder_b = model.decoder.bias.detach().float()

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor, batch: int = 1):
        # The prompt is stepped through the same cells as the new tokens: prompts are short, and a call of
        # nn.LSTM on a sequence of a new length costs milliseconds of oneDNN set-up on this CPU.
        zeros = torch.zeros(1, self.model.hidden_size, device=ids.device)
        state = ([zeros] * len(self.layers), [zeros] * len(self.layers))
        for t in range(ids.size(1)):
            logits, state = self.step(ids[:, t], state)
        hs, cs = (tuple(s.expand(batch, -1).contiguous() for s in part) for part in state)
        return logits.expand(batch, -1), (hs, cs)

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state):
        """state: (h, c), each a sequence of L (B, H) fp32 tensors."""
        h0, c0 = state
        x = self.model.embedding.weight[ids]  # (B, E) fp32
        hs, cs = [], []
        for layer, (linear, b) in enumerate(self.layers):
            x, c = _lstm_cell(x, h0[layer], c0[layer], linear, b, self.dtype)
            hs.append(x)
            cs.append(c)
        return self._logits(x), (hs, cs)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        x = h.to(self.dtype)
        if self.projection is not None:
            x = self.projection(x)
        if self.decoder_b is None:
            return self.decoder(x)  # adaptive: log-probs (B, V) fp32
        return torch.add(self.decoder(x), self.decoder_b)  # (B, V), fp32 by type promotion


def _fuse_layer(rnn: torch.nn.LSTM, layer: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """W = [W_ih | W_hh] (4H, in+H) in dtype, b = b_ih + b_hh (4H,) fp32, with the gate rows reordered from
    nn.LSTM's (i, f, g, o) to (i, f, o, g) so that one sigmoid covers the first 3H and one tanh the last H."""
    with torch.no_grad():
        w = torch.cat([getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")], dim=1)
        b = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
        i, f, g, o = torch.arange(len(b)).chunk(4)
        order = torch.cat([i, f, o, g])
    return w[order].detach().to(dtype).contiguous(), b[order].detach().float()


def linear_op(weight: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """x (B, in) -> x @ weight.T (B, out), in weight's dtype.

    On the CPU this uses oneDNN with the weight reordered once into its blocked layout (what torch.compile's
    freezing does), about twice as fast as F.linear for a few rows here. Those ops are private to torch, so
    they are checked against F.linear once and F.linear is used if they are missing or disagree.
    """

    def plain(x):
        return F.linear(x, weight)

    if weight.device.type != "cpu" or weight.dtype not in (torch.float32, torch.bfloat16):
        return plain
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 1)

        def fast(x):
            return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")

        probe = torch.randn(3, weight.size(1), generator=torch.Generator().manual_seed(0)).to(weight.dtype)
        want, got = plain(probe).float(), fast(probe).float()
        if got.shape == want.shape and torch.allclose(got, want, rtol=1e-2, atol=1e-3 * want.abs().max().item()):
            return fast
    except (AttributeError, RuntimeError, TypeError, NotImplementedError):
        pass
    return plain


def _lstm_cell(x, h, c, linear, b, dtype):
    """One LSTM step, x (B, in), h and c (B, H) fp32 -> new (h, c) fp32. linear: [x ; h] -> gates in dtype."""
    hidden = h.size(1)
    xh = torch.cat([x, h], dim=1).to(dtype)  # (B, in+H)
    gates = torch.add(linear(xh), b)  # (B, 4H) fp32: one matmul for the input and the recurrent part
    ifo = gates[:, : 3 * hidden].sigmoid()
    g = gates[:, 3 * hidden :].tanh()
    c = torch.addcmul(ifo[:, hidden : 2 * hidden] * c, ifo[:, :hidden], g)  # c' = f * c + i * g
    h = ifo[:, 2 * hidden :] * c.tanh()  # h' = o * tanh(c')
    return h, c


def _expand(state, batch: int):
    """State with one row (L, 1, H) -> `batch` independent rows (L, batch, H)."""
    if state is None or batch == 1:
        return state
    if isinstance(state, tuple):
        return tuple(s.expand(-1, batch, -1).contiguous() for s in state)
    return state.expand(-1, batch, -1).contiguous()
