"""Results on W&B, for the probes (lm/probes/wandb_runs.py) and the analyses (lm/cli/analyze.py): the training run
a checkpoint came from, and one logger that opens a run (that training run resumed, or a new one), logs tables,
images and scalars, and closes it.

A training run's W&B files live in `<run dir>/wandb/` (lm/training/train.py: WandbLogger(save_dir=run dir)), one folder
per run named `run-<time>-<id>` (online) or `offline-run-<time>-<id>`, with `latest-run` pointing at the last.
Resuming that id with `resume="allow"` adds to the same run (offline: `wandb sync` merges).
Without an API key W&B runs offline (lm.training.tracking.ensure_wandb_mode): never a login prompt. `wandb` is
imported when a run opens, not with this module.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lm.training.tracking import ensure_wandb_mode

RUN_DIR = re.compile(r"^(?:offline-)?run-\d{8}_\d{6}-([A-Za-z0-9]+)$")


def run_id(folder_name: str) -> str | None:
    m = RUN_DIR.match(folder_name)
    return m.group(1) if m else None


def training_run(ckpt_path: str | Path, config: dict | None) -> tuple[str, Path] | None:
    """(W&B run id, run directory) of the training run that wrote the checkpoint, when its files are here."""
    p = Path(ckpt_path).resolve()
    candidates = []
    if p.parent.name == "checkpoints":
        candidates.append(p.parent.parent)
    run_dir = ((config or {}).get("paths") or {}).get("run_dir")
    if run_dir:
        candidates.append(Path(run_dir))
    for d in candidates:
        wb = d / "wandb"
        latest = wb / "latest-run"
        names = [latest.resolve().name] if latest.exists() else []
        names += sorted((q.name for q in wb.glob("*run-*") if q.is_dir()), reverse=True) if wb.is_dir() else []
        for name in names:
            rid = run_id(name)
            if rid:
                return rid, d
    return None


def installed() -> bool:
    return importlib.util.find_spec("wandb") is not None


def flat(d: Mapping, prefix: str = "") -> dict:
    """Nested dicts as one level of "a/b" keys; lists left out."""
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flat(v, f"{prefix}{k}/"))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


class ResultsRun:
    """One W&B run that results go to: `resume` = (id, run directory) continues that (training) run, in the
    project and entity it lives in; else a new run in `dir`, with the `new` wandb.init keywords (name, job_type,
    group, config). Log steps with log(), set the summary with summarise(), close with finish()."""

    def __init__(
        self, project: str, dir: Path, resume: tuple[str, Path] | None = None, entity: str | None = None, **new
    ):
        import wandb

        self.wandb = wandb
        self.mode = ensure_wandb_mode()
        self.resumed = resume is not None
        settings = wandb.Settings(silent=True, quiet=True)  # the callers say where the results went
        if resume:
            rid, run_dir = resume
            self.run = wandb.init(
                project=project, entity=entity, dir=str(run_dir), id=rid, resume="allow", settings=settings
            )
        else:
            Path(dir).mkdir(parents=True, exist_ok=True)
            self.run = wandb.init(project=project, dir=str(dir), settings=settings, **new)

    @property
    def id(self) -> str:
        return self.run.id

    def log(
        self,
        scalars: Mapping[str, float] | None = None,
        tables: Mapping[str, Sequence[dict]] | None = None,
        images: Mapping[str, Path] | None = None,
        columns: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """One step: scalars, PNG files as images and tables (rows of dicts; columns[key]: the table's columns,
        else every key in first-seen order; a table without columns is left out), by their keys."""
        data = dict(scalars or {}) | {key: self.wandb.Image(str(p)) for key, p in (images or {}).items()}
        for key, rows in (tables or {}).items():
            cols = list((columns or {}).get(key) or dict.fromkeys(k for r in rows for k in r))
            if cols:
                data[key] = self.wandb.Table(columns=cols, data=[[r.get(c) for c in cols] for r in rows])
        self.run.log(data)

    def summarise(self, values: Mapping) -> None:
        """The numbers and strings of `values` (nested dicts as "a/b" keys) into the run's summary."""
        self.run.summary.update({k: v for k, v in flat(values).items() if isinstance(v, (int, float, str))})

    def finish(self) -> None:
        self.run.finish()
