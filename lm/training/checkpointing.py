"""Checkpoints that keep up with a long run, and a run that stops cleanly when it is asked to.

- `best.ckpt`: the lowest val/loss (Lightning's ModelCheckpoint, conf/callbacks/default.yaml);
- `last.ckpt` (LastCheckpoint): after every validation, every `every_n_minutes` / `every_n_steps` inside an epoch,
  at the end of training, and at the end of the step during which SIGTERM or SIGINT arrived; then the run stops.

Every file goes through AtomicCheckpointIO: written under a temporary name, then renamed over the old one, so a
kill during a write leaves the previous checkpoint whole. LanguageModel.on_save_checkpoint refuses a model whose
weights or loss are not finite, so no checkpoint of a diverged model is ever written.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import Checkpoint

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived; `path` holds the checkpoint saved at the end of the step."""

    def __init__(self, signum: int, path: Path, step: int):
        super().__init__(f"{signal.Signals(signum).name} at step {step}")
        self.signum, self.path, self.step = signum, path, step


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")  # one writer per run directory (rank zero)
        try:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


class LastCheckpoint(Checkpoint):
    def __init__(
        self,
        dirpath: str,
        filename: str = "last.ckpt",
        every_n_minutes: float | None = 10.0,
        every_n_steps: int | None = None,
    ):
        """every_n_minutes / every_n_steps: how often inside an epoch (null: only after validations)."""
        self.path = Path(dirpath) / filename
        self.every_s = every_n_minutes * 60 if every_n_minutes else None
        self.every_n_steps = every_n_steps or None
        self._signal = None
        self._saved_at = (time.monotonic(), -1)  # (clock, global step) of the last save
        self._handlers = {}

    # --- signals: note the request; the step in progress finishes, then the checkpoint is written -----------
    def on_train_start(self, trainer, pl_module):
        self._saved_at = (time.monotonic(), trainer.global_step)
        try:  # replaces Lightning's own SIGTERM handler for the duration of training
            self._handlers = {s: signal.signal(s, self._on_signal) for s in SIGNALS}
        except ValueError:  # not the main thread: signals stay as they are
            self._handlers = {}

    def _on_signal(self, signum, frame):
        if self._signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        self._signal = signum
        print(
            f"\n{signal.Signals(signum).name}: saving {self.path} at the end of this step, then stopping "
            "(Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def teardown(self, trainer, pl_module, stage):
        for s, handler in self._handlers.items():
            signal.signal(s, handler)
        self._handlers = {}

    # --- when to save ------------------------------------------------------------------------------------------
    def _due(self, trainer) -> bool:
        clock, step = self._saved_at
        return bool(
            (self.every_s and time.monotonic() - clock >= self.every_s)
            or (self.every_n_steps and trainer.global_step - step >= self.every_n_steps)
        )

    def _agree(self, trainer, due: bool, stop: bool) -> tuple[bool, bool]:
        """Under DDP every rank must take part in a save: a save or stop on one rank is one on all."""
        if trainer.world_size == 1:
            return due, stop
        flags = torch.tensor([due, stop], dtype=torch.float32, device=trainer.strategy.root_device)
        flags = trainer.strategy.reduce(flags, reduce_op="max")
        return bool(flags[0]), bool(flags[1])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            # a run resumed from here would skip the validation that ends the epoch (and the scheduler step it
            # feeds): the epoch's end is left to on_validation_end, or to the next epoch's first step
            return
        stop = self._signal is not None
        due, stop = self._agree(trainer, stop or self._due(trainer), stop)
        if due:
            start = time.perf_counter()
            self.save(trainer)
            if trainer.is_global_zero:
                log.info(f"step {trainer.global_step}: saved {self.path} ({time.perf_counter() - start:.2f} s)")
        if stop:
            raise Interrupted(self._signal or signal.SIGTERM, self.path, trainer.global_step)

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        self.save(trainer)
        if self._signal is not None:
            raise Interrupted(self._signal, self.path, trainer.global_step)

    def on_train_end(self, trainer, pl_module):
        if self._saved_at[1] != trainer.global_step:
            self.save(trainer)

    def save(self, trainer) -> None:
        if trainer.fast_dev_run:
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # the full training state
        self._saved_at = (time.monotonic(), trainer.global_step)
