"""AWD-LSTM's regularisers: locked dropout, embedding dropout, weight drop, AR and TAR."""

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from conftest import quiet_trainer
from lm.model.regularizers.activation import activation_penalty, temporal_penalty
from lm.model.regularizers.embedding_dropout import embed
from lm.model.regularizers.locked_dropout import LockedDropout
from lm.model.regularizers.weight_drop import recurrent_weights
from lm.model.rnnlm import RNNLM
from lm.training.module import LanguageModel
from test_module import tiny_setup


def test_locked_dropout_shares_one_mask_over_time_and_draws_one_per_sequence():
    torch.manual_seed(0)
    drop = LockedDropout(0.5).train()
    out = drop(torch.ones(8, 30, 16))  # (B, T, D)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same units dropped at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert any(not torch.equal(out[0, 0], out[b, 0]) for b in range(1, 8))  # sequences draw their own masks
    assert not torch.equal(out, drop(torch.ones(8, 30, 16)))  # and each call draws anew
    assert torch.equal(drop.eval()(out), out)


def test_embedding_dropout_drops_whole_word_types_and_scales_the_rest():
    torch.manual_seed(0)
    emb = nn.Embedding(10, 6)
    tokens = torch.randint(0, 10, (4, 50))
    out = embed(emb, tokens, 0.4, training=True)
    full = emb(tokens)
    dropped = (out == 0).all(-1)  # (B, T)
    for word in tokens.unique():
        where = tokens == word
        assert dropped[where].all() or not dropped[where].any()  # every occurrence goes, or none does
        if not dropped[where].any():
            assert torch.allclose(out[where], full[where] / 0.6)
    assert 0 < dropped.float().mean() < 1
    assert torch.equal(embed(emb, tokens, 0.4, training=False), full)


def test_weight_drop_runs_the_kernel_with_one_dropped_matrix_per_batch_and_leaves_the_weights_alone():
    torch.manual_seed(0)
    model = RNNLM(20, 8, 8, 2, dropout=0.0, weight_drop=0.5).train()
    stored = {k: v.clone() for k, v in model.state_dict().items()}
    tokens = torch.randint(0, 20, (3, 12))

    torch.manual_seed(1)
    out, _ = model.features(tokens)
    torch.manual_seed(1)  # the same draw, made by hand: each w_hh dropped once for the whole batch
    dropped = dict(zip(model.rnn._flat_weights_names, recurrent_weights(model.rnn, 0.5, True)))
    expected, _ = torch.func.functional_call(model.rnn, dropped, (model.embedding(tokens),))
    assert torch.allclose(out, expected, atol=1e-6)
    hh = dropped["weight_hh_l0"]
    assert 0.3 < (hh == 0).float().mean() < 0.7 and torch.allclose(hh[hh != 0], 2 * model.rnn.weight_hh_l0[hh != 0])
    assert torch.equal(dropped["weight_ih_l0"], model.rnn.weight_ih_l0)  # input weights are not dropped

    assert not torch.allclose(out, model.features(tokens)[0])  # the next batch draws new masks
    assert all(torch.equal(v, stored[k]) for k, v in model.state_dict().items())
    model.eval()  # off in eval: exactly the plain model
    assert torch.equal(model.features(tokens)[0], model.rnn(model.embedding(tokens))[0])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_locked_dropout_between_layers_runs_layer_by_layer_with_the_same_result_when_nothing_drops(cell):
    torch.manual_seed(0)
    plain = RNNLM(20, 8, 8, 3, cell=cell, dropout=0.0).train()
    locked = RNNLM(20, 8, 8, 3, cell=cell, dropout=0.0, locked_dropout=True)
    locked.load_state_dict(plain.state_dict())
    tokens = torch.randint(0, 20, (2, 7))
    (a, sa), (b, sb) = plain.features(tokens), locked.train().features(tokens)
    assert torch.allclose(a, b, atol=1e-6)
    assert all(
        torch.allclose(x, y, atol=1e-6) for x, y in zip(*(s if isinstance(s, tuple) else (s,) for s in (sa, sb)))
    )


def test_ar_and_tar_are_added_to_the_objective_as_a_hand_computation_gives(tmp_path):
    dm, module = tiny_setup(tmp_path)
    model_args = {**module.hparams.model, "num_layers": 2, "hidden_size": 6}
    module = LanguageModel(model_args, module.hparams.optimizer, None, ar=2.0, tar=3.0)
    module.tokenizer = dm.tokenizer
    start = {k: v.clone() for k, v in module.model.state_dict().items()}
    seen = {}

    class Grab(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.setdefault("objective", float(outputs["loss"]))
            seen.setdefault("batch", batch)

    trainer = quiet_trainer(
        max_steps=1,
        limit_val_batches=0,
        callbacks=[Grab()],
    )
    trainer.fit(module, datamodule=dm)

    model = RNNLM(**model_args)
    model.load_state_dict(start)
    tokens, targets = seen["batch"]
    with torch.no_grad():
        h, _ = model.rnn(model.embedding(tokens))  # (B, T, H): dropout 0, so dropped == raw
    nll = torch.nn.functional.cross_entropy(model.decoder(h).flatten(0, 1), targets.flatten()).detach()
    B, T, H = h.shape
    ar = sum(float(h[b, t, i]) ** 2 for b in range(B) for t in range(T) for i in range(H)) / (B * T * H)
    tar = sum(float(h[b, t, i] - h[b, t - 1, i]) ** 2 for b in range(B) for t in range(1, T) for i in range(H))
    tar /= B * (T - 1) * H
    assert seen["objective"] == pytest.approx(float(nll) + 2.0 * ar + 3.0 * tar, rel=1e-5)
    assert activation_penalty(h) == pytest.approx(ar, rel=1e-5) and temporal_penalty(h) == pytest.approx(tar, rel=1e-5)
    assert float(temporal_penalty(h[:, :1])) == 0.0  # a one-step chunk has no difference
