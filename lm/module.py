"""LightningModule: drives an `RNNLM` with truncated BPTT, state carried across ordered chunks."""

from __future__ import annotations

import math
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from lm.checkpoint import FORMAT
from lm.model import RNNLM, count_parameters, detach_state
from lm.tokenizer import load_tokenizer


class LanguageModel(pl.LightningModule):
    def __init__(self, model: dict, optimizer: dict, scheduler: dict | None = None, monitor: str = "val/loss"):
        """`model` holds RNNLM's plain arguments; `optimizer`/`scheduler` are `_partial_` Hydra configs."""
        super().__init__()
        self.save_hyperparameters()
        self.model = RNNLM(**model)
        self.tokenizer = None  # set by train(); travels in the checkpoint
        self.run_config: dict = {}
        self._state = {}  # "train" / "eval": the recurrent state carried from chunk to chunk
        self._nll = self._ntok = None
        self._clock = None
        self._log_now = False

    def forward(self, tokens, state=None):
        return self.model(tokens, state)

    def _loss(self, tokens, targets, key, reduction="mean"):
        feats, state = self.model.features(tokens, self._state.get(key))
        self._state[key] = detach_state(state)  # truncated BPTT: keep the value, cut the graph
        nll = -self.model.target_log_probs(feats, targets)  # log-softmax and loss in fp32 even under bf16 autocast
        return nll.mean() if reduction == "mean" else nll.sum()

    # --- training -------------------------------------------------------------------------------------------
    def on_train_epoch_start(self):
        self._state.pop("train", None)
        self._clock = (time.perf_counter(), 0)

    def training_step(self, batch, batch_idx):
        tokens, targets = batch
        loss = self._loss(tokens, targets, "train")
        self.log("train/loss", loss, prog_bar=True)
        # the rest only on steps whose metrics reach the logger: each self.log costs time in a 0.1 s step
        self._log_now = (self.global_step + 1) % self.trainer.log_every_n_steps == 0
        if self._log_now:
            self.log("train/ppl", loss.detach().exp())
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        # throughput since the last logged step; plain floats, no device sync
        start, tokens = self._clock or (time.perf_counter(), 0)  # None when resumed mid-epoch
        tokens += batch[0].numel() * self.trainer.world_size
        self._clock = (start, tokens)
        if self._log_now:
            now = time.perf_counter()
            self.log("train/tokens_per_s", tokens / max(now - start, 1e-9), prog_bar=True)
            self.log("lr", self.optimizers().param_groups[0]["lr"])
            self._clock = (now, 0)
        if 0 < self.trainer.max_steps <= self.global_step:
            # stopping at max_steps mid-epoch: asking to stop makes Lightning validate (and checkpoint) first
            self.trainer.should_stop = True

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        # the lecture's exploding-gradient guard; the pre-clip total norm is logged as train/grad_norm
        max_norm = gradient_clip_val if gradient_clip_val else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), max_norm)
        if self._log_now:
            self.log("train/grad_norm", norm)

    # --- evaluation: perplexity = exp(total NLL / total tokens), state carried across the split -------------
    def _eval_start(self):
        self._state.pop("eval", None)
        self._nll = torch.zeros((), dtype=torch.float64, device=self.device)
        self._ntok = 0

    def _eval_step(self, batch):
        tokens, targets = batch
        self._nll += self._loss(tokens, targets, "eval", reduction="sum").double()
        self._ntok += targets.numel()

    def _eval_end(self, stage):
        nll = self.trainer.strategy.reduce(self._nll, reduce_op="sum")
        ntok = self.trainer.strategy.reduce(torch.tensor(float(self._ntok), device=self.device), reduce_op="sum")
        loss = (nll / ntok).float()
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val")
        self.log(f"{stage}/ppl", loss.exp(), prog_bar=stage == "val")

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
    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler)(optimizer=optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.monitor, "interval": "epoch"}}

    # --- a checkpoint stands alone ---------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint):
        checkpoint["lm"] = {"format": FORMAT, "tokenizer_json": self.tokenizer.to_str(), "config": self.run_config,
                            "params": count_parameters(self.model)}

    def on_load_checkpoint(self, checkpoint):
        self.tokenizer = load_tokenizer(checkpoint["lm"]["tokenizer_json"])
        self.run_config = checkpoint["lm"]["config"]
