"""Probe results on W&B: metric keys from result rows, and publishing them (with the results table and the plots)
to the training run a checkpoint came from, else to a run of their own (the logger: lm/results/wandb_log.py)."""

from __future__ import annotations

from pathlib import Path

from lm.results.wandb_log import ResultsRun, training_run

TABLE_COLUMNS = ["suite", "field", "value", "acc", "lo", "hi", "n", "correct", "n_oov"]


def probe_metrics(rows: list[dict], prefix: str = "probe", measure: str = "acc") -> dict[str, float]:
    """<prefix>/<suite>/<measure> and <prefix>/<suite>/<field>=<value>/<measure> from result rows (accuracy, or a
    sensitivity's "auc"), groups with items only."""
    out = {}
    for r in rows:
        if "n" in r and not r["n"]:  # an AUC row has no "n": it exists only when both classes have items
            continue
        cond = "" if r["field"] == "all" else f"/{r['field']}={r['value']}"
        out[f"{prefix}/{r['suite']}{cond}/{measure}"] = float(r[measure])
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
    found = training_run(ckpt_path, config)
    wb_conf = ((config or {}).get("logger") or {}).get("wandb") or {}
    run = ResultsRun(
        wb_conf.get("project") or project,
        out_dir,
        resume=found,
        entity=wb_conf.get("entity"),
        name=f"probes {label}",
        job_type="evaluate",
        config={"ckpt": str(ckpt_path)},
    )
    metrics = probe_metrics(rows) | (extra or {})
    run.log(
        metrics,
        tables={"probe/results": rows},
        images={f"probe/plots/{p.stem}": p for p in plots},
        columns={"probe/results": TABLE_COLUMNS},
    )
    run.summarise(metrics)
    where = f"W&B {run.mode} run {run.id}" + (" (the training run)" if found else "")
    run.finish()
    return where
