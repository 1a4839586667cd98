"""Lightning callback: the built-in probe suites on the model, during training and at its end.

- At the end of testing (the tested, best checkpoint): probe/<suite>/acc and probe/<suite>/<field>=<value>/acc to
  every logger but W&B. W&B gets a handful of scalars (probe/<suite>/acc and .../range=<r>/acc), every value in
  one table "probe/results", the accuracy-by-distance plots as images probe/plot/<suite>_<field> and, for an LSTM,
  its gates along `gate_sentence` (probe/plot/gates), all also written to <run dir>/plots/.
- With `every_n_steps > 0`, also on the training model every that many optimizer steps (and before the first):
  curve/<suite>/acc and curve/<suite>/range=<train|test|beyond>/acc with `tokens_seen`, to every logger and
  to probe_curve.csv in the run directory, so one sees when agreement, gender and recall are learned (or lost).
  W&B plots these curves against tokens_seen; at the end of training they are drawn as probe_curve.png (logged to
  W&B as the image probe/curves). Agreement and gender add their sensitivity to the subject (lm/probes/sensitivity.py):
  curve/<suite>/auc and curve/<suite>/<n_attractors | n_distractors>=0/auc, in sensitivity_curve.csv and in a
  second row of the PNG. At the end of testing: probe/<suite>/auc and its breakdown by the fields its contrast
  shows (W&B: overall and with no attractor, as in the curves).

    callbacks:
      probes:
        _target_: lm.training.callbacks.probes.ProbeCallback
        suites: [agreement, gender, recall]
        every_n_steps: 200
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from lm.analysis import gates
from lm.analysis import plots as analysis_plots
from lm.analysis.items import encode_sentences
from lm.errors import UserError
from lm.probes import catalog
from lm.probes.plots import plot_curves, plot_suites
from lm.probes.scoring import Scorer
from lm.probes.sensitivity import COLUMNS as SENSITIVITY_ROW
from lm.probes.sensitivity import is_shown
from lm.probes.suite_scoring import score_suite
from lm.probes.suites import BUILTIN_SUITES
from lm.probes.vocab import load_vocab
from lm.probes.wandb_runs import TABLE_COLUMNS, probe_metrics
from lm.results.files import append_csv, read_csv

log = logging.getLogger(__name__)
CURVE_FILE, CURVE_PLOT, SENSITIVITY_FILE = "probe_curve.csv", "probe_curve.png", "sensitivity_curve.csv"
CURVE_COLUMNS = ["step", "tokens_seen", "suite", "field", "value", "acc", "lo", "hi", "n"]
SENSITIVITY_COLUMNS = ["step", "tokens_seen", *SENSITIVITY_ROW[1:]]
CURVE_FIELDS = ("all", "range")  # per suite: overall, and within / beyond the training distances


def headline_auc(rows: list[dict]) -> list[dict]:
    """The AUC rows the curves and W&B's scalars keep: overall, and with no attractor (a count field, n_attractors
    or n_distractors, at 0)."""
    return [r for r in rows if r["field"] == "all" or (r["field"].startswith("n_") and str(r["value"]) == "0")]


class ProbeCallback(pl.Callback):
    def __init__(
        self,
        suites=BUILTIN_SUITES,
        n_items: int = 300,
        seed: int = 0,
        vocab: str = "auto",
        max_phrases: int = 6,
        max_distance: int = 32,
        precision: str = "auto",
        key: str = "probe/results",
        every_n_steps: int = 0,
        curve_items: int = 200,
        gate_sentence: str | None = None,
    ):
        """n_items <= 0 or no suites turns the callback off; every_n_steps <= 0 or curve_items <= 0 turns the
        curves off."""
        self.suites = [str(s) for s in suites]
        unknown = [s for s in self.suites if s not in BUILTIN_SUITES]
        if unknown:
            raise ValueError(f"suites must be built-in suites ({', '.join(BUILTIN_SUITES)}), got {unknown}")
        if vocab not in ("auto", "grammar", "english"):
            raise ValueError(f"vocab must be auto, grammar or english, got {vocab!r}")
        self.options = catalog.BuiltinOptions(int(n_items), int(seed), int(max_phrases), int(max_distance))
        self.curve_options = catalog.BuiltinOptions(
            int(curve_items), int(seed) + 1, int(max_phrases), int(max_distance)
        )
        self.every_n_steps = int(every_n_steps)
        self.gate_sentence = gate_sentence
        self.vocab, self.precision, self.key = vocab, precision, key
        self.rows: list[dict] = []
        self.metrics: dict[str, float] = {}
        self.tokens_seen = 0
        self._probed_at = -1
        self._suites_cache = None  # (tokenizer, suites) for the curves: built once, scored many times

    # --- curves during training ------------------------------------------------------------------------------

    def _curves_on(self, pl_module) -> bool:
        return (
            bool(self.suites)
            and self.every_n_steps > 0
            and self.curve_options.n_items > 0
            and getattr(pl_module, "tokenizer", None) is not None
        )

    def on_train_start(self, trainer, pl_module):
        if self._curves_on(pl_module) and trainer.global_step == 0:
            self._curve_point(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.tokens_seen += batch[0].numel() * trainer.world_size
        step = trainer.global_step
        if self._curves_on(pl_module) and step % self.every_n_steps == 0 and step != self._probed_at:
            self._curve_point(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        if not self._curves_on(pl_module):
            return
        if trainer.global_step != self._probed_at:
            self._curve_point(trainer, pl_module)
        self._plot(trainer)

    @rank_zero_only
    def _plot(self, trainer) -> None:
        """probe_curve.png beside the CSV, and on the W&B run as an image."""
        run_dir = Path(trainer.default_root_dir)
        rows, sensitivity = read_csv(run_dir / CURVE_FILE), read_csv(run_dir / SENSITIVITY_FILE)
        png = plot_curves(
            {run_dir.name: rows},
            run_dir / CURVE_PLOT,
            title="probes during training",
            sensitivity={run_dir.name: sensitivity} if sensitivity else None,
        )
        for logger in trainer.loggers:
            if callable(getattr(logger, "log_image", None)):  # WandbLogger
                logger.log_image(key="probe/curves", images=[str(png)])

    @rank_zero_only
    def _curve_point(self, trainer, pl_module) -> None:
        start = time.perf_counter()
        step = self._probed_at = trainer.global_step
        sensitivity: list[dict] = []
        rows = [
            r
            for r in self._score(pl_module, self.curve_options, curve=True, sensitivity=sensitivity)
            if r["field"] in CURVE_FIELDS and r["n"]
        ]
        sensitivity = headline_auc(sensitivity)
        metrics = (
            {"tokens_seen": float(self.tokens_seen)}
            | probe_metrics(rows, prefix="curve")
            | probe_metrics(sensitivity, prefix="curve", measure="auc")
        )
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        run_dir = Path(trainer.default_root_dir)
        point = {"step": step, "tokens_seen": self.tokens_seen}
        append_csv([r | point for r in rows], run_dir / CURVE_FILE, CURVE_COLUMNS)
        append_csv([r | point for r in sensitivity], run_dir / SENSITIVITY_FILE, SENSITIVITY_COLUMNS)
        overall = ", ".join(f"{r['suite']} {r['acc']:.3f}" for r in rows if r["field"] == "all")
        auc = ", ".join(f"{r['suite']} {r['auc']:.3f}" for r in sensitivity if r["field"] == "all")
        log.info(
            "probes at step %d (%s tokens): %s%s  [%.1f s]",
            step,
            f"{self.tokens_seen:,}",
            overall,
            f"; AUC {auc}" if auc else "",
            time.perf_counter() - start,
        )

    def setup(self, trainer, pl_module, stage):
        if stage == "fit" and self.every_n_steps > 0:
            for logger in trainer.loggers:  # W&B: the curves' x axis is tokens seen
                if isinstance(logger, WandbLogger) and trainer.is_global_zero:
                    logger.experiment.define_metric("curve/*", step_metric="tokens_seen")

    def state_dict(self) -> dict:
        return {"tokens_seen": self.tokens_seen}

    def load_state_dict(self, state_dict: dict) -> None:
        self.tokens_seen = int(state_dict.get("tokens_seen", 0))

    # --- at the end: the tested model ------------------------------------------------------------------------

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.suites or self.options.n_items <= 0 or getattr(pl_module, "tokenizer", None) is None:
            return
        items: dict[str, list[dict]] = {}
        sensitivity: list[dict] = []
        self.rows = self._score(pl_module, self.options, items=items, sensitivity=sensitivity)
        auc = probe_metrics(sensitivity, measure="auc")
        self.metrics = metrics = probe_metrics(self.rows) | auc
        for logger in trainer.loggers:
            if not isinstance(logger, WandbLogger):
                logger.log_metrics(metrics, step=trainer.global_step)
                continue
            headline = probe_metrics([r for r in self.rows if r["field"] in CURVE_FIELDS])
            headline |= probe_metrics(headline_auc(sensitivity), measure="auc")
            logger.log_metrics(headline, step=trainer.global_step)
            logger.log_table(
                key=self.key, columns=TABLE_COLUMNS, data=[[r[c] for c in TABLE_COLUMNS] for r in self.rows]
            )
            plots = plot_suites(
                {suite: {"model": its} for suite, its in items.items()}, Path(trainer.default_root_dir) / "plots"
            )
            gate_png = self._gate_plot(pl_module, Path(trainer.default_root_dir) / "plots")
            for png in plots + ([gate_png] if gate_png else []):
                logger.log_image(key=f"probe/plot/{png.stem}", images=[str(png)], step=trainer.global_step)
        summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.count("/") == 2)
        log.info("probes: %s", summary)

    def _gate_plot(self, pl_module, out_dir: Path) -> Path | None:
        """The lecture's gates, unit by unit, along gate_sentence (an LSTM's; none when a word is not in the
        vocabulary)."""
        model, tokenizer = pl_module.model, pl_module.tokenizer
        if not self.gate_sentence or model.cell != "lstm":
            return None
        try:
            encoded = encode_sentences(tokenizer, [self.gate_sentence], "gate sentence")
        except UserError as e:
            log.info("no gate plot: %s", e)
            return None
        cpu = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).float().cpu()
        was_training = cpu.training
        (trace,) = gates.sentence_traces(cpu.eval(), encoded)
        cpu.train(was_training)
        tokens = [tokenizer.id_to_token(i) for i in encoded[0][0]]
        return analysis_plots.gate_heatmap({n: v.numpy() for n, v in trace.items()}, tokens, out_dir / "gates.png", 32)

    def _score(self, pl_module, options, curve: bool = False, items: dict | None = None, sensitivity=None) -> list:
        config = getattr(pl_module, "run_config", {})
        if not curve:
            return self.run(pl_module.model, pl_module.tokenizer, config, options, items, sensitivity)
        if self._suites_cache is None or self._suites_cache[0] is not pl_module.tokenizer:
            self._suites_cache = (pl_module.tokenizer, self.suites_for(pl_module.tokenizer, config, options))
        return self.score(pl_module.model, pl_module.tokenizer, self._suites_cache[1], sensitivity=sensitivity)

    def suites_for(self, tokenizer, config: dict | None = None, options=None) -> list:
        name = catalog.choose_vocab(self.vocab, config or {})
        vocab = catalog.english_for([tokenizer]) if name == "english" else load_vocab("grammar")
        return [catalog.builtin_for(s, vocab, tokenizer, options or self.options, config=config) for s in self.suites]

    def score(self, model, tokenizer, suites: list, items: dict | None = None, sensitivity=None) -> list[dict]:
        """Result rows of every suite; `items`, when given, receives each suite's scored items by suite name, and
        `sensitivity` (a list) the AUC rows of each suite with a contrast, overall and by its shown fields."""
        scorer = Scorer(model, tokenizer, self.precision)
        rows = []
        for suite in suites:
            r, its, summary = score_suite(scorer, suite, None)
            rows += r
            if items is not None:
                items[suite.name] = its
            if sensitivity is not None and suite.contrast:
                sensitivity += [x for x in summary["sensitivity"] if is_shown(x, suite.contrast.shown)]
        return rows

    def run(self, model, tokenizer, config=None, options=None, items=None, sensitivity=None) -> list[dict]:
        """Result rows (lm.probes.report) of every suite on this model (`items`, `sensitivity`: as in score)."""
        return self.score(model, tokenizer, self.suites_for(tokenizer, config, options), items, sensitivity)
