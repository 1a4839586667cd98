"""Experiment tracking: W&B online when the user has a key, offline otherwise (never a login prompt)."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from lm.console import console_command, say
from lm.errors import UserError


def has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        rc = netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc"))
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return any("wandb" in host for host in rc.hosts)


def ensure_wandb_mode() -> str:
    """WANDB_MODE as the user set it, else online with a key and offline without one."""
    if not os.environ.get("WANDB_MODE"):
        os.environ["WANDB_MODE"] = "online" if has_wandb_key() else "offline"
    return os.environ["WANDB_MODE"]


def make_loggers(
    cfg: DictConfig | None, run_dir: Path, output_root: Path | None = None, resume_id: str | None = None
) -> list:
    """resume_id: the W&B run a resumed training run continues (one curve on the dashboard)."""
    loggers = []
    for name, conf in (cfg or {}).items():
        if not conf:
            continue
        extra = {}
        if "wandb" in conf.get("_target_", "").lower():
            mode = ensure_wandb_mode()
            os.environ.setdefault("WANDB_QUIET", "true")  # no run history table at exit: our summary is last
            if mode == "offline":
                say(
                    f"W&B: no API key, logging offline; view with `{console_command('wandb')} leet {run_dir}/wandb`, "
                    f"upload later with `{console_command('wandb')} sync {run_dir}/wandb/offline-run-*`"
                )
            extra = (
                {"id": resume_id, "resume": "allow"}
                if resume_id
                else {"name": conf.get("name") or run_name(run_dir, output_root)}
            )
        try:
            loggers.append(instantiate(conf, **extra))
        except Exception as e:  # Hydra wraps the ImportError in an InstantiationException
            if not (isinstance(e, ImportError) or isinstance(e.__cause__, ImportError) or "ModuleNotFound" in str(e)):
                raise
            raise UserError(
                f"logger={name} needs a package that is not installed (pip install {name}, or the "
                f"package's [{name}] extra: pip install -e '.[{name}]' in a checkout), "
                "or choose logger=wandb|csv|none"
            ) from None
    return loggers


def run_name(run_dir: Path, output_root: Path | None) -> str:
    """Distinct for distinct runs: the run directory under outputs/ (<name>/<time>_<pid>, or a sweep job's
    <name>/multirun_<time>_<pid>/<job>)."""
    try:
        return str(Path(run_dir).resolve().relative_to(Path(output_root).resolve()))
    except (TypeError, ValueError):
        return Path(run_dir).name


@rank_zero_only
def summarise_minima(loggers: list) -> None:
    """W&B's run summary shows the best val/loss and val/ppl, not the last ones."""
    for lg in loggers:
        if isinstance(lg, WandbLogger):
            for key in ("val/loss", "val/ppl"):
                lg.experiment.define_metric(key, summary="min")
