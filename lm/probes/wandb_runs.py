"""Probe results on W&B: attached to the training run a checkpoint came from, else a run of their own.

A training run's W&B files live in `<run dir>/wandb/` (lm/training/train.py: WandbLogger(save_dir=run dir)), one folder
per run named `run-<time>-<id>` (online) or `offline-run-<time>-<id>`, with `latest-run` pointing at the last.
Resuming that id with `resume="allow"` adds the probe metrics to the same run (offline: `wandb sync` merges).
Without an API key W&B runs offline (lm.training.tracking.ensure_wandb_mode): never a login prompt.
"""

from __future__ import annotations

import re
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


def probe_metrics(rows: list[dict], prefix: str = "probe") -> dict[str, float]:
    """<prefix>/<suite>/acc and <prefix>/<suite>/<field>=<value>/acc from result rows (groups with items only)."""
    out = {}
    for r in rows:
        if not r["n"]:
            continue
        cond = "" if r["field"] == "all" else f"/{r['field']}={r['value']}"
        out[f"{prefix}/{r['suite']}{cond}/acc"] = float(r["acc"])
    return out


def publish(
    label: str,
    ckpt_path: Path,
    config: dict,
    rows: list[dict],
    plots: list[Path],
    out_dir: Path,
    project: str = "lstm-lm",
    extra: dict | None = None,
) -> str:
    """Log metrics, the results table and the plots; returns where they went (for the user)."""
    import wandb

    mode = ensure_wandb_mode()
    found = training_run(ckpt_path, config)
    settings = wandb.Settings(silent=True, quiet=True)
    wb_conf = ((config or {}).get("logger") or {}).get("wandb") or {}
    project = wb_conf.get("project") or project
    if found:
        rid, run_dir = found
        run = wandb.init(
            project=project, entity=wb_conf.get("entity"), dir=str(run_dir), id=rid, resume="allow", settings=settings
        )
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=project,
            dir=str(out_dir),
            name=f"probes {label}",
            job_type="evaluate",
            config={"ckpt": str(ckpt_path)},
            settings=settings,
        )
    metrics = probe_metrics(rows) | (extra or {})
    columns = ["suite", "field", "value", "acc", "lo", "hi", "n", "correct", "n_oov"]
    payload = {"probe/results": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])}
    payload |= {f"probe/plots/{p.stem}": wandb.Image(str(p)) for p in plots}
    run.log(metrics | payload)
    run.summary.update(metrics)
    where = f"W&B {mode} run {run.id}" + (" (the training run)" if found else "")
    run.finish()
    return where
