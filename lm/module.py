"""LightningModule: drives an `RNNLM` with truncated BPTT, state carried across ordered chunks."""

from __future__ import annotations

import inspect
import logging
import math
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from pytorch_lightning.loggers import WandbLogger

from lm import rng
from lm.checkpoint import FORMAT
from lm.errors import Diverged
from lm.model import RNNLM, cluster_share, count_parameters, detach_state, map_state
from lm.ntasgd import NTASGD
from lm.regularizers.activation import activation_penalty, temporal_penalty
from lm.tokenizer import load_tokenizer

log = logging.getLogger(__name__)
NONFINITE = ("stop", "skip")
MAX_SKIPS = 100  # nonfinite=skip: this many non-finite steps in a row stop the run all the same


def batch_rows(batch) -> int:  # batch: (inputs, targets), each (B, T)
    return batch[0].shape[0]


def batch_tokens(batch) -> int:
    return batch[0].numel()


class LanguageModel(pl.LightningModule):
    def __init__(
        self,
        model: dict,
        optimizer: dict,
        scheduler: dict | None = None,
        monitor: str = "val/loss",
        nonfinite: str = "stop",
        ar: float = 0.0,
        tar: float = 0.0,
        lr_bptt: int | None = None,
    ):
        """`model` holds RNNLM's plain arguments; `optimizer`/`scheduler` are `_partial_` Hydra configs.
        `nonfinite`: a non-finite loss or gradient norm stops the run (`stop`) or skips that step (`skip`).
        `ar` / `tar`: weights of activation / temporal activation regularisation (AWD's alpha / beta).
        `lr_bptt`: scale each step's learning rate by its chunk length / lr_bptt (AWD, with variable BPTT)."""
        super().__init__()
        if nonfinite not in NONFINITE:
            raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
        self.save_hyperparameters()
        self.model = RNNLM(**model)
        self.tokenizer = None  # set by train(); travels in the checkpoint
        self.run_config: dict = {}
        self._state = {}  # "train" / "eval": the recurrent state carried from chunk to chunk
        self._nll = self._ntok = None
        self._clock = None
        self._log_now = False
        self._resume = None  # what a resumed run sets right before its first step (lm/rng.py, carried state)
        self._monitored_at_save = None  # val/loss of a checkpoint written at an epoch's end
        self._first_bad = None  # (2,) step of the first non-finite loss / gradient norm, -1: none; on the device
        self._skips = self._skips_in_row = 0
        self._averaged = None  # NT-ASGD: the averaged weights are in place while this context is open
        self._chunk_len = 0  # this step's BPTT length (lr_bptt)

    def forward(self, tokens, state=None):
        return self.model(tokens, state)

    def _forward_nll(self, tokens, targets, key):
        """(B, T) NLL of the targets, and the last layer's outputs before and after dropout (B, T, H)."""
        feats, state, outputs = self.model.features_and_outputs(tokens, self._state.get(key))
        self._state[key] = detach_state(state)  # truncated BPTT: keep the value, cut the graph
        return -self.model.target_log_probs(feats, targets), outputs  # fp32 even under bf16 autocast

    # --- training -------------------------------------------------------------------------------------------
    def on_train_epoch_start(self):
        self._state.pop("train", None)
        self._clock = (time.perf_counter(), 0)

    def on_train_epoch_end(self):
        if self.trainer.fit_loop.restarting:  # see _step_epoch_schedulers
            monitored = self.trainer.callback_metrics.get(self.hparams.monitor, self._monitored_at_save)
            if monitored is not None:
                self._step_epoch_schedulers(float(monitored))

    def on_fit_start(self):
        # FLOPs per token for Lightning's ThroughputMonitor (FLOP/s and, on a known GPU, model-FLOPs utilisation):
        # 2 per multiply-add forward, 3x that in training; an adaptive softmax's tails by their share of targets
        ids = getattr(getattr(self.trainer, "datamodule", None), "ids", {}).get("train")
        self._macs = self.model.macs_per_token(cluster_share(self.model, ids) if ids is not None else None)

    def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self.flops_per_batch = 2 * getattr(self, "_macs", 0.0) * batch[0].numel()

    def on_train_batch_start(self, batch, batch_idx):
        self.flops_per_batch = 6 * getattr(self, "_macs", 0.0) * batch[0].numel()
        if self._resume:  # the first step after a resume draws what the interrupted run would have drawn next
            rng.restore(self._resume["rng"])
            if (state := self._resume.get("state")) is not None:
                self._state["train"] = map_state(lambda s: s.to(self.device), state)
            self._resume = None

    def training_step(self, batch, batch_idx):
        tokens, targets = batch
        self._chunk_len = tokens.shape[1]
        nll, (raw, dropped) = self._forward_nll(tokens, targets, "train")
        loss = nll.mean()
        # the rest only on steps whose metrics reach the logger: each self.log costs time in a 0.1 s step
        self._log_now = (self.global_step + 1) % self.trainer.log_every_n_steps == 0
        objective = loss
        for name, weight, penalty in (
            ("ar", self.hparams.ar, activation_penalty),
            ("tar", self.hparams.tar, temporal_penalty),
        ):
            if weight:
                value = penalty(dropped if name == "ar" else raw)
                objective = objective + weight * value
                if self._log_now:
                    self.log(f"train/{name}", value)  # unweighted; train/loss stays the NLL
        if not self._finite(objective, 0):
            self._state.pop("train", None)  # the next chunk starts from a zero state, not a possibly broken one
            return None  # Lightning skips the backward pass and the optimizer step
        self.log("train/loss", loss, prog_bar=True)
        if self._log_now:
            self.log("train/ppl", loss.detach().exp())
        return objective

    # --- non-finite values: stop the run (default) or skip the step ------------------------------------------
    def _finite(self, value: torch.Tensor, which: int) -> bool:
        """`stop`: remember the first step whose value (0 loss, 1 gradient norm) is not finite, on the device,
        no host sync; `check_finite` reads it on logging steps and before every checkpoint. `skip`: decide now
        (one host sync per step, the price of skipping)."""
        bad = ~torch.isfinite(value.detach())
        if self.hparams.nonfinite == "stop":
            if self._first_bad is None:
                self._first_bad = torch.full((2,), -1, dtype=torch.long, device=value.device)
            first = self._first_bad[which]
            first.copy_(torch.where(bad & (first < 0), self.global_step + 1, first))
            return True
        # ranks must agree (a rank that skips its backward pass would leave the others waiting); the gradient
        # norm is computed after the all-reduce, so it agrees already
        bad = self.trainer.strategy.reduce_boolean_decision(bool(bad), all=False) if which == 0 else bool(bad)
        if not bad:
            if which == 1:  # the step went through
                self._skips_in_row = 0
            return True
        self._skips += 1
        self._skips_in_row += 1
        if self._skips_in_row >= MAX_SKIPS:
            raise Diverged(
                f"training diverged: {MAX_SKIPS} steps in a row had a non-finite "
                f"{('loss', 'gradient norm')[which]} (last at step {self.global_step + 1}); "
                "try a lower optim.optimizer.lr or trainer.gradient_clip_val=0.25"
            )
        return False

    def check_finite(self) -> None:
        if self._first_bad is None:
            return
        loss_step, grad_step = self._first_bad.tolist()
        if loss_step < 0 and grad_step < 0:
            return
        which, step = (
            ("loss", loss_step)
            if loss_step >= 0 and (grad_step < 0 or loss_step <= grad_step)
            else ("gradient norm", grad_step)
        )
        raise Diverged(
            f"training diverged: the {which} was not finite at step {step}; no checkpoint was written "
            "from it. Try a lower optim.optimizer.lr, trainer.gradient_clip_val=0.25 or "
            "trainer.precision=32-true, or nonfinite=skip to skip such steps"
        )

    def on_train_batch_end(self, outputs, batch, batch_idx):
        # throughput since the last logged step; plain floats, no device sync
        start, tokens = self._clock or (time.perf_counter(), 0)  # None when resumed mid-epoch
        tokens += batch[0].numel() * self.trainer.world_size
        self._clock = (start, tokens)
        if self._log_now:
            self.check_finite()
            now = time.perf_counter()
            self.log("train/tokens_per_s", tokens / max(now - start, 1e-9), prog_bar=True)
            if self.hparams.nonfinite == "skip":
                self.log("train/skipped_steps", float(self._skips))
            self._clock = (now, 0)
        if 0 < self.trainer.max_steps <= self.global_step:
            # stopping at max_steps mid-epoch: asking to stop makes Lightning validate (and checkpoint) first
            self.trainer.should_stop = True

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        # the lecture's exploding-gradient guard; the pre-clip total norm is logged as train/grad_norm
        if self.hparams.nonfinite == "skip" and all(p.grad is None for p in self.parameters()):
            return  # training_step skipped this step
        max_norm = gradient_clip_val if gradient_clip_val else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), max_norm)
        if not self._finite(norm, 1):
            for p in self.parameters():  # optimizers pass over parameters without a gradient: the step is skipped
                p.grad = None
            return
        if self._log_now:
            self.log("train/grad_norm", norm)

    # --- evaluation: perplexity = exp(total NLL / total tokens), state carried across the split -------------
    def _eval_start(self):
        if (opt := self._ntasgd()) is not None:  # validate the averaged weights (after the switch)
            self._averaged = opt.averaged()
            self._averaged.__enter__()
        self._state.pop("eval", None)
        self._nll = torch.zeros((), dtype=torch.float64, device=self.device)
        self._ntok = 0

    def _eval_step(self, batch):
        tokens, targets = batch
        self._nll += self._forward_nll(tokens, targets, "eval")[0].sum().double()
        self._ntok += targets.numel()

    def _eval_end(self, stage):
        if self._averaged is not None:  # back to the iterates
            self._averaged.__exit__(None, None, None)
            self._averaged = None
        nll = self.trainer.strategy.reduce(self._nll, reduce_op="sum")
        ntok = self.trainer.strategy.reduce(torch.tensor(float(self._ntok), device=self.device), reduce_op="sum")
        loss = (nll / ntok).float()
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val")
        self.log(f"{stage}/ppl", loss.exp(), prog_bar=stage == "val")
        if stage == "val" and not self.trainer.sanity_checking:
            value = loss.item()
            if self.trainer.is_global_zero:
                log.info(
                    f"epoch {self.current_epoch} step {self.global_step}: val/loss {value:.4f}  "
                    f"val/ppl {safe_exp(value):.2f}"
                )
            if not math.isfinite(value):
                raise Diverged(
                    f"training diverged: val/loss is {value} at step {self.global_step}; no checkpoint "
                    "was written from it. Try a lower optim.optimizer.lr or trainer.gradient_clip_val=0.25"
                )
            if (opt := self._ntasgd()) is not None:
                self._observe(opt, value)

    def _observe(self, opt: NTASGD, value: float) -> None:
        event = opt.observe(value)
        if event == "switch" and self.trainer.is_global_zero:
            log.info(
                f"NT-ASGD: no new best val/loss in {opt.nonmono} validations: averaging the weights from "
                f"epoch {self.current_epoch} step {self.global_step} on"
            )
        if event == "stop":
            if self.trainer.is_global_zero:
                log.info(f"NT-ASGD: no new best val/loss in {opt.nonmono} validations while averaging: stopping")
            self.trainer.should_stop = True
        self.log("optim/averaging", float(opt.averaging))

    def _ntasgd(self) -> NTASGD | None:
        optimizers = self.trainer.optimizers if self._trainer is not None else []
        return next((o for o in optimizers if isinstance(o, NTASGD)), None)

    on_validation_epoch_start = on_test_epoch_start = _eval_start

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch)

    def test_step(self, batch, batch_idx):
        self._eval_step(batch)

    def on_validation_epoch_end(self):
        self._eval_end("val")

    def on_test_epoch_end(self):
        self._eval_end("test")

    # --- optimisation ---------------------------------------------------------------------------------------
    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
        if not self.hparams.lr_bptt:
            return super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        # AWD with variable BPTT: a chunk of length T steps with lr * T / bptt, so each token weighs the same;
        # the closure (forward, backward, clipping) runs inside step(), so the scaled rate is set after it
        base = [group["lr"] for group in optimizer.param_groups]

        def closure():
            loss = optimizer_closure()
            for group, lr in zip(optimizer.param_groups, base):
                group["lr"] = lr * self._chunk_len / self.hparams.lr_bptt
            return loss

        try:
            return optimizer.step(closure=closure)
        finally:
            for group, lr in zip(optimizer.param_groups, base):
                group["lr"] = lr

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        spec = dict(self.hparams.scheduler)
        interval = spec.pop("interval", "epoch")  # "step": a per-step schedule (lm/schedules.py)
        make = instantiate(spec)
        extra = {}
        if interval == "step" and "total_steps" in inspect.signature(make).parameters:
            extra["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = make(optimizer=optimizer, **extra)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.monitor, "interval": interval},
        }

    # --- a checkpoint stands alone ---------------------------------------------------------------------------
    def _step_epoch_schedulers(self, monitored: float) -> None:
        """Lightning skips the epoch-end scheduler step of the epoch in which a run resumed (FitLoop.on_advance_end:
        it may lack the metric a plateau scheduler needs). Take it here: with this run's val/loss, or, resumed
        from the checkpoint of an epoch's last validation, with the value the interrupted run had."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval == "epoch" and (self.current_epoch % config.frequency == 0):
                if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    config.scheduler.step(monitored)
                else:
                    config.scheduler.step()

    # resuming needs more: the generators' states, the state carried into the next chunk, the W&B run, and at an
    # epoch's end the monitored value (above)
    def on_save_checkpoint(self, checkpoint):
        self.check_finite()
        if not torch.stack([torch.isfinite(p).all() for p in self.parameters()]).all():
            raise Diverged(
                f"training diverged: the weights are not finite at step {self.global_step}; no checkpoint "
                "was written. Try a lower optim.optimizer.lr or trainer.gradient_clip_val=0.25"
            )
        epoch_end = self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch  # the next step starts an epoch
        state = None if epoch_end else map_state(torch.Tensor.cpu, self._state.get("train"))
        monitored = self.trainer.callback_metrics.get(self.hparams.monitor) if epoch_end else None
        wandb_id = next((lg.version for lg in self.loggers if isinstance(lg, WandbLogger)), None)
        checkpoint["lm"] = {
            "format": FORMAT,
            "tokenizer_json": self.tokenizer.to_str(),
            "config": self.run_config,
            "params": count_parameters(self.model),
            "resume": {
                "rng": rng.collect(),
                "state": state,
                "wandb_id": wandb_id,
                "epoch_end": None if monitored is None else float(monitored),
                "iterate": self._put_average(checkpoint["state_dict"]),
            },
        }

    def _put_average(self, state_dict: dict) -> dict | None:
        """NT-ASGD: the checkpoint's weights become the averaged ones (what generation, probes and tests load);
        the iterates, which training resumes from, are returned to be kept beside them."""
        average = opt.average() if (opt := self._ntasgd()) else {}
        if not average:
            return None
        by_param = {id(p): ax for p, ax in average.items()}
        iterate = {}
        for key, p in self.state_dict(keep_vars=True).items():  # a tied weight appears under both its keys
            if id(p) in by_param:
                iterate[key], state_dict[key] = state_dict[key], by_param[id(p)].detach().clone()
        return iterate

    def on_load_checkpoint(self, checkpoint):
        self.tokenizer = load_tokenizer(checkpoint["lm"]["tokenizer_json"])
        self.run_config = checkpoint["lm"]["config"]
        self._resume = checkpoint["lm"].get("resume")
        iterate = (self._resume or {}).get("iterate")
        if iterate and self._trainer is not None and self.trainer.state.fn == "fit":  # resume from the iterates
            checkpoint["state_dict"].update(iterate)
        self._monitored_at_save = (self._resume or {}).get("epoch_end")


def safe_exp(x: float) -> float:
    """Perplexity from a mean NLL: inf, not an OverflowError, for a diverged model."""
    return math.exp(x) if x < 709 else math.inf
