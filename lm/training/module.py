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
from torchmetrics import MeanMetric

from lm.data.tokenizer import load_tokenizer
from lm.errors import Diverged
from lm.model.checkpoint import FORMAT
from lm.model.regularizers.activation import activation_penalty, temporal_penalty
from lm.model.rnnlm import RNNLM, cluster_share, count_parameters, detach_state, map_state
from lm.training import rng
from lm.training.negatives import hinge
from lm.training.nonfinite import NonFiniteGuard
from lm.training.ntasgd import NTASGD, swap_in_average
from lm.training.perplexity import safe_exp
from lm.training.schedules import step_with_scaled_lr

log = logging.getLogger(__name__)


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
        negatives: dict | None = None,
    ):
        """`model` holds RNNLM's plain arguments; `optimizer`/`scheduler` are `_partial_` Hydra configs.
        `nonfinite`: a non-finite loss or gradient norm stops the run (`stop`) or skips that step (`skip`).
        `ar` / `tar`: weights of activation / temporal activation regularisation (AWD's alpha / beta).
        `lr_bptt`: scale each step's learning rate by its chunk length / lr_bptt (AWD, with variable BPTT).
        `negatives`: {weight, margin, groups, finite_only, person_cues, balance}: a hinge on minimal pairs at the
        tokens that have one (lm/training/negatives.py); build() sets `partners`, `partner_scale` and `partner_row`
        from the vocabulary and the training text."""
        super().__init__()
        self.guard = NonFiniteGuard(nonfinite)  # checks the mode before anything is built
        self.save_hyperparameters()
        self.model = RNNLM(**model)
        self.tokenizer = None  # set by train(); travels in the checkpoint
        self.run_config: dict = {}
        self._state = {}  # "train" / "eval": the recurrent state carried from chunk to chunk
        # mean NLL per token over a whole split, summed across batches and (under DDP) processes, in float64
        self.eval_nll = MeanMetric(nan_strategy="disable").set_dtype(torch.float64)  # a NaN must reach the guard
        self._clock = None
        self._log_now = False
        self._resume = None  # what a resumed run sets right before its first step (lm/training/rng.py, carried state)
        self._monitored_at_save = None  # val/loss of a checkpoint written at an epoch's end
        self._averaged = None  # NT-ASGD: the averaged weights are in place while this context is open
        self._chunk_len = 0  # this step's BPTT length (lr_bptt)
        # negatives (lm/training/negatives.partner_table): (V,) partner id per word, -1 for none; (2, V) its group's
        # scale, None = 1; (V,) the scale's row for each previous word, None = row 0. Set by build(), move with the
        # module, never saved
        self.register_buffer("partners", None, persistent=False)
        self.register_buffer("partner_scale", None, persistent=False)
        self.register_buffer("partner_row", None, persistent=False)

    def forward(self, tokens, state=None):
        return self.model(tokens, state)

    def _forward_nll(self, tokens, targets, key, also=None):
        """(B, T) NLL of the targets, the last layer's outputs before and after dropout (B, T, H), and log p (M,)
        of the words `also` = (positions (M,) in the flattened (B, T), words (M,)) scored in the same pass through
        the output layer (RNNLM.target_and_word_log_probs; None without `also`)."""
        feats, state, outputs = self.model.features_and_outputs(tokens, self._state.get(key))
        self._state[key] = detach_state(state)  # truncated BPTT: keep the value, cut the graph
        if also is None:
            return -self.model.target_log_probs(feats, targets), outputs, None  # fp32 even under bf16 autocast
        logp, also_logp = self.model.target_and_word_log_probs(feats, targets, *also)
        return -logp, outputs, also_logp

    def _hinge_sites(self, inputs, targets) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tokens with a hinge (a partner and a scale above 0): their positions in the flattened (B, T), their
        partners and their group's scales, each (M,)."""
        partner = self.partners[targets]  # (B, T)
        if self.partner_scale is None:
            scale = (partner >= 0).float()
        else:  # inputs[b, t] is the word right before targets[b, t]
            row = 0 if self.partner_row is None else self.partner_row[inputs]
            scale = self.partner_scale[row, targets]
        positions = (scale > 0).flatten().nonzero()[:, 0]
        return positions, partner.flatten()[positions], scale.flatten()[positions]

    def _negative_loss(self, nll, sites, partner_logp) -> tuple[torch.Tensor, float]:
        """The hinge at `sites` (_hinge_sites), each term times its group's scale, summed and divided by all tokens
        (a per-token term, like the NLL's mean); and the share of tokens with a hinge."""
        positions, _, scale = sites
        terms = hinge(-nll.flatten()[positions], partner_logp, self.hparams.negatives["margin"]) * scale
        return terms.sum() / nll.numel(), positions.numel() / nll.numel()

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
        if (self.hparams.negatives or {}).get("weight") and self.partners is None:
            raise RuntimeError("negatives.weight is set but no partner table: build() makes it (negative_partners)")
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
        weight = (self.hparams.negatives or {}).get("weight")  # on_fit_start made sure of the partners
        sites = self._hinge_sites(tokens, targets) if weight else None
        nll, (raw, dropped), partner_logp = self._forward_nll(tokens, targets, "train", sites[:2] if sites else None)
        loss = nll.mean()
        # the rest only on steps whose metrics reach the logger: each self.log costs time in a 0.1 s step
        self._log_now = (self.global_step + 1) % self.trainer.log_every_n_steps == 0
        objective = loss
        if weight:
            value, share = self._negative_loss(nll, sites, partner_logp)
            objective = objective + weight * value
            if self._log_now:
                self.log("train/negatives", value)  # per token of the batch, scaled by group, not by weight
                self.log("train/negatives_share", share)
        for name, weight, penalty in (
            ("ar", self.hparams.ar, activation_penalty),
            ("tar", self.hparams.tar, temporal_penalty),
        ):
            if weight:
                value = penalty(dropped if name == "ar" else raw)
                objective = objective + weight * value
                if self._log_now:
                    self.log(f"train/{name}", value)  # unweighted; train/loss stays the NLL
        if not self.guard.finite(objective, 0, self.global_step + 1, self.trainer.strategy):
            self._state.pop("train", None)  # the next chunk starts from a zero state, not a possibly broken one
            return None  # Lightning skips the backward pass and the optimizer step
        self.log("train/loss", loss, prog_bar=True)
        if self._log_now:
            self.log("train/ppl", loss.detach().exp())
        return objective

    def on_train_batch_end(self, outputs, batch, batch_idx):
        # throughput since the last logged step; plain floats, no device sync
        start, tokens = self._clock or (time.perf_counter(), 0)  # None when resumed mid-epoch
        tokens += batch[0].numel() * self.trainer.world_size
        self._clock = (start, tokens)
        if self._log_now:
            self.guard.check()
            now = time.perf_counter()
            self.log("train/tokens_per_s", tokens / max(now - start, 1e-9), prog_bar=True)
            if self.hparams.nonfinite == "skip":
                self.log("train/skipped_steps", float(self.guard.skips))
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
        if not self.guard.finite(norm, 1, self.global_step + 1, self.trainer.strategy):
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
        self.eval_nll.reset()

    def _eval_step(self, batch):
        tokens, targets = batch
        self.eval_nll.update(self._forward_nll(tokens, targets, "eval")[0].double())

    def _eval_end(self, stage):
        if self._averaged is not None:  # back to the iterates
            self._averaged.__exit__(None, None, None)
            self._averaged = None
        loss = self.eval_nll.compute().float()
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
        return step_with_scaled_lr(optimizer, optimizer_closure, lambda: self._chunk_len / self.hparams.lr_bptt)

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        spec = dict(self.hparams.scheduler)
        interval = spec.pop("interval", "epoch")  # "step": a per-step schedule (lm/training/schedules.py)
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
        self.guard.check()
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
        opt = self._ntasgd()
        return swap_in_average(opt.average(), self.state_dict(keep_vars=True), state_dict) if opt else None

    def on_load_checkpoint(self, checkpoint):
        self.tokenizer = load_tokenizer(checkpoint["lm"]["tokenizer_json"])
        self.run_config = checkpoint["lm"]["config"]
        self._resume = checkpoint["lm"].get("resume")
        iterate = (self._resume or {}).get("iterate")
        if iterate and self._trainer is not None and self.trainer.state.fn == "fit":  # resume from the iterates
            checkpoint["state_dict"].update(iterate)
        self._monitored_at_save = (self._resume or {}).get("epoch_end")
