"""NT-ASGD: when it switches, what it averages, and what a run validates, saves and resumes."""

import pytest
import pytorch_lightning as pl
import torch

from conftest import quiet_trainer
from lm.training.module import LanguageModel
from lm.training.ntasgd import NTASGD
from test_module import tiny_setup


def test_switches_after_nonmono_validations_without_a_new_best():
    opt = NTASGD([torch.zeros(1, requires_grad=True)], lr=1.0, nonmono=3)
    losses = [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8]  # best at validation 2, then worse
    events = [opt.observe(v) for v in losses]
    # validation 6 is the first to compare against a window that holds the best (all but the last 3)
    assert events == [None] * 6 + ["switch"] and opt.averaging
    assert opt.observe(3.9) is None  # no second switch, no stop outside fine-tuning

    late = NTASGD([torch.zeros(1, requires_grad=True)], lr=1.0, nonmono=3)
    assert [late.observe(v) for v in [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 2.9, 3.0]] == [None] * 8  # a new best in time


def test_fine_tuning_averages_from_the_start_and_stops_when_flat():
    opt = NTASGD([torch.zeros(1, requires_grad=True)], lr=1.0, nonmono=2, averaged_from_start=True, stop_when_flat=True)
    assert opt.averaging
    assert [opt.observe(v) for v in [3.0, 2.0, 2.5, 2.6, 2.7]] == [None] * 4 + ["stop"]


def test_the_average_is_the_mean_of_the_iterates_after_the_switch_with_weight_decay():
    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    opt = NTASGD([w], lr=0.1, weight_decay=0.01, nonmono=1)
    iterates = []
    for step in range(12):
        if step == 4:
            assert [opt.observe(v) for v in (1.0, 0.5, 0.6, 0.7)][-1] == "switch"
            assert opt.averaging
        w.grad = torch.randn(5)
        before = w.detach().clone()
        opt.step()
        assert torch.allclose(w.detach(), before - 0.1 * (w.grad + 0.01 * before))  # plain SGD with weight decay
        if opt.averaging:
            iterates.append(w.detach().clone())
    assert torch.allclose(opt.average()[w], torch.stack(iterates).mean(0), atol=1e-6)

    current = w.detach().clone()
    with opt.averaged():
        assert torch.allclose(w, torch.stack(iterates).mean(0), atol=1e-6)
    assert torch.equal(w.detach(), current)  # the iterate is back


def test_state_dict_carries_the_schedule_so_a_resumed_run_switches_on_time():
    w = torch.zeros(2, requires_grad=True)
    opt = NTASGD([w], lr=1.0, nonmono=2)
    for v in [3.0, 2.0, 2.5, 2.6, 2.7]:
        opt.observe(v)
    w.grad = torch.ones(2)
    opt.step()
    w2 = torch.zeros(2, requires_grad=True)
    restored = NTASGD([w2], lr=1.0, nonmono=2)
    restored.load_state_dict(opt.state_dict())
    assert restored.averaging and restored.history == opt.history and restored.averaged_steps == 1
    assert torch.equal(restored.average()[w2], opt.average()[w])


def test_nonmono_must_be_positive():
    with pytest.raises(ValueError, match="nonmono"):
        NTASGD([torch.zeros(1, requires_grad=True)], lr=1.0, nonmono=0)


def test_lr_by_length_steps_with_lr_times_chunk_length_over_bptt_and_keeps_the_base_rate(tmp_path):
    dm, module = tiny_setup(tmp_path)  # bptt 5, SGD
    module = LanguageModel(module.hparams.model, {**module.hparams.optimizer, "lr": 0.5}, None, lr_bptt=20)
    module.tokenizer = dm.tokenizer
    seen = {}

    class Spy(pl.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen["before"] = [p.detach().clone() for p in pl_module.parameters()]
            seen["grads"] = [p.grad.clone() for p in pl_module.parameters()]

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen["after"] = [p.detach().clone() for p in pl_module.parameters()]
            seen["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
            seen["length"] = batch[0].shape[1]

    trainer = quiet_trainer(
        max_steps=1,
        limit_val_batches=0,
        callbacks=[Spy()],
    )
    trainer.fit(module, datamodule=dm)
    scale = 0.5 * seen["length"] / 20
    for before, grad, after in zip(seen["before"], seen["grads"], seen["after"]):
        assert torch.allclose(after, before - scale * grad, atol=1e-7)
    assert seen["lr"] == 0.5
