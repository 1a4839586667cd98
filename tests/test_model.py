import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lm.model.rnnlm import RNNLM, cluster_share, count_parameters


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_and_state(cell):
    m = RNNLM(50, emb_size=12, hidden_size=16, num_layers=3, cell=cell, tie_weights=False)
    logits, state = m(torch.randint(0, 50, (4, 7)))
    assert logits.shape == (4, 7, 50)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (3, 4, 16)


def test_tied_weights_share_storage_and_count_once():
    m = RNNLM(50, emb_size=16, hidden_size=16, tie_weights=True)
    assert m.decoder.weight.data_ptr() == m.embedding.weight.data_ptr()
    untied = RNNLM(50, emb_size=16, hidden_size=16, tie_weights=False)
    assert count_parameters(untied) - count_parameters(m) == 50 * 16


def test_tying_unequal_sizes_is_refused_unless_projected():
    with pytest.raises(ValueError, match="tie_projection"):
        RNNLM(50, emb_size=8, hidden_size=16, tie_weights=True)
    m = RNNLM(50, emb_size=8, hidden_size=16, tie_weights=True, tie_projection=True)
    assert m(torch.zeros(1, 3, dtype=torch.long))[0].shape == (1, 3, 50)


def test_forget_bias_sets_the_forget_gate_slice():
    m = RNNLM(10, 4, 4, num_layers=2, forget_bias=1.0)
    for layer in range(2):
        b = getattr(m.rnn, f"bias_ih_l{layer}") + getattr(m.rnn, f"bias_hh_l{layer}")
        assert torch.allclose(b[4:8], torch.ones(4))  # gate order i, f, g, o


def test_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    m = RNNLM(16, 8, 8, num_layers=2, dropout=0.0, tie_weights=False)
    x = torch.randint(0, 16, (2, 12))
    y = torch.roll(x, -1, dims=1)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(300):  # 200 steps reached 0.060 on an Intel Xeon with AMX, under 0.05 on the AMD machine
        opt.zero_grad()
        loss = F.cross_entropy(m(x)[0].flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
    assert loss.item() < 0.05  # chance is ln 16 = 2.77


@pytest.mark.parametrize(
    "cell, kw",
    [
        ("lstm", {}),
        ("gru", {}),
        ("rnn", {}),
        ("lstm", dict(emb_size=6, tie_weights=True, tie_projection=True)),
        ("lstm", dict(softmax="adaptive", cutoffs=[10, 25], div_value=2.0)),
    ],
)
def test_macs_per_token_is_what_torchs_flop_counter_counts(cell, kw):
    # the explicit cell runs the same matmuls as nn.LSTM/GRU/RNN, one step at a time, which FlopCounterMode sees
    from torch.utils.flop_counter import FlopCounterMode

    from lm.model.cells import explicit_features

    torch.manual_seed(0)
    model = RNNLM(40, **{"emb_size": 12, **kw}, hidden_size=12, num_layers=2, cell=cell, dropout=0.0)
    x, y = torch.randint(40, (3, 7)), torch.randint(40, (3, 7))
    with torch.no_grad(), FlopCounterMode(display=False) as whole:
        model.log_probs(explicit_features(model, x).out)
    assert whole.get_total_flops() / 2 / x.numel() == pytest.approx(model.macs_per_token())
    if model.adaptive:  # training computes only each target's cluster
        share = [float(((y >= lo) & (y < hi)).float().mean()) for lo, hi in [(10, 25), (25, 40)]]
        with torch.no_grad(), FlopCounterMode(display=False) as targeted:
            model.target_log_probs(explicit_features(model, x).out, y)
        assert targeted.get_total_flops() / 2 / x.numel() == pytest.approx(model.macs_per_token(share))
        assert model.macs_per_token(share) < model.macs_per_token()
        cache = y.numpy().astype(np.uint16)  # as the token cache gives them: a read-only memory map
        cache.flags.writeable = False
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "non-writable array" warning in the run's log
            assert cluster_share(model, cache) == pytest.approx(share)


def test_cpu_dropout_keeps_one_minus_p_scaled_and_masks_the_gradient():
    from lm.model.rnnlm import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.3)
    x = torch.ones(200, 500, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(sum y)/dx is the scaled mask itself
    assert drop(x.bfloat16()).dtype == torch.bfloat16
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
