import math
import random

import pytorch_lightning as pl
import torch

from conftest import quiet_trainer
from lm.data.datamodule import LMDataModule
from lm.training.module import LanguageModel

SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.5}


def write_corpus(root, n_lines=(300, 40, 40), seed=0):
    rng = random.Random(seed)
    words = "the a cat dog sees runs and big small red".split()
    for split, n in zip(("train", "valid", "test"), n_lines):
        (root / f"{split}.txt").write_text("\n".join(" ".join(rng.choices(words, k=8)) for _ in range(n)) + "\n")
    return root


def tiny_setup(tmp_path, batch_size=4):
    dm = LMDataModule(
        {
            "source": "text",
            "dir": str(write_corpus(tmp_path)),
            "batch_size": batch_size,
            "eval_batch_size": 2,
            "bptt": 5,
        },
        {"kind": "word"},
        tmp_path / "cache",
    )
    tok = dm.prepare()
    module = LanguageModel(
        {"vocab_size": tok.get_vocab_size(), "emb_size": 8, "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        SGD,
        None,
    )
    module.tokenizer = tok
    return dm, module


def record_states(module):
    calls = []
    features = module.model.features_and_outputs

    def spy(tokens, state=None):
        out, new, outputs = features(tokens, state)
        calls.append((module.trainer.state.stage, None if state is None else state[0].clone(), new[0].detach().clone()))
        return out, new, outputs

    module.model.features_and_outputs = spy
    return calls


def test_state_is_carried_across_chunks_and_reset_at_each_epoch_and_eval_pass(tmp_path):
    dm, module = tiny_setup(tmp_path)
    calls = record_states(module)
    trainer = quiet_trainer(
        max_epochs=2,
    )
    trainer.fit(module, datamodule=dm)
    runs, prev_stage = [], None  # consecutive calls of one loop pass
    for stage, state_in, state_out in calls:
        if stage != prev_stage or state_in is None:
            runs.append([])
        runs[-1].append((state_in, state_out))
        prev_stage = stage
    stages = [c[0] for c in calls]
    n_train = sum(s == "train" for s in stages) // 2
    assert n_train > 3
    assert len(runs) == 4  # train, validate, train, validate: each starts from a fresh (None) state
    for run in runs:
        assert run[0][0] is None
        for (_, out), (inp, _) in zip(run, run[1:]):
            assert inp is not None and torch.equal(inp, out)  # the next chunk starts where this one ended


def test_perplexity_is_exp_of_total_nll_over_total_tokens(tmp_path):
    dm, module = tiny_setup(tmp_path)
    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, use_distributed_sampler=False, enable_model_summary=False
    )
    (res,) = trainer.validate(module, datamodule=dm, verbose=False)
    # the same number by hand: one pass over the valid rows, state carried
    module.eval()
    nll, n, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in dm.val_dataloader():
            logits, state = module.model(x, state)
            nll += torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            n += y.numel()
    assert n == (len(dm.ids["valid"]) // 2 - 1) * 2  # every predicted token of both rows counted once
    assert math.isclose(res["val/ppl"], math.exp(nll / n), rel_tol=1e-5)
    assert math.isclose(res["val/loss"], nll / n, rel_tol=1e-5)


class CountHostReads(pl.Callback):
    """Counts tensor -> Python conversions (each one a device sync on a GPU) in training steps that are not
    logging steps: from one batch's start to the next's, so forward, backward, clipping, the update and every
    hook of the step (the module's on_train_batch_end included) are inside."""

    NAMES = ("item", "tolist", "__float__", "__int__", "__bool__")

    def __init__(self, monkeypatch):
        self.active, self.calls = False, []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)

            def spy(t, *a, _name=name, _original=original, **k):
                if self.active:
                    self.calls.append(_name)
                return _original(t, *a, **k)

            monkeypatch.setattr(torch.Tensor, name, spy)

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.active = (trainer.global_step + 1) % trainer.log_every_n_steps != 0

    def on_train_epoch_end(self, trainer, module):
        self.active = False


def test_a_training_step_reads_nothing_back_from_the_device(tmp_path, monkeypatch):
    dm, module = tiny_setup(tmp_path)
    spy = CountHostReads(monkeypatch)
    trainer = quiet_trainer(
        max_steps=12,
        log_every_n_steps=5,
        gradient_clip_val=0.25,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 12
    assert spy.calls == []
    # the spy does see a read when there is one
    spy.active = True
    torch.ones(1).item()
    assert spy.calls == ["item"]


def poison_loss(module, every):
    """Make every `every`-th training loss nan (the step index counts training calls)."""
    calls, target = [], module.model.target_log_probs

    def poisoned(feats, targets):
        out = target(feats, targets)
        if module.training:
            calls.append(1)
            if len(calls) % every == 0:
                return out * float("nan")
        return out

    module.model.target_log_probs = poisoned


def fit(module, dm, **kw):
    trainer = quiet_trainer(
        max_epochs=1,
        **kw,
    )
    trainer.fit(module, datamodule=dm)
    return trainer


def test_nonfinite_skip_leaves_the_weights_untouched_on_those_steps_and_counts_them(tmp_path):
    dm, module = tiny_setup(tmp_path)
    module = LanguageModel(module.hparams.model, SGD, None, nonfinite="skip")
    module.tokenizer = dm.prepare()
    poison_loss(module, every=3)
    trainer = fit(module, dm)
    steps = trainer.global_step
    assert module.guard.skips == steps // 3 > 3
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_nonfinite_skip_every_step_changes_nothing_and_stops_after_many_in_a_row(tmp_path):
    import pytest

    from lm.errors import Diverged
    from lm.training.nonfinite import MAX_SKIPS

    dm, module = tiny_setup(tmp_path, batch_size=1)
    module = LanguageModel(module.hparams.model, SGD, None, nonfinite="skip")
    module.tokenizer = dm.prepare()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    poison_loss(module, every=1)
    with pytest.raises(Diverged, match=f"{MAX_SKIPS} steps in a row had a non-finite loss"):
        fit(module, dm)
    assert module.guard.skips == MAX_SKIPS
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_nonfinite_stop_raises_at_the_first_bad_step_and_saves_nothing(tmp_path):
    import pytest

    from lm.errors import Diverged

    dm, module = tiny_setup(tmp_path)
    poison_loss(module, every=7)
    with pytest.raises(Diverged, match="the loss was not finite at step 7;"):
        fit(module, dm, log_every_n_steps=5)  # found on the next logging step (10), reported as step 7
