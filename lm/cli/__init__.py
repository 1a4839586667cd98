"""The commands: lm-train, lm-generate, lm-evaluate, lm-analyze, lm-export (pyproject's [project.scripts]);
scripts/*.py run the same apps from a checkout. Each is a Hydra app over conf/: the checkout's, or the copy a
wheel installs as lm/conf. The work itself is imported inside each app, so that `--help` and a missing argument
answer at once.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lm.config import register_resolvers
from lm.errors import Diverged, UserError, exit_on_user_error
from lm.paths import shipped

CONF_DIR = str(shipped("conf"))


def own_help(name: str) -> None:
    """--help of an app without config groups: its config file, whose comments document every key (Hydra's help
    would list the training config groups, which these apps do not use)."""
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(f"lm-{name} [key=value ...]: the keys of {name}.yaml, shown here with their defaults\n")
        print(Path(CONF_DIR, f"{name}.yaml").read_text(encoding="utf-8"), end="")
        raise SystemExit(0)


def require_ckpt(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt"):
        raise UserError("no checkpoint given: add ckpt=<checkpoint file or run directory>")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
@exit_on_user_error
def _train(cfg: DictConfig) -> float | None:
    from lm.training.train import train as run

    try:
        return run(cfg).get("val/loss")  # the value a sweeper minimises
    except UserError as e:
        if not isinstance(e, Diverged):  # a diverged run keeps its log and checkpoints
            drop_unused(Path(cfg.paths.run_dir))
        raise


HYDRA_ONLY = {".hydra", "train.log", "tokenizer.json"}


def drop_unused(run_dir: Path) -> None:
    """A run refused before it trained leaves no folder behind: remove the run directory when it holds only what
    Hydra and the set-up wrote (an existing run's directory, with checkpoints, stays as it is)."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= HYDRA_ONLY:
        shutil.rmtree(run_dir)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="generate")
@exit_on_user_error
def _generate(cfg: DictConfig) -> None:
    from lm.cli.generate import run

    run(cfg)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
@exit_on_user_error
def _evaluate(cfg: DictConfig) -> None:
    require_ckpt(cfg)
    from lm.cli.evaluate import evaluate as run

    run(cfg)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="analyze")
@exit_on_user_error
def _analyze(cfg: DictConfig) -> None:
    require_ckpt(cfg)
    from lm.cli.analyze import analyze as run

    run(cfg)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
@exit_on_user_error
def _export(cfg: DictConfig) -> None:
    require_ckpt(cfg)
    from lm.model.checkpoint import resolve
    from lm.model.export import export as run

    source = resolve(cfg.ckpt)
    out = cfg.out or (source.parent.parent if source.parent.name == "checkpoints" else source.parent) / "export"
    print(f"exported {source} to {run(source, out)}")


def train() -> None:
    register_resolvers()
    _train()


def generate() -> None:
    from lm.cli.generate import quote_text_overrides

    own_help("generate")
    sys.argv = quote_text_overrides(sys.argv)  # prompt=café, prompt="a, b": text as typed
    _generate()


def evaluate() -> None:
    own_help("evaluate")
    _evaluate()


def analyze() -> None:
    own_help("analyze")
    _analyze()


def export() -> None:
    own_help("export")
    _export()
