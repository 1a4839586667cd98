"""The explicit cells (lm/model/cells.py) replay nn.LSTM / nn.GRU / nn.RNN exactly and follow the lecture."""

import pytest
import torch
from torch.nn import functional as F

from conftest import TINY_LINES, write_checkpoint
from lm.data.tokenizer import encode_lines
from lm.model import checkpoint
from lm.model.cells import GATES, STATES, ExplicitRNN, explicit_features, lstm_step
from lm.model.rnnlm import RNNLM

TOL = 1e-5


def random_model(cell, layers=3, hidden=9, emb=7, vocab=40, seed=0):
    torch.manual_seed(seed)
    model = RNNLM(vocab, emb_size=emb, hidden_size=hidden, num_layers=layers, cell=cell, dropout=0.3)
    with torch.no_grad():  # larger than the default init, so that gates saturate and differences would show
        for p in model.rnn.parameters():
            p.uniform_(-0.8, 0.8)
    return model.eval()  # eval: nn.LSTM's dropout between layers is off, and so is the replay's


def states_of(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_explicit_replay_equals_the_fused_kernel_on_random_weights(cell):
    model = random_model(cell)
    tokens = torch.randint(0, 40, (5, 13))
    ref_out, ref_state = model.features(tokens)
    rep = explicit_features(model, tokens)
    assert rep.out.shape == ref_out.shape == (5, 13, 9)
    torch.testing.assert_close(rep.out, ref_out, atol=TOL, rtol=0)
    for a, b in zip(states_of(rep.state), states_of(ref_state), strict=True):
        assert a.shape == (3, 5, 9)
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)


def test_explicit_lstm_continues_from_a_given_state():
    model = random_model("lstm", layers=2)
    tokens = torch.randint(0, 40, (3, 10))
    _, state = model.features(tokens[:, :4])
    ref_out, (ref_h, ref_c) = model.features(tokens[:, 4:], state)
    rep = explicit_features(model, tokens[:, 4:], state)
    torch.testing.assert_close(rep.out, ref_out, atol=TOL, rtol=0)
    torch.testing.assert_close(rep.state[0], ref_h, atol=TOL, rtol=0)
    torch.testing.assert_close(rep.state[1], ref_c, atol=TOL, rtol=0)


def trained_tiny_model(tokenizer, steps=40):
    torch.manual_seed(1)
    model = RNNLM(tokenizer.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, dropout=0.2)
    ids = torch.tensor([i for line in encode_lines(tokenizer, TINY_LINES) for i in line]).view(4, -1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    model.train()
    first = None
    for _ in range(steps):
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first * 0.7  # it did train
    return model.eval(), ids


def test_explicit_replay_of_a_trained_checkpoint(tmp_path, word_tokenizer):
    model, ids = trained_tiny_model(word_tokenizer)
    loaded = checkpoint.load(write_checkpoint(tmp_path / "trained.ckpt", model, word_tokenizer)).model
    ref_out, (ref_h, ref_c) = loaded.features(ids)
    rep = explicit_features(loaded, ids)
    torch.testing.assert_close(rep.out, ref_out, atol=TOL, rtol=0)
    torch.testing.assert_close(rep.state[0], ref_h, atol=TOL, rtol=0)
    torch.testing.assert_close(rep.state[1], ref_c, atol=TOL, rtol=0)
    torch.testing.assert_close(loaded.decoder(rep.out), loaded(ids)[0], atol=1e-4, rtol=0)


def test_lstm_trace_follows_the_lecture_equations_and_gates_lie_in_0_1():
    model = random_model("lstm", layers=2)
    rep = explicit_features(model, torch.randint(0, 40, (4, 12)), record=True)
    t = rep.trace
    assert set(t) == set(STATES["lstm"]) and all(v.shape == (2, 4, 12, 9) for v in t.values())
    for g in GATES:
        assert ((t[g] > 0) & (t[g] < 1)).all(), g
    assert (t["c_tilde"].abs() < 1).all()
    c_prev = torch.cat([torch.zeros_like(t["c"][:, :, :1]), t["c"][:, :, :-1]], dim=2)
    torch.testing.assert_close(t["c"], t["f"] * c_prev + t["i"] * t["c_tilde"])  # C_t = f_t*C_{t-1} + i_t*C~_t
    torch.testing.assert_close(t["h"], t["o"] * torch.tanh(t["c"]))  # h_t = o_t * tanh(C_t)
    torch.testing.assert_close(t["h"][-1], rep.out)
    assert t["f"].std() > 0.05  # the gates do vary: (0, 1) is not met by a constant


def test_nn_lstm_layout_is_the_lectures_w_times_h_x():
    """W_f . [h_{t-1}, x_t] + b_f with W_f = [weight_hh[H:2H] | weight_ih[H:2H]], b_f = bias_ih + bias_hh blocks."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4, batch_first=True)
    x, h, c = torch.randn(3, 5), torch.randn(3, 4), torch.randn(3, 4)
    w_ih, w_hh, b_ih, b_hh = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
    step = lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh)
    hx = torch.cat([h, x], dim=1)  # [h_{t-1}, x_t]
    block = {"i": 0, "f": 1, "c_tilde": 2, "o": 3}
    for name, k in block.items():
        W = torch.cat([w_hh[k * 4 : (k + 1) * 4], w_ih[k * 4 : (k + 1) * 4]], dim=1)
        b = b_ih[k * 4 : (k + 1) * 4] + b_hh[k * 4 : (k + 1) * 4]
        act = torch.tanh if name == "c_tilde" else torch.sigmoid
        torch.testing.assert_close(step[name], act(hx @ W.T + b))
    out, (h1, c1) = lstm(x[:, None], (h[None], c[None]))
    torch.testing.assert_close(step["h"], out[:, 0])
    torch.testing.assert_close(step["c"], c1[0])


def test_unit_mask_removes_a_unit_everywhere_and_ones_change_nothing():
    model = random_model("lstm", layers=2)
    tokens = torch.randint(0, 40, (3, 8))
    plain = explicit_features(model, tokens, record=True)
    ones = explicit_features(model, tokens, unit_mask=torch.ones(2, 9), record=True)
    torch.testing.assert_close(ones.out, plain.out)
    mask = torch.ones(2, 9)
    mask[0, 4] = 0
    cut = explicit_features(model, tokens, unit_mask=mask, record=True)
    assert (cut.trace["h"][0, :, :, 4] == 0).all()
    assert not torch.allclose(cut.out, plain.out)  # the unit did contribute
    per_row = torch.ones(2, 3, 9)  # (L, B, H): another unit per row of the batch
    per_row[0, 1, 4] = 0
    rows = explicit_features(model, tokens, unit_mask=per_row)
    torch.testing.assert_close(rows.out[1], cut.out[1])
    torch.testing.assert_close(rows.out[0], plain.out[0])


def test_replay_does_not_change_the_models_mode():
    model = random_model("lstm", layers=2)
    explicit_features(model, torch.randint(0, 40, (2, 5)))
    assert not model.training and not model.rnn.training


def test_explicit_rnn_refuses_layouts_it_does_not_replay():
    with pytest.raises(ValueError, match="batch_first"):
        ExplicitRNN(torch.nn.LSTM(3, 4))
    with pytest.raises(TypeError):
        ExplicitRNN(torch.nn.Linear(3, 4))
