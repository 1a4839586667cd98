"""LightningDataModule: a source, a tokenizer trained on its training split, and ordered BPTT chunks."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lm.data.batching import Chunks, batchify
from lm.data.cache import token_ids, tokenizer_for
from lm.data.sources import SPLITS, make_source
from lm.errors import UserError

log = logging.getLogger(__name__)


class LMDataModule(pl.LightningDataModule):
    def __init__(self, data: dict, tokenizer: dict, cache_dir: str | Path, pin_memory: bool = False):
        super().__init__()
        self.cfg, self.tok_cfg, self.cache_dir = dict(data), dict(tokenizer), Path(cache_dir)
        self.pin_memory = pin_memory
        self.source = make_source(self.cfg)
        self.tokenizer = None
        self.ids: dict = {}

    def prepare(self, tokenizer=None):
        """Tokenizer and token caches; called once before the model is built (it needs the vocabulary size).
        `tokenizer`: use this one (a checkpoint's) instead of the one trained on the corpus."""
        if self.tokenizer is None:
            start = time.perf_counter()
            self.tokenizer = tokenizer or tokenizer_for(self.source, self.tok_cfg, self.cache_dir)
            self.ids = {s: token_ids(self.source, s, self.tokenizer, self.cache_dir) for s in SPLITS}
            log.info(
                "data: %d token types; %s tokens (train / valid / test); ready in %.1f s",
                self.tokenizer.get_vocab_size(),
                " / ".join(f"{len(self.ids[s]):,}" for s in SPLITS),
                time.perf_counter() - start,
            )
        return self.tokenizer

    def setup(self, stage=None):
        self.prepare()
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        bs, ebs, bptt = self.cfg["batch_size"], self.cfg.get("eval_batch_size", 10), self.cfg["bptt"]
        try:
            self.datasets = {
                "train": Chunks(
                    batchify(self.ids["train"], bs, rank, world),
                    bptt,
                    self.cfg.get("variable_bptt", False),
                    self.cfg.get("seed", 0),
                    epoch_of=(lambda: self.trainer.current_epoch) if self.trainer else None,
                ),
                "valid": Chunks(batchify(self.ids["valid"], ebs, rank, world), bptt),
                "test": Chunks(batchify(self.ids["test"], ebs, rank, world), bptt),
            }
        except ValueError as e:
            raise UserError(f"{e}; use a larger corpus or a smaller data.batch_size / data.eval_batch_size") from None

    def _loader(self, split):
        # batch_size=None: each item already is a (B, t) batch, served in stream order. A generator of its own:
        # without one each new iterator draws a seed from torch's global generator, which the dropout masks
        # use, and a resumed run would draw its masks out of step with the uninterrupted one
        return DataLoader(
            self.datasets[split],
            batch_size=None,
            num_workers=0,
            pin_memory=self.pin_memory,
            generator=torch.Generator(),
        )

    # --- resume: where the training stream stands (Lightning saves this in every checkpoint) -----------------
    def state_dict(self) -> dict:
        if self.trainer is None or self.trainer.state.fn != "fit":
            return {}
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed  # batches trained this epoch
        return {"train_epoch": self.trainer.current_epoch, "train_done": done}

    def load_state_dict(self, state: dict) -> None:
        if state and "train" in getattr(self, "datasets", {}):
            self.datasets["train"].resume(state["train_epoch"], state["train_done"])

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("valid")

    def test_dataloader(self):
        return self._loader("test")
