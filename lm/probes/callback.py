"""Lightning callback: at the end of testing, run the built-in probe suites on the tested model and log
probe/<suite>/acc and probe/<suite>/<field>=<value>/acc to every logger, beside the loss curves; with a W&B
logger also a table "probe/results". A few hundred items per suite: seconds on the default model.

    callbacks:
      probes:
        _target_: lm.probes.callback.ProbeCallback
        suites: [agreement, gender, recall]
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from lm.probes import catalog
from lm.probes.evaluate import score_suite
from lm.probes.scoring import Scorer
from lm.probes.suites import BUILTIN_SUITES
from lm.probes.vocab import load_vocab
from lm.probes.wandb_runs import probe_metrics

log = logging.getLogger(__name__)
TABLE_COLUMNS = ["suite", "field", "value", "acc", "lo", "hi", "n", "correct", "n_oov"]


class ProbeCallback(pl.Callback):
    def __init__(self, suites=BUILTIN_SUITES, n_items: int = 300, seed: int = 0, vocab: str = "auto",
                 max_phrases: int = 6, max_distance: int = 32, precision: str = "auto", key: str = "probe/results"):
        """n_items <= 0 or no suites turns the callback off."""
        self.suites = [str(s) for s in suites]
        unknown = [s for s in self.suites if s not in BUILTIN_SUITES]
        if unknown:
            raise ValueError(f"suites must be built-in suites ({', '.join(BUILTIN_SUITES)}), got {unknown}")
        if vocab not in ("auto", "grammar", "english"):
            raise ValueError(f"vocab must be auto, grammar or english, got {vocab!r}")
        self.options = catalog.BuiltinOptions(int(n_items), int(seed), int(max_phrases), int(max_distance))
        self.vocab, self.precision, self.key = vocab, precision, key
        self.rows: list[dict] = []
        self.metrics: dict[str, float] = {}

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.suites or self.options.n_items <= 0 or getattr(pl_module, "tokenizer", None) is None:
            return
        self.rows = self.run(pl_module.model, pl_module.tokenizer, getattr(pl_module, "run_config", {}))
        self.metrics = metrics = probe_metrics(self.rows)
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
            if callable(getattr(logger, "log_table", None)):  # WandbLogger
                logger.log_table(key=self.key, columns=TABLE_COLUMNS,
                                 data=[[r[c] for c in TABLE_COLUMNS] for r in self.rows])
        summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.count("/") == 2)
        log.info("probes: %s", summary)

    def run(self, model, tokenizer, config: dict | None = None) -> list[dict]:
        """Result rows (lm.probes.report) of every suite on this model."""
        name = catalog.choose_vocab(self.vocab, config or {})
        vocab = catalog.english_for([tokenizer]) if name == "english" else load_vocab("grammar")
        scorer = Scorer(model, tokenizer, self.precision)
        rows = []
        for suite_name in self.suites:
            suite = catalog.builtin_for(suite_name, vocab, tokenizer, self.options)
            suite_rows, _, _ = score_suite(scorer, suite, None)
            rows += suite_rows
        return rows
