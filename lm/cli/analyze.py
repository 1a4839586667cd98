"""lm-analyze (scripts/analyze.py): its config into checkpoints x analyses -> files in one folder, tables, W&B.

<first run dir>/analysis/             (or output_dir=...)
    agreement.csv / .png              accuracy against distance, every checkpoint
    gradients.csv / .png              gradient norm against distance, every checkpoint (+ gradients_items.csv)
    gates_<label>.csv, _<k>.png       every gate and state per layer, unit and token; heatmaps
    subject_change_<label>.csv / .png forget and input gates where the subject changes
    probes_<label>.csv / .png         diagnostic classifiers: accuracy against position
    ablation_<label>.csv / .png       units ranked by the accuracy their ablation costs
    summary.json                      what was printed, in numbers
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from lm.analysis.gates import require_cell
from lm.analysis.report import Section
from lm.analysis.sections import RUNNERS, SUPPORTED, Ckpt
from lm.config import as_list
from lm.console import console_command
from lm.device import set_threads
from lm.errors import UserError
from lm.model import checkpoint
from lm.probes import catalog
from lm.results.checkpoints import load_labelled
from lm.results.files import write_json
from lm.results.wandb_log import ResultsRun, installed

ANALYSES = tuple(RUNNERS)


def parse_analyses(value) -> tuple[list[str], bool]:
    """The analyses to run in a fixed order, and whether they were named (False for `all`)."""
    names = as_list(value)
    if names == ["all"]:
        return list(ANALYSES), False
    unknown = [n for n in names if n not in ANALYSES]
    if unknown or not names:
        raise UserError(
            f"unknown analysis {', '.join(map(repr, unknown)) or '(none given)'}: use one of "
            f"{', '.join(ANALYSES)} or all, e.g. analysis=gates or analysis=[agreement,gradients]"
        )
    return [n for n in ANALYSES if n in names], True


def run_dir_of(path: Path) -> Path:
    return path.parent.parent if path.parent.name == checkpoint.CKPT_DIR else path.parent


def safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "model"


def load_ckpts(specs: Sequence[str], labels: Sequence[str] | None, grammar: dict | None) -> list[Ckpt]:
    out = []
    for x in load_labelled(list(specs), list(labels) if labels else None):
        g = grammar if grammar is not None else catalog.corpus_grammar(x.config)
        out.append(Ckpt(safe(x.label), x.path, x.model, x.tokenizer, dict(g), str(x.config.get("name") or "")))
    if len({ck.label for ck in out}) != len(out):  # file names: labels that differ only in punctuation clash
        raise UserError(f"labels must stay distinct as file names; got {[ck.label for ck in out]}: set labels=")
    return out


def plan(cks: Sequence[Ckpt], analyses: list[str], named: bool) -> list[tuple[str, list[Ckpt]]]:
    """Each analysis with the checkpoints it runs on. A named analysis that some checkpoint's cell does not
    support is an error; under analysis=all it runs on the checkpoints that support it (and says so)."""
    out = []
    for a in analyses:
        cells = SUPPORTED.get(a)
        bad = [ck for ck in cks if cells and ck.model.cell not in cells]
        if bad and named:
            require_cell(bad[0].model, cells, a, bad[0].path)
        for ck in bad:
            print(
                f"note: skipping analysis={a} for {ck.label}: it needs {'/'.join(cells)}, not {ck.model.cell}",
                flush=True,
            )
        keep = [ck for ck in cks if ck not in bad]
        if keep:
            out.append((a, keep))
    return out


def settings(cfg: DictConfig, name: str) -> dict:
    s = OmegaConf.to_container(cfg.get(name) or {}, resolve=True)
    for key in ("n_items", "max_offset", "min_items", "min_n", "bin_width", "top_k", "max_rows", "max_units"):
        if key in s and (not isinstance(s[key], int) or s[key] < (0 if key == "max_offset" else 1)):
            raise UserError(f"{name}.{key} must be a positive whole number, got {s[key]!r}")
    return s


def analyze(cfg: DictConfig) -> dict:
    analyses, named = parse_analyses(cfg.analysis)
    torch.manual_seed(int(cfg.seed))
    set_threads(cfg.get("threads"))
    grammar = OmegaConf.to_container(cfg.grammar, resolve=True) if cfg.get("grammar") is not None else None
    cks = load_ckpts(as_list(cfg.ckpt), as_list(cfg.get("labels")) or None, grammar)
    todo = [(a, some, settings(cfg, a)) for a, some in plan(cks, analyses, named)]  # every check before work
    out = Path(cfg.output_dir) if cfg.get("output_dir") else run_dir_of(cks[0].path) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    common = {"split": str(cfg.split), "seed": int(cfg.seed)}
    sections = []
    for a, some, s in todo:
        start = time.perf_counter()
        sections.append(RUNNERS[a](some, s, common, out))
        print(f"   ({a}: {time.perf_counter() - start:.1f}s)\n", flush=True)
    summary = {
        "checkpoints": {ck.label: str(ck.path) for ck in cks},
        "split": common["split"],
        "seed": common["seed"],
        **{s.name: s.summary for s in sections},
    }
    files = [write_json(summary, out / "summary.json")]
    if cfg.get("wandb", True):
        log_wandb(cfg, cks, sections, summary, out)
    print(f"== wrote {sum(len(s.files) for s in sections) + len(files)} files to {out}", flush=True)
    return summary


def log_wandb(cfg: DictConfig, cks: Sequence[Ckpt], sections: Sequence[Section], summary: dict, out: Path) -> None:
    """Images and tables as a job_type=analysis run, a step per section: online with a key, offline (never a
    prompt) without."""
    if not installed():
        print("W&B: wandb is not installed; skipped (pip install wandb, or wandb=false)", flush=True)
        return
    run = ResultsRun(
        cfg.get("wandb_project") or "lstm-lm",
        out,
        job_type="analysis",
        group=cks[0].run_name or None,
        name="analysis-" + "-".join(ck.label for ck in cks),
        config={
            "ckpt": [str(ck.path) for ck in cks],
            "analysis": as_list(cfg.analysis),
            "split": str(cfg.split),
            "seed": int(cfg.seed),
        },
    )
    for s in sections:
        images = {f"{s.name}/plot/{p.stem}": p for p in s.files if p.suffix == ".png"}  # beside, not over, tables
        run.log(tables={f"{s.name}/{name}": rows for name, rows in s.tables.items()}, images=images)
    run.summarise(summary)
    run.finish()
    where = f"offline: {console_command('wandb')} sync {out}/wandb/offline-run-*" if run.mode == "offline" else "online"
    print(f"W&B: logged the analysis ({where})", flush=True)
