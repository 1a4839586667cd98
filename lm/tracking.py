"""Experiment tracking: W&B online when the user has a key, offline otherwise (never a login prompt)."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

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


def make_loggers(cfg: DictConfig | None, run_dir: Path) -> list:
    loggers = []
    for name, conf in (cfg or {}).items():
        if not conf:
            continue
        if "wandb" in conf.get("_target_", "").lower():
            mode = ensure_wandb_mode()
            os.environ.setdefault("WANDB_QUIET", "true")  # no run history table at exit: our summary is last
            if mode == "offline":
                print(f"W&B: no API key, logging offline; view with `wandb leet {run_dir}/wandb`, "
                      f"upload later with `wandb sync {run_dir}/wandb/offline-run-*`", flush=True)
        try:
            loggers.append(instantiate(conf))
        except Exception as e:  # Hydra wraps the ImportError in an InstantiationException
            if not (isinstance(e, ImportError) or isinstance(e.__cause__, ImportError) or "ModuleNotFound" in str(e)):
                raise
            raise UserError(f"logger={name} needs a package that is not installed (pip install {name}), "
                            "or choose logger=wandb|csv|none") from None
    return loggers
