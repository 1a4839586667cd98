"""The recurrent cells written out step by step, on the parameters of a trained nn.LSTM / nn.GRU / nn.RNN.

The LSTM step is the lecture's equations (rnn-lstm-lecture.txt, "four-layer RNN"):

    f_t  = sigma(W_f . [h_{t-1}, x_t] + b_f)       forget: how much of C_{t-1} to keep
    i_t  = sigma(W_i . [h_{t-1}, x_t] + b_i)       input: how much new information to add
    C~_t = tanh(W_C . [h_{t-1}, x_t] + b_C)        candidate: what to add
    C_t  = f_t * C_{t-1} + i_t * C~_t              new cell state
    o_t  = sigma(W_o . [h_{t-1}, x_t] + b_o)       output: how much of the cell to show
    h_t  = o_t * tanh(C_t)

How nn.LSTM stores them: layer k has weight_ih_l{k} (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k} (4H,) and
bias_hh_l{k} (4H,), the four blocks of rows in the order [i, f, C~, o] (PyTorch calls C~ "g"). The lecture's
W_f (H, H + in) acting on [h_{t-1}, x_t] is [weight_hh[H:2H] | weight_ih[H:2H]] side by side, and its b_f is
bias_ih[H:2H] + bias_hh[H:2H]; likewise rows [0:H] are i, [2H:3H] C~ and [3H:4H] o. So
    W . [h_{t-1}, x_t] + b  ==  x_t @ weight_ih.T + h_{t-1} @ weight_hh.T + bias_ih + bias_hh,
which is what `lstm_step` computes for all four gates at once, then splits.

The same replay exists for the lecture's "standard RNN" (h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)) and
for the GRU (nn.GRU's [r, z, n] blocks), so that any checkpoint of lm.model.rnnlm.RNNLM replays here unchanged; training
keeps the fused kernel. `unit_mask` multiplies each layer's h_t before it goes anywhere (the next step, the next
layer, the decoder): a 0 removes one unit's contribution, which is how lm.analysis.ablation ablates units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

# What each cell can return per step, in the lecture's notation: c_tilde is C~_t, c is C_t.
STATES = {
    "lstm": ("f", "i", "c_tilde", "c", "o", "h"),
    "gru": ("r", "z", "n", "h"),
    "rnn": ("h",),
}
GATES = ("f", "i", "o")  # the LSTM's sigmoid gates: each lies in (0, 1)


def _affine(x: torch.Tensor, h: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> tuple[torch.Tensor, torch.Tensor]:
    """The input and recurrent halves of W . [h_{t-1}, x_t] + b: x (B, in), h (B, H) -> two (B, kH)."""
    gx, gh = x @ w_ih.T, h @ w_hh.T
    if b_ih is not None:
        gx = gx + b_ih
    if b_hh is not None:
        gh = gh + b_hh
    return gx, gh


def lstm_step(x, h_prev, c_prev, w_ih, w_hh, b_ih=None, b_hh=None) -> dict[str, torch.Tensor]:
    """One LSTM step: x (B, in), h_prev and c_prev (B, H) -> f, i, c_tilde, c, o, h, each (B, H)."""
    gx, gh = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    z_i, z_f, z_c, z_o = (gx + gh).chunk(4, dim=-1)  # nn.LSTM's row blocks: [i, f, C~, o]
    f_t = torch.sigmoid(z_f)
    i_t = torch.sigmoid(z_i)
    c_tilde = torch.tanh(z_c)
    c_t = f_t * c_prev + i_t * c_tilde
    o_t = torch.sigmoid(z_o)
    h_t = o_t * torch.tanh(c_t)
    return {"f": f_t, "i": i_t, "c_tilde": c_tilde, "c": c_t, "o": o_t, "h": h_t}


def gru_step(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None) -> dict[str, torch.Tensor]:
    """One GRU step as nn.GRU computes it (row blocks [r, z, n]); each output (B, H)."""
    gx, gh = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r_t = torch.sigmoid(x_r + h_r)
    z_t = torch.sigmoid(x_z + h_z)
    n_t = torch.tanh(x_n + r_t * h_n)  # the reset gate scales the recurrent part only, bias included
    h_t = (1 - z_t) * n_t + z_t * h_prev
    return {"r": r_t, "z": z_t, "n": n_t, "h": h_t}


def rnn_step(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh") -> dict[str, torch.Tensor]:
    """The lecture's standard RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), (B, H)."""
    gx, gh = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    return {"h": act(gx + gh)}


def cell_name(module: nn.Module) -> str:
    for name, cls in (("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)):
        if isinstance(module, cls):
            return name
    raise TypeError(f"expected nn.LSTM, nn.GRU or nn.RNN, got {type(module).__name__}")


@dataclass
class Replay:
    """What ExplicitRNN.forward returns. out (B, T, H): the last layer's h_t; state: (h_n, c_n) for an LSTM,
    h_n otherwise, each (L, B, H); trace: name -> (L, B, T, H) for every name in STATES[cell], when recorded."""

    out: torch.Tensor
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
    trace: dict[str, torch.Tensor] | None = None


class ExplicitRNN(nn.Module):
    """Replays a batch_first nn.LSTM / nn.GRU / nn.RNN one step at a time on the same parameters (shared, not
    copied), optionally recording every gate and state and masking units of h_t."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.cell = cell_name(rnn)
        if not rnn.batch_first or rnn.bidirectional or getattr(rnn, "proj_size", 0):
            raise ValueError("ExplicitRNN replays batch_first, unidirectional recurrent layers without projection")
        self.rnn = rnn
        self.num_layers, self.hidden_size = rnn.num_layers, rnn.hidden_size

    def weights(self, layer: int) -> tuple:
        get = lambda name: getattr(self.rnn, f"{name}_l{layer}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _step(self, layer: int, x, h, c) -> dict[str, torch.Tensor]:
        w = self.weights(layer)
        if self.cell == "lstm":
            return lstm_step(x, h, c, *w)
        if self.cell == "gru":
            return gru_step(x, h, *w)
        return rnn_step(x, h, *w, nonlinearity=self.rnn.nonlinearity)

    def _initial(self, x: torch.Tensor, state) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(h_0, c_0), each (L, B, H); c_0 is None but for an LSTM."""
        shape = (self.num_layers, x.shape[0], self.hidden_size)
        if state is None:
            h0 = x.new_zeros(shape)
            return h0, (x.new_zeros(shape) if self.cell == "lstm" else None)
        if self.cell == "lstm":
            return state
        return state, None

    def forward(
        self,
        x: torch.Tensor,
        state=None,
        unit_mask: torch.Tensor | None = None,
        record: bool = False,
        start_layer: int = 0,
    ) -> Replay:
        """x (B, T, in); unit_mask broadcastable to (L, B, H): multiplies h_t of each layer (1 keeps a unit,
        0 removes it). Dropout between layers as in nn.LSTM: only in training mode. start_layer > 0 runs only
        layers start_layer.. on x, the input of that layer (the output of the one below); the state and trace
        then hold those layers only."""
        h0, c0 = self._initial(x, state)
        seq = x
        finals_h, finals_c = [], []
        trace = {name: [] for name in STATES[self.cell]} if record else None
        for layer in range(start_layer, self.num_layers):
            mask = None if unit_mask is None else unit_mask[layer]  # (H,) or (B, H)
            seq, h, c, steps = self._layer(layer, seq, h0[layer], None if c0 is None else c0[layer], mask, record)
            finals_h.append(h)
            finals_c.append(c)
            if record:
                for name in trace:
                    trace[name].append(torch.stack([s[name] for s in steps], dim=1))  # (B, T, H)
            if layer < self.num_layers - 1 and self.rnn.dropout:
                seq = F.dropout(seq, self.rnn.dropout, self.training)
        h_n = torch.stack(finals_h)  # (L, B, H)
        state = (h_n, torch.stack(finals_c)) if self.cell == "lstm" else h_n
        if record:
            trace = {name: torch.stack(layers) for name, layers in trace.items()}  # (L, B, T, H)
        return Replay(seq, state, trace)

    def _layer(self, layer: int, seq, h, c, mask, record: bool):
        """Runs one layer over seq (B, T, in) -> (outputs (B, T, H), h_T, c_T, per-step dicts if recorded)."""
        outs, steps = [], []
        for t in range(seq.shape[1]):
            s = self._step(layer, seq[:, t], h, c)
            if mask is not None:
                s["h"] = s["h"] * mask
            h, c = s["h"], s.get("c")
            outs.append(h)
            if record:
                steps.append(s)
        return torch.stack(outs, dim=1), h, c, steps


def explicit_features(
    model, tokens: torch.Tensor, state=None, unit_mask: torch.Tensor | None = None, record: bool = False
) -> Replay:
    """lm.model.rnnlm.RNNLM.features through the explicit cell: embedding -> dropout -> ExplicitRNN -> dropout ->
    [projection]. tokens (B, T) -> Replay whose out is (B, T, D), D the decoder's input size."""
    x = model.drop_in(model.embedding(tokens))  # (B, T, E)
    explicit = ExplicitRNN(model.rnn)
    explicit.training = model.training  # not .train(): that would also set model.rnn's mode
    rep = explicit(x, state, unit_mask, record)
    out = model.drop(rep.out)
    if model.projection is not None:
        out = model.projection(out)
    return Replay(out, rep.state, rep.trace)
