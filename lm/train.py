"""train(cfg): data -> tokenizer -> model -> Lightning Trainer -> best checkpoint -> test -> summary."""

from __future__ import annotations

import logging
import math
import os
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from pytorch_lightning.loggers import WandbLogger

from lm import checkpoint
from lm.data.datamodule import LMDataModule
from lm.device import cpu_has_bf16, set_threads
from lm.errors import UserError
from lm.model import count_parameters
from lm.module import LanguageModel
from lm.tracking import make_loggers

log = logging.getLogger(__name__)


def resume_path(spec: str | None, output_root: Path) -> Path | None:
    """`ckpt_path`: null (fresh run), `last` (newest last.ckpt of this run name), a run directory or a file."""
    if not spec:
        return None
    if spec == "last":
        found = sorted(output_root.glob(f"**/{checkpoint.CKPT_DIR}/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError(f"ckpt_path=last: no last.ckpt under {output_root}; train once first or give a path")
        return found[-1]
    return checkpoint.resolve(spec, prefer="last")


def check_compatible(path: Path, module: LanguageModel) -> None:
    """Resuming needs the same tokenizer and model shape; say which differs instead of a size-mismatch trace."""
    ckpt = checkpoint.read(path)
    if ckpt["lm"]["tokenizer_json"] != module.tokenizer.to_str():
        raise UserError(f"{path} was trained with another tokenizer or vocabulary than this config gives; "
                        "resume with the data/tokenizer settings of that run, or drop ckpt_path to start afresh")
    old, new = ckpt["hyper_parameters"]["model"], module.hparams.model
    diff = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
    if diff:
        shown = ", ".join(f"model.{k}: checkpoint {a} vs config {b}" for k, (a, b) in sorted(diff.items()))
        raise UserError(f"{path} has another model shape ({shown}); resume with that run's model settings")


def set_matmul_precision(cfg: DictConfig) -> None:
    """On a GPU, fp32 matmuls may use TF32 (`matmul_precision: high`, torch's own advice for Ampere and later);
    `highest` keeps them exact. CPUs are left alone."""
    if cfg.trainer.get("accelerator") in ("gpu", "cuda"):
        torch.set_float32_matmul_precision(cfg.get("matmul_precision") or "highest")


def precision_warning(cfg: DictConfig) -> str | None:
    accelerator, precision = cfg.trainer.get("accelerator"), str(cfg.trainer.get("precision"))
    if accelerator == "cpu" and precision.startswith("bf16") and not cpu_has_bf16():
        return (f"trainer.precision={precision} on a CPU without bf16 instructions (avx512_bf16, AMX) runs slower "
                "than fp32 here; use trainer.precision=32-true")
    return None


def build(cfg: DictConfig) -> tuple[LMDataModule, LanguageModel]:
    set_matmul_precision(cfg)
    set_threads(cfg.get("threads"))
    if warning := precision_warning(cfg):
        log.warning(warning)
    data = LMDataModule(OmegaConf.to_container(cfg.data, resolve=True),
                        OmegaConf.to_container(cfg.tokenizer, resolve=True), cfg.paths.cache_dir,
                        pin_memory=cfg.trainer.get("accelerator") in ("gpu", "cuda"))
    tokenizer = data.prepare()
    model_args = {**OmegaConf.to_container(cfg.model, resolve=True), "vocab_size": tokenizer.get_vocab_size()}
    try:
        scheduler = cfg.optim.get("scheduler")
        module = LanguageModel(model_args, OmegaConf.to_container(cfg.optim.optimizer, resolve=True),
                               OmegaConf.to_container(scheduler, resolve=True) if scheduler else None)
    except ValueError as e:
        raise UserError(str(e)) from None
    module.tokenizer = tokenizer
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    return data, module


def quiet_known_warnings() -> None:
    warnings.filterwarnings("ignore", message=".*IterableDataset. has .__len__. defined")  # we use no workers
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def make_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not cfg.trainer.get("enable_progress_bar", True):  # trainer.enable_progress_bar=false drops the bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if cfg.trainer.get("fast_dev_run"):  # a smoke test saves nothing (Lightning would still write last.ckpt)
        callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
    return callbacks


def train(cfg: DictConfig) -> dict[str, float]:
    quiet_known_warnings()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.paths.run_dir)
    data, module = build(cfg)
    ckpt_path = resume_path(cfg.get("ckpt_path"), Path(cfg.paths.output_root) / cfg.name)
    if ckpt_path:
        check_compatible(ckpt_path, module)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tokenizer.json").write_text(module.tokenizer.to_str())

    callbacks = make_callbacks(cfg)
    loggers = make_loggers(cfg.get("logger"), run_dir)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams({**module.run_config, "model/params": count_parameters(module.model)})

    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    ckpt_cb = trainer.checkpoint_callback
    best = ckpt_cb.best_model_path if ckpt_cb else ""
    if best and ckpt_cb.best_model_score is not None:  # monitor is val/loss: report the best checkpoint's val
        metrics["val/loss"] = float(ckpt_cb.best_model_score)
        metrics["val/ppl"] = math.exp(metrics["val/loss"])
    if cfg.get("test", True) and not trainer.fast_dev_run:
        results = trainer.test(module, datamodule=data, ckpt_path=best or None, verbose=False)
        metrics.update({k: float(v) for k, v in results[0].items()})
        for cb in callbacks:  # the probe suites that ran on the tested checkpoint (lm.probes.callback)
            metrics.update({k: v for k, v in getattr(cb, "metrics", {}).items() if k.count("/") == 2})
    for lg in loggers:
        if isinstance(lg, WandbLogger):  # close the run now, so the summary below is the last thing printed
            lg.experiment.finish()
    if trainer.is_global_zero:
        summary(metrics, best, run_dir)
    return metrics


def summary(metrics: dict[str, float], best: str, run_dir: Path) -> None:
    line = "  ".join(f"{k} {metrics[k]:.2f}" for k in ("val/ppl", "test/ppl") if k in metrics)
    probes = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith("probe/"))
    if probes:
        line += f"\n   {probes}   (full report: python scripts/evaluate.py ckpt={run_dir})"
    print(f"\n== finished: {line}\n   best checkpoint: {best or '(none saved)'}\n   run directory:   {run_dir}", flush=True)
    if best:
        print(f"   generate: python scripts/generate.py ckpt={run_dir} prompt=\"the\"", flush=True)
