"""A callback for the long-run tests: sends a signal to its own process at the end of one training step, as a
scheduler's preemption (SIGTERM), a Ctrl-C (SIGINT) or a lost machine (SIGKILL) would."""

import os
import signal

from pytorch_lightning import Callback


class SignalAt(Callback):
    def __init__(self, step: int, sig: str = "SIGKILL"):
        self.step, self.sig = step, getattr(signal, sig)

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:  # runs before the checkpoint callbacks (Lightning orders them last)
            os.kill(os.getpid(), self.sig)
