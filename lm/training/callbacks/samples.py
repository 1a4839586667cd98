"""Lightning callback: every N epochs, continue a few fixed prompts and put the text on the W&B run.

The table grows by one row per prompt each time, with the epoch beside it, so the dashboard shows how the
writing improves over training. Without a W&B logger the samples go to the log instead.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl

from lm.generation.generator import generate

log = logging.getLogger(__name__)

COLUMNS = ["epoch", "step", "prompt", "sample", "mean_logprob"]


class GenerateSamples(pl.Callback):
    def __init__(
        self,
        prompts: list[str] | tuple[str, ...] = ("the",),
        every_n_epochs: int = 1,
        max_new_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 0,
        key: str = "samples",
    ):
        """every_n_epochs <= 0 turns the callback off. A fixed seed keeps the draws comparable across epochs."""
        self.prompts = [str(p) for p in prompts]
        self.every_n_epochs = int(every_n_epochs)
        self.kwargs = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, seed=seed)
        self.key = key
        self.rows: list[list] = []

    def due(self, trainer: pl.Trainer) -> bool:
        if self.every_n_epochs <= 0 or trainer.sanity_checking or not trainer.is_global_zero:
            return False
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.due(trainer) or getattr(pl_module, "tokenizer", None) is None:
            return
        # generate() switches the model to eval mode and restores the mode it found; engine 'reference'
        # steps the live weights on whatever device training uses.
        new_rows = []
        for prompt in self.prompts:
            (s,) = generate(pl_module.model, pl_module.tokenizer, prompt, engine="reference", **self.kwargs)
            new_rows.append([trainer.current_epoch, trainer.global_step, prompt, prompt + s.text, s.mean_logprob])
        self.rows.extend(new_rows)
        self.publish(trainer, new_rows)

    def publish(self, trainer: pl.Trainer, new_rows: list[list]) -> None:
        tables = [lg for lg in trainer.loggers if callable(getattr(lg, "log_table", None))]  # WandbLogger
        for logger in tables:
            logger.log_table(key=self.key, columns=COLUMNS, data=[list(r) for r in self.rows])
        if not tables:
            for epoch, step, _, text, lp in new_rows:
                log.info(
                    "sample (epoch %d, step %d, mean log-prob %s): %s",
                    epoch,
                    step,
                    "n/a" if lp is None else f"{lp:.3f}",
                    text,
                )

    def state_dict(self) -> dict:
        return {"rows": self.rows}  # a resumed run keeps the earlier rows of the table

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict.get("rows", []))
