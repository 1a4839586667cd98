"""The logic behind scripts/evaluate.py: checkpoints x suites -> scores -> table, CSV / JSON, plots, W&B.

    outputs/evaluate/<time>/
        results.csv      one row per checkpoint, suite and condition: acc, 95% CI, n, n_oov
        results.json     the same rows, a summary per checkpoint and suite, perplexities, coverage
        items.jsonl      every scored pair: its record, log-probabilities and whether it was right
        plots/*.png      accuracy against distance / number of attractors, one line per checkpoint
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from lm import checkpoint
from lm.device import resolve_device, set_threads
from lm.errors import UserError
from lm.probes import catalog
from lm.probes.plots import plot_suites
from lm.probes.records import Suite
from lm.probes.report import (clean_nans, format_table, guess_fields, suite_rows, wilson_interval, write_csv,
                              write_json)
from lm.probes.scoring import Scorer
from lm.probes.vocab import coverage, load_vocab

TASKS = ("probes", "perplexity", "all")


@dataclass
class Checkpoint:
    label: str
    path: Path
    model: torch.nn.Module
    tokenizer: object
    config: dict


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return [str(value)]


def labels_for(paths: list[Path]) -> list[str]:
    """Shortest path endings that tell the checkpoints apart: run/time/best rather than a full path."""
    parts = [[q for q in p.with_suffix("").parts if q not in ("checkpoints", "/")] for p in paths]
    for k in range(1, max(len(x) for x in parts) + 1):
        labels = ["/".join(x[-k:]) for x in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def load_checkpoints(specs: list[str], device: torch.device, labels: list[str] | None = None) -> list[Checkpoint]:
    if not specs:
        raise UserError("ckpt is empty: give ckpt=PATH or ckpt=[PATH1,PATH2]")
    loaded = []
    for spec in specs:
        loaded.append(checkpoint.load(spec, map_location=device))
    names = labels or labels_for([x.path for x in loaded])
    if len(names) != len(loaded):
        raise UserError(f"labels has {len(names)} names for {len(loaded)} checkpoints")
    return [Checkpoint(n, x.path, x.model, x.tokenizer, x.config) for n, x in zip(names, loaded)]


def suites_for(cfg: DictConfig, ckpts: list[Checkpoint]) -> tuple[dict[str, list[Suite]], list[dict]]:
    """The suites each checkpoint is scored on (files read once; built-ins written in each model's style),
    and the coverage of the vocabularies built-in suites use."""
    specs = as_list(cfg.probes)
    if not specs:
        raise UserError("probes is empty: name built-in suites (agreement, gender, recall), .jsonl files or "
                        "directories, e.g. probes=[agreement,data/my_pairs.jsonl]")
    files = {spec: catalog.file_suites(spec, cfg.limit) for spec in specs if not catalog.is_builtin(spec)}
    options = catalog.BuiltinOptions(cfg.n_items, cfg.seed, cfg.max_phrases, cfg.max_distance)
    vocabs = {c.label: catalog.choose_vocab(cfg.vocab, c.config) for c in ckpts}
    english = None
    if "english" in vocabs.values() and any(catalog.is_builtin(s) for s in specs):
        english = catalog.english_for([c.tokenizer for c in ckpts if vocabs[c.label] == "english"])
    out, covered = {}, []
    for c in ckpts:
        vocab = english if vocabs[c.label] == "english" else load_vocab("grammar")
        style = catalog.english_style(c.tokenizer, cfg.style.case, cfg.style.period)
        out[c.label] = [s for spec in specs for s in (
            [catalog.builtin_for(spec, vocab, c.tokenizer, options, style)] if catalog.is_builtin(spec)
            else files[spec])]
        _distinct_names(out[c.label])
        if any(catalog.is_builtin(spec) for spec in specs):
            cov = coverage(load_vocab(vocab.name), c.tokenizer)
            covered.append({"ckpt": c.label} | cov)
            for s in out[c.label]:
                if s.source.startswith("builtin"):
                    s.notes["coverage"] = cov["fraction"]
    return out, covered


def _distinct_names(suites: list[Suite]) -> None:
    """Two files with one name (a/pairs.jsonl, b/pairs.jsonl) become pairs and pairs#2 in tables and plots."""
    seen: Counter = Counter()
    for s in suites:
        seen[s.name] += 1
        if seen[s.name] > 1:
            s.name = f"{s.name}#{seen[s.name]}"


def score_suite(scorer: Scorer, suite: Suite, group_by: list[str] | None) -> tuple[list[dict], list[dict], dict]:
    """(result rows, scored items, summary) of one suite under one scorer."""
    start = time.perf_counter()
    scores = scorer.score(suite.pairs)
    seconds = time.perf_counter() - start
    items = []
    for pair, s in zip(suite.pairs, scores):
        items.append(pair.meta | {"correct": s.correct, "n_sides": 1 + len(pair.bad)})
    fields = group_by if group_by else list(suite.group_by or guess_fields(
        [{k: v for k, v in it.items() if k != "n_sides"} for it in items]))
    rows = [{"suite": suite.name} | r for r in suite_rows(items, fields)]
    oov = Counter(w for s in scores for w in s.oov)
    scored = sum(s.correct is not None for s in scores)
    right = sum(bool(s.correct) for s in scores)
    lo, hi = wilson_interval(right, scored)
    summary = {"suite": suite.name, "source": suite.source, "pairs": len(scores), "scored": scored,
               "n_oov": len(scores) - scored, "oov_words": [w for w, _ in oov.most_common(10)],
               "acc": right / scored if scored else float("nan"), "lo": lo, "hi": hi, "seconds": seconds,
               "pairs_per_s": len(scores) / max(seconds, 1e-9), "precision": scorer.precision} | suite.notes
    return rows, [it | {"_scores": s, "_pair": pair} for it, pair, s in zip(items, suite.pairs, scores)], summary


def run_probes(cfg: DictConfig, ckpts: list[Checkpoint]) -> dict:
    suites, covered = suites_for(cfg, ckpts)
    group_by = as_list(cfg.group_by) or None
    rows, summaries, items = [], [], {}
    for c in ckpts:
        scorer = Scorer(c.model, c.tokenizer, cfg.precision, cfg.max_tokens)
        for suite in suites[c.label]:
            r, its, summary = score_suite(scorer, suite, group_by)
            rows += [{"ckpt": c.label} | x for x in r]
            summaries.append({"ckpt": c.label} | summary)
            items.setdefault(suite.name, {})[c.label] = its
            print(f"[{c.label}] {suite.name}: {summary['pairs']} pairs in {summary['seconds']:.1f} s "
                  f"({summary['pairs_per_s']:.0f} pairs/s, {summary['precision']})", file=sys.stderr, flush=True)
    return {"rows": rows, "summaries": summaries, "items": items, "coverage": covered}


def run_perplexity(cfg: DictConfig, ckpts: list[Checkpoint]) -> list[dict]:
    from lm.probes.perplexity import split_perplexity
    p = cfg.perplexity
    out = []
    for c in ckpts:
        res = split_perplexity(c.model, c.tokenizer, c.config, p.split, cfg.paths.cache_dir, p.file,
                               p.batch_size, p.bptt)
        out.append({"ckpt": c.label} | res)
    return out


def oov_notes(summaries: list[dict]) -> list[str]:
    return [f"[{s['ckpt']}] {s['suite']}: {s['n_oov']} of {s['pairs']} pairs not scored, a critical word is out "
            f"of the model's vocabulary ({', '.join(s['oov_words'])})" for s in summaries if s["n_oov"]]


def write_items(items: dict, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for suite, by_ckpt in items.items():
            for label, its in by_ckpt.items():
                for it in its:
                    s, pair = it["_scores"], it["_pair"]
                    rec = {"ckpt": label, "suite": suite, "where": pair.where} | pair.record() | {
                        "logprob_good": s.good, "logprob_bad": list(s.bad), "correct": s.correct, "oov": list(s.oov)}
                    f.write(json.dumps(clean_nans(rec)) + "\n")
    return path


def plain_items(items: dict) -> dict:
    return {suite: {label: [{k: v for k, v in it.items() if not k.startswith("_")} for it in its]
                    for label, its in by_ckpt.items()} for suite, by_ckpt in items.items()}


def evaluate(cfg: DictConfig) -> dict:
    """Run the task(s) cfg names for every checkpoint; print the table; write the outputs; log to W&B."""
    if cfg.task not in TASKS:
        raise UserError(f"unknown task {cfg.task!r}: use one of {', '.join(TASKS)}")
    set_threads(cfg.threads)
    ckpts = load_checkpoints(as_list(cfg.ckpt), resolve_device(cfg.device), as_list(cfg.labels) or None)
    out_dir = Path(cfg.output_dir)
    result = {"probes": None, "perplexity": []}
    if cfg.task in ("probes", "all"):
        result["probes"] = run_probes(cfg, ckpts)
    if cfg.task in ("perplexity", "all"):
        result["perplexity"] = run_perplexity(cfg, ckpts)
    written = write_outputs(cfg, result, out_dir)
    report(result, written)
    if cfg.wandb:
        for c in ckpts:
            print(publish_one(cfg, c, result, written, out_dir), file=sys.stderr, flush=True)
    return result


def write_outputs(cfg: DictConfig, result: dict, out_dir: Path) -> dict[str, object]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, object] = {"plots": []}
    probes = result["probes"]
    if probes:
        written["csv"] = write_csv(probes["rows"], out_dir / "results.csv")
        if cfg.items:
            written["items"] = write_items(probes["items"], out_dir / "items.jsonl")
        if cfg.plots:
            written["plots"] = plot_suites(plain_items(probes["items"]), out_dir / "plots")
    summary = {"rows": probes["rows"] if probes else [], "summaries": probes["summaries"] if probes else [],
               "coverage": probes["coverage"] if probes else [], "perplexity": result["perplexity"],
               "config": OmegaConf.to_container(cfg, resolve=True)}
    written["json"] = write_json(clean_nans(summary), out_dir / "results.json")
    return written


def report(result: dict, written: dict) -> None:
    probes = result["probes"]
    if probes:
        print(format_table(probes["rows"]))
        for cov in probes["coverage"]:
            if cov["vocab"] == "english":
                print(f"[{cov['ckpt']}] english vocabulary: {cov['covered']} of {cov['words']} words in the model's "
                      f"vocabulary ({cov['fraction']:.0%}); missing: {', '.join(cov['missing'][:15]) or 'none'}")
        for note in oov_notes(probes["summaries"]):
            print(note)
    for p in result["perplexity"]:
        print(f"[{p['ckpt']}] perplexity on {p['file'] or p['split']}: {p['ppl']:.2f} "
              f"(loss {p['loss']:.4f}, {p['tokens']} tokens)")
    shown = [str(v) for k, v in written.items() if k != "plots" and v] + [str(p) for p in written["plots"]]
    print("wrote " + "\n      ".join(shown))


def publish_one(cfg: DictConfig, c: Checkpoint, result: dict, written: dict, out_dir: Path) -> str:
    from lm.probes.wandb_runs import publish
    probes = result["probes"]
    rows = [r for r in probes["rows"] if r["ckpt"] == c.label] if probes else []
    extra = {f"eval/{p['split']}_ppl": p["ppl"] for p in result["perplexity"] if p["ckpt"] == c.label}
    where = publish(c.label, c.path, c.config, rows, written["plots"], out_dir / "wandb_runs", extra=extra)
    return f"[{c.label}] logged to {where}"
