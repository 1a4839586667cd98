"""train(cfg): data -> tokenizer -> model -> Lightning Trainer -> best checkpoint -> test -> summary."""

from __future__ import annotations

import logging
import os
import shlex
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import Checkpoint, LearningRateMonitor, ModelCheckpoint, ProgressBar
from pytorch_lightning.loggers import WandbLogger

from lm.console import console_command, say, shown_path
from lm.data.datamodule import LMDataModule
from lm.data.tokenizer import kind_of, load_tokenizer
from lm.device import cpu_has_bf16, native_bf16, set_threads
from lm.errors import UserError
from lm.model import checkpoint
from lm.model.rnnlm import SHAPE_ARGS, count_parameters
from lm.training.checkpointing import AtomicCheckpointIO, Interrupted
from lm.training.module import LanguageModel
from lm.training.negatives import check_groups, partner_table
from lm.training.perplexity import safe_exp
from lm.training.tracking import make_loggers, summarise_minima

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


def check_compatible(path: Path, module: LanguageModel) -> dict:
    """Resuming needs the same tokenizer, model shape and optimizer; say which differs instead of a traceback.
    Settings that are not shapes (dropout, ...) may change. Returns the checkpoint."""
    ckpt = checkpoint.read(path)
    if load_tokenizer(ckpt["lm"]["tokenizer_json"]).to_str() != module.tokenizer.to_str():
        raise UserError(
            f"{path} was trained with another tokenizer or vocabulary than this config gives; "
            "resume with the data/tokenizer settings of that run, or drop ckpt_path to start afresh"
        )
    old, new = ckpt["hyper_parameters"]["model"], module.hparams.model
    diff = {k: (old.get(k), new.get(k)) for k in SHAPE_ARGS if old.get(k, new.get(k)) != new.get(k)}
    if diff:
        shown = ", ".join(f"model.{k}: checkpoint {a} vs config {b}" for k, (a, b) in sorted(diff.items()))
        raise UserError(f"{path} has another model shape ({shown}); resume with that run's model settings")
    for part in ("optimizer", "scheduler"):
        was, now = ((h.get(part) or {}).get("_target_") for h in (ckpt["hyper_parameters"], module.hparams))
        if was != now:
            raise UserError(
                f"{path} was trained with {part} {was}, this config gives {now}: its saved state does "
                f"not fit; resume with that run's optim settings, or drop ckpt_path to start afresh"
            )
    return ckpt


def set_matmul_precision(cfg: DictConfig) -> None:
    """On a GPU, fp32 matmuls may use TF32 (`matmul_precision: high`, torch's own advice for Ampere and later);
    `highest` keeps them exact. CPUs are left alone."""
    if cfg.trainer.get("accelerator") in ("gpu", "cuda"):
        torch.set_float32_matmul_precision(cfg.get("matmul_precision") or "highest")


def resolve_auto_precision(cfg: DictConfig) -> None:
    """trainer.precision=auto: bf16-mixed where the hardware has bf16 matmuls (a GPU that supports it, a CPU with
    AVX512-BF16 or AMX), 32-true where bf16 would be emulated at half fp32's speed. Written into the config, so
    the checkpoint's config says which ran."""
    if str(cfg.trainer.get("precision")) != "auto":
        return
    with open_dict(cfg):
        cfg.trainer.precision = "bf16-mixed" if native_bf16(str(cfg.trainer.get("accelerator"))) else "32-true"
    log.info(f"trainer.precision=auto: {cfg.trainer.precision} on this machine")


def precision_warning(cfg: DictConfig) -> str | None:
    accelerator, precision = cfg.trainer.get("accelerator"), str(cfg.trainer.get("precision"))
    if accelerator == "cpu" and precision.startswith("bf16") and not cpu_has_bf16():
        return (
            f"trainer.precision={precision} on a CPU without bf16 instructions (avx512_bf16, AMX) runs slower "
            "than fp32 here; use trainer.precision=32-true"
        )
    return None


def check_epoch_settings(cfg: DictConfig) -> None:
    if not cfg.data.get("variable_bptt"):
        return
    for key in ("val_check_interval", "limit_train_batches"):
        value = cfg.trainer.get(key)
        if isinstance(value, float) and value != 1.0:
            raise UserError(
                f"data.variable_bptt=true draws a different number of chunks each epoch, so a fraction of "
                f"an epoch is not defined: use trainer.{key}=1.0 or a number of steps (an int)"
            )


def check_fused_clipping(cfg: DictConfig) -> None:
    """fp16 (16-mixed) scales the loss; a fused optimizer unscales the gradients inside its step, after Lightning
    would have clipped them, so Lightning refuses the pair with a traceback. Say it in one line instead."""
    fp16 = str(cfg.trainer.get("precision")).startswith("16")
    if fp16 and cfg.optim.optimizer.get("fused") and cfg.trainer.get("gradient_clip_val"):
        raise UserError(
            "optim.optimizer.fused=true cannot be clipped under trainer.precision=16-mixed: use "
            "trainer.precision=bf16-mixed, or optim.optimizer.fused=false"
        )


def initial_weights(cfg: DictConfig) -> checkpoint.Loaded | None:
    """`init_from`: a checkpoint whose weights and tokenizer start this run, a new one with its own optimizer and
    step count (a second stage such as AWD's fine-tuning; `ckpt_path` resumes a run instead)."""
    if cfg.optim.optimizer.get("averaged_from_start") and not cfg.get("init_from"):
        raise UserError(
            "fine-tuning (optim.optimizer.averaged_from_start=true) starts from a trained model: add "
            "init_from=<run directory or .ckpt>, e.g. init_from=outputs/awd_lstm/<time>"
        )
    return checkpoint.load(cfg.init_from) if cfg.get("init_from") else None


def negative_partners(tokenizer, train_ids, groups, **options):
    """The partner, scale and row tables of `negatives` (lm/training/negatives.py), the pairs counted in the log;
    `options`: partner_table's finite_only, balance and person_cues."""
    if kind_of(tokenizer) != "word":  # BPE and characters split "is" / "are" into pieces that are not words
        raise UserError(
            f"negatives need word tokens, not {kind_of(tokenizer)}: use tokenizer=word, or negatives.weight=0"
        )
    table, scale, row, pairs = partner_table(tokenizer.get_vocab(), groups, train_ids, **options)
    if not pairs:
        raise UserError("negatives: no minimal pair (is/are, he/she, ...) is in the vocabulary; set negatives.weight=0")
    shown = ", ".join("/".join(p) for p in pairs[:12]) + (", ..." if len(pairs) > 12 else "")
    log.info(f"negatives: {len(pairs)} minimal pairs ({shown}); {int((table >= 0).sum())} words have a partner")
    return table, scale, row


def build(cfg: DictConfig) -> tuple[LMDataModule, LanguageModel]:
    resolve_auto_precision(cfg)
    check_epoch_settings(cfg)
    check_fused_clipping(cfg)
    negatives = cfg.get("negatives")
    groups = check_groups(negatives.groups) if negatives else {}  # a typo fails, weight 0 or not, before tokenizing
    set_matmul_precision(cfg)
    set_threads(cfg.get("threads"))
    if warning := precision_warning(cfg):
        log.warning(warning)
    data = LMDataModule(
        OmegaConf.to_container(cfg.data, resolve=True),
        OmegaConf.to_container(cfg.tokenizer, resolve=True),
        cfg.paths.cache_dir,
        pin_memory=cfg.trainer.get("accelerator") in ("gpu", "cuda"),
    )
    init = initial_weights(cfg)
    tokenizer = data.prepare(init.tokenizer if init else None)
    model_args = {**OmegaConf.to_container(cfg.model, resolve=True), "vocab_size": tokenizer.get_vocab_size()}
    if init:  # the shape is the checkpoint's; the rest (dropout, ...) this config's
        model_args |= {k: init.model_args[k] for k in SHAPE_ARGS if k in init.model_args}
    optim = cfg.optim
    try:
        scheduler = optim.get("scheduler")
        module = LanguageModel(
            model_args,
            OmegaConf.to_container(optim.optimizer, resolve=True),
            OmegaConf.to_container(scheduler, resolve=True) if scheduler else None,
            nonfinite=cfg.get("nonfinite", "stop"),
            ar=optim.get("ar", 0.0),
            tar=optim.get("tar", 0.0),
            lr_bptt=cfg.data.bptt if optim.get("lr_by_length") else None,
            negatives=OmegaConf.to_container(negatives, resolve=True) if negatives else None,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    if init:
        module.model.load_state_dict(init.model.state_dict())
        log.info(f"weights from {init.path}")
    module.tokenizer = tokenizer
    if negatives and negatives.weight:
        options = {k: negatives[k] for k in ("finite_only", "balance", "person_cues")}  # partner_table's switches
        tables = negative_partners(tokenizer, data.ids["train"], groups, **options)
        module.partners, module.partner_scale, module.partner_row = tables
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    return data, module


def quiet_known_warnings() -> None:
    warnings.filterwarnings("ignore", message=".*IterableDataset. has .__len__. defined")  # we use no workers
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*training_step. returned .None.")  # nonfinite=skip does that
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def route_lightning_logs() -> None:
    """Lightning gives its loggers a console handler of their own when imported before logging is set up (as
    here, before Hydra's): send their records through the root logger instead, so train.log holds them too."""
    if not logging.getLogger().handlers:
        return  # no Hydra logging (the compose API): leave Lightning's console output as it is
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def make_callbacks(cfg: DictConfig, has_logger: bool = True) -> list[pl.Callback]:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not has_logger:  # logger=none: Lightning refuses a LearningRateMonitor with nothing to log to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.trainer.get("enable_progress_bar", True):  # trainer.enable_progress_bar=false drops the bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if cfg.trainer.get("fast_dev_run"):  # a smoke test saves nothing (Lightning would still write last.ckpt)
        callbacks = [c for c in callbacks if not isinstance(c, Checkpoint)]
    return callbacks


def train(cfg: DictConfig) -> dict[str, float]:
    quiet_known_warnings()
    route_lightning_logs()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.paths.run_dir)
    data, module = build(cfg)
    ckpt_path = resume_path(cfg.get("ckpt_path"), Path(cfg.paths.output_root) / cfg.name)
    resumed = check_compatible(ckpt_path, module) if ckpt_path else None
    if ckpt_path:  # what a kill during a checkpoint write left behind (lm/training/checkpointing.py)
        for tmp in ckpt_path.parent.glob(".*.ckpt.tmp"):
            tmp.unlink(missing_ok=True)
    if not cfg.trainer.get("fast_dev_run"):  # a smoke test leaves no run directory (conf/debug/fast_dev_run.yaml)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "tokenizer.json").write_text(module.tokenizer.to_str())

    wandb_id = resumed["lm"].get("resume", {}).get("wandb_id") if resumed else None
    # a smoke test logs nothing even with logger=... on the command line (Lightning would still make the folders)
    loggers = (
        []
        if cfg.trainer.get("fast_dev_run")
        else make_loggers(cfg.get("logger"), run_dir, Path(cfg.paths.output_root), wandb_id)
    )
    log.info("config:\n%s", OmegaConf.to_yaml(cfg, resolve=True).rstrip())  # after the checks that refuse a run
    callbacks = make_callbacks(cfg, has_logger=bool(loggers))
    max_time = cfg.trainer.get("max_time")  # {minutes: 57}: Lightning would read a DictConfig as a string
    extra = (
        {"max_time": timedelta(**OmegaConf.to_container(max_time, resolve=True))} if OmegaConf.is_dict(max_time) else {}
    )
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()], **extra
    )
    for lg in loggers:
        lg.log_hyperparams({**module.run_config, "model/params": count_parameters(module.model)})
    summarise_minima(loggers)

    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    except Interrupted as e:
        if trainer.is_global_zero:
            say(f"\n== stopped by {e}: saved {e.path}\n   resume: {command_line(f'ckpt_path={run_dir}')}")
        raise SystemExit(128 + e.signum) from None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    best_cb = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)), None)
    best = best_cb.best_model_path if best_cb else ""
    if best and best_cb.best_model_score is not None:  # monitor is val/loss: report the best checkpoint's val
        metrics["val/loss"] = float(best_cb.best_model_score)
        metrics["val/ppl"] = safe_exp(metrics["val/loss"])
    if cfg.get("test", True) and not trainer.fast_dev_run:
        results = trainer.test(module, datamodule=data, ckpt_path=best or None, verbose=False)
        metrics.update({k: float(v) for k, v in results[0].items()})
        for cb in callbacks:  # the probe suites that ran on the tested checkpoint (lm.training.callbacks.probes)
            metrics.update({k: v for k, v in getattr(cb, "metrics", {}).items() if k.count("/") == 2})
    for lg in loggers:
        if isinstance(lg, WandbLogger):  # close the run now, so the summary below is the last thing printed
            lg.experiment.finish()
    if trainer.is_global_zero:
        summary(metrics, best, None if trainer.fast_dev_run else run_dir)
    return metrics


def command_line(*extra: str) -> str:
    """The command that started this run (its Hydra overrides, without ckpt_path), with `extra` added."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    except ValueError:  # not under @hydra.main
        overrides = []
    if Path(sys.argv[0]).name.startswith("lm-"):  # a console command (lm-train)
        return shlex.join([console_command(Path(sys.argv[0]).name), *overrides, *extra])
    python = os.path.relpath(sys.executable)  # .venv/bin/python from the repository root
    python = sys.executable if python.startswith("..") else python
    return shlex.join([python, sys.argv[0], *overrides, *extra])


def summary(metrics: dict[str, float], best: str, run_dir: Path | None) -> None:
    line = "  ".join(f"{k} {metrics[k]:.2f}" for k in ("val/ppl", "test/ppl") if k in metrics)
    if run_dir is None:
        say(f"\n== finished (fast_dev_run, nothing saved): {line}")
        return
    run_dir, best = shown_path(run_dir), best and shown_path(best)
    probes = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith("probe/"))
    if probes:
        line += f"\n   {probes}   (full report: {console_command('lm-evaluate')} ckpt={run_dir})"
    text = f"\n== finished: {line}\n   best checkpoint: {best or '(none saved)'}\n   run directory:   {run_dir}"
    if best:
        text += f'\n   generate: {console_command("lm-generate")} ckpt={run_dir} prompt="the"'
    say(text)
