"""lm-evaluate (scripts/evaluate.py): its config into checkpoints x suites -> scores -> table, CSV / JSON, plots,
W&B.

    outputs/evaluate/<time>/
        results.csv      one row per checkpoint, suite and condition: acc, 95% CI, n, n_oov
        sensitivity.csv  agreement and gender: one row per checkpoint, suite and condition: the AUC of the
                         subject's class against the item's margin, 95% CI (lm/probes/sensitivity.py)
        results.json     the same rows, a summary per checkpoint and suite, the sensitivity rows, perplexities,
                         coverage
        items.jsonl      every scored pair (its record, log-probabilities, whether it was right) or SyntaxGym
                         item (per-region surprisals, each prediction's result)
        plots/*.png      accuracy against distance / number of attractors, one line per checkpoint
        surprisal.tsv    task=surprisal: one row per word of `file` (lm/probes/word_table.py)

Checkpoints are named by their training runs (lm/results/labels.py) and scored at one precision, the most exact
any of them resolves to (engine.common_precision).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lm.config import as_list
from lm.device import resolve_device, set_threads
from lm.errors import UserError
from lm.model.pointer import pointer_settings
from lm.probes import catalog, word_table
from lm.probes.engine import common_precision
from lm.probes.plots import plot_suites
from lm.probes.records import Suite
from lm.probes.report import CSV_COLUMNS
from lm.probes.scoring import Scorer
from lm.probes.sensitivity import COLUMNS as SENSITIVITY_COLUMNS
from lm.probes.sensitivity import table as sensitivity_table
from lm.probes.suite_scoring import score_suite
from lm.probes.surprisal import SurprisalScorer
from lm.probes.vocab import coverage, load_vocab
from lm.results.checkpoints import Labelled, load_labelled
from lm.results.files import clean, write_csv, write_json
from lm.results.tables import accuracy_table

TASKS = ("probes", "perplexity", "all", "surprisal")


def suites_for(cfg: DictConfig, ckpts: list[Labelled]) -> tuple[dict[str, list[Suite]], list[dict]]:
    """The suites each checkpoint is scored on (files read once; built-ins written in each model's style),
    and the coverage of the vocabularies built-in suites use."""
    specs = as_list(cfg.probes)
    if not specs:
        raise UserError(
            "probes is empty: name built-in suites (agreement, gender, recall), .jsonl files or "
            "directories, e.g. probes=[agreement,data/my_pairs.jsonl]"
        )
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
        out[c.label] = [
            s
            for spec in specs
            for s in (
                [catalog.builtin_for(spec, vocab, c.tokenizer, options, style, c.config)]
                if catalog.is_builtin(spec)
                else files[spec]
            )
        ]
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


def run_probes(cfg: DictConfig, ckpts: list[Labelled]) -> dict:
    suites, covered = suites_for(cfg, ckpts)
    group_by = as_list(cfg.group_by) or None
    precision = common_precision(cfg.precision, [c.model for c in ckpts])
    rows, summaries, items, sensitivity, shown = [], [], {}, [], {}
    for c in ckpts:
        scorer = Scorer(c.model, c.tokenizer, precision, cfg.max_tokens, progress=True)
        for suite in suites[c.label]:
            r, its, summary = score_suite(scorer, suite, group_by)
            rows += [{"ckpt": c.label} | x for x in r]
            sensitivity += [{"ckpt": c.label} | x for x in summary.pop("sensitivity", [])]
            if getattr(suite, "contrast", None):  # a RegionSuite (SyntaxGym) has none
                shown[suite.name] = suite.contrast.shown
            summaries.append({"ckpt": c.label} | summary)
            items.setdefault(suite.name, {})[c.label] = its
            print(
                f"[{c.label}] {suite.name}: {summary['pairs']} items in {summary['seconds']:.1f} s "
                f"({summary['pairs_per_s']:.0f} items/s, {summary['precision']})",
                file=sys.stderr,
                flush=True,
            )
    return {
        "rows": rows,
        "summaries": summaries,
        "items": items,
        "coverage": covered,
        "sensitivity": sensitivity,
        "contrasts": shown,
    }


def run_surprisal(cfg: DictConfig, ckpts: list[Labelled]) -> list[dict]:
    sentences = word_table.read_sentences(cfg.get("file"))
    precision = common_precision(cfg.precision, [c.model for c in ckpts])
    return [
        row
        for c in ckpts
        for row in word_table.word_rows(
            c.label, SurprisalScorer.from_model(c.model, c.tokenizer, precision, cfg.max_tokens), sentences
        )
    ]


def run_perplexity(cfg: DictConfig, ckpts: list[Labelled]) -> list[dict]:
    from lm.training.perplexity import split_perplexity

    p = cfg.perplexity
    pointer = pointer_settings(p.get("pointer"))
    out = []
    for c in ckpts:
        res = split_perplexity(
            c.model, c.tokenizer, c.config, p.split, cfg.paths.cache_dir, p.file, p.batch_size, p.bptt, pointer
        )
        out.append({"ckpt": c.label} | res)
    return out


def oov_notes(summaries: list[dict]) -> list[str]:
    def why(s: dict) -> str:
        return (
            "items not scored, a region a prediction reads holds a word"
            if "predictions" in s
            else "pairs not scored, a critical word is"
        )

    return [
        f"[{s['ckpt']}] {s['suite']}: {s['n_oov']} of {s['pairs']} {why(s)} out of the model's vocabulary "
        f"({', '.join(s['oov_words'])})"
        for s in summaries
        if s["n_oov"]
    ]


def prediction_notes(summaries: list[dict]) -> list[str]:
    """What each SyntaxGym suite's prediction=i row tests, once per suite."""
    seen, out = set(), []
    for s in summaries:
        if s.get("predictions") and s["suite"] not in seen:
            seen.add(s["suite"])
            out += [f"{s['suite']}: prediction {i} is {text}" for i, text in enumerate(s["predictions"])]
    return out


def write_items(items: dict, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for suite, by_ckpt in items.items():
            for label, its in by_ckpt.items():
                for it in its:
                    f.write(json.dumps(clean({"ckpt": label, "suite": suite} | it["_record"])) + "\n")
    return path


def plain_items(items: dict) -> dict:
    return {
        suite: {
            label: [{k: v for k, v in it.items() if not k.startswith("_")} for it in its]
            for label, its in by_ckpt.items()
        }
        for suite, by_ckpt in items.items()
    }


def evaluate(cfg: DictConfig) -> dict:
    """Run the task(s) cfg names for every checkpoint; print the table; write the outputs; log to W&B."""
    if cfg.task not in TASKS:
        raise UserError(f"unknown task {cfg.task!r}: use one of {', '.join(TASKS)}")
    if cfg.task in ("perplexity", "all"):
        pointer_settings(cfg.perplexity.get("pointer"))  # bad settings stop the run before anything is loaded
    set_threads(cfg.threads)
    ckpts = load_labelled(as_list(cfg.ckpt), as_list(cfg.labels) or None, resolve_device(cfg.device))
    out_dir = Path(cfg.output_dir)
    result = {"probes": None, "perplexity": [], "surprisal": []}
    if cfg.task in ("probes", "all"):
        result["probes"] = run_probes(cfg, ckpts)
    if cfg.task in ("perplexity", "all"):
        result["perplexity"] = run_perplexity(cfg, ckpts)
    if cfg.task == "surprisal":
        result["surprisal"] = run_surprisal(cfg, ckpts)
    written = write_outputs(cfg, result, out_dir)
    report(result, written)
    if cfg.wandb and cfg.task != "surprisal":  # a per-word table is for analysis, not a dashboard
        for c in ckpts:
            print(publish_one(cfg, c, result, written, out_dir), file=sys.stderr, flush=True)
    return result


def write_outputs(cfg: DictConfig, result: dict, out_dir: Path) -> dict[str, object]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, object] = {"plots": []}
    if result["surprisal"]:
        written["tsv"] = word_table.write_tsv(result["surprisal"], out_dir / "surprisal.tsv")
    probes = result["probes"]
    if probes:
        written["csv"] = write_csv(probes["rows"], out_dir / "results.csv", CSV_COLUMNS)
        if probes["sensitivity"]:
            written["sensitivity"] = write_csv(probes["sensitivity"], out_dir / "sensitivity.csv", SENSITIVITY_COLUMNS)
        if cfg.items:
            written["items"] = write_items(probes["items"], out_dir / "items.jsonl")
        if cfg.plots:
            written["plots"] = plot_suites(plain_items(probes["items"]), out_dir / "plots")
    summary = {
        "rows": probes["rows"] if probes else [],
        "summaries": probes["summaries"] if probes else [],
        "sensitivity": probes["sensitivity"] if probes else [],
        "coverage": probes["coverage"] if probes else [],
        "perplexity": result["perplexity"],
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    written["json"] = write_json(summary, out_dir / "results.json")
    return written


def report(result: dict, written: dict) -> None:
    probes = result["probes"]
    if probes:
        print(accuracy_table(probes["rows"]))
        if probes["sensitivity"]:
            print(sensitivity_table(probes["sensitivity"], probes["contrasts"]))
        for cov in probes["coverage"]:
            if cov["vocab"] == "english":
                print(
                    f"[{cov['ckpt']}] english vocabulary: {cov['covered']} of {cov['words']} words in the model's "
                    f"vocabulary ({cov['fraction']:.0%}); missing: {', '.join(cov['missing'][:15]) or 'none'}"
                )
        for note in oov_notes(probes["summaries"]):
            print(note)
        for note in prediction_notes(probes["summaries"]):
            print(note)
    if result["surprisal"]:
        rows = result["surprisal"]
        print(
            f"{len(rows)} words, {len({r['sentence'] for r in rows})} sentences, "
            f"{len({r['ckpt'] for r in rows})} checkpoint(s): surprisal in bits per word"
        )
        note = word_table.oov_note(rows)
        if note:
            print(note)
    for p in result["perplexity"]:
        ptr = p.get("pointer")
        with_ptr = (
            f"; cache pointer: window {ptr['window']}, theta {ptr['theta']:g}, lambda {ptr['lambda']:g}" if ptr else ""
        )
        print(
            f"[{p['ckpt']}] perplexity on {p['file'] or p['split']}: {p['ppl']:.2f} "
            f"(loss {p['loss']:.4f}, {p['tokens']} tokens{with_ptr})"
        )
    shown = [str(v) for k, v in written.items() if k != "plots" and v] + [str(p) for p in written["plots"]]
    print("wrote " + "\n      ".join(shown))


def publish_one(cfg: DictConfig, c: Labelled, result: dict, written: dict, out_dir: Path) -> str:
    from lm.probes.wandb_runs import probe_metrics, publish

    probes = result["probes"]
    rows = [r for r in probes["rows"] if r["ckpt"] == c.label] if probes else []
    # a pointer's perplexity gets its own key: it is not the model's alone
    extra = {
        f"eval/{p['split']}_ppl" + ("_pointer" if p.get("pointer") else ""): p["ppl"]
        for p in result["perplexity"]
        if p["ckpt"] == c.label
    }
    extra |= probe_metrics([r for r in probes["sensitivity"] if r["ckpt"] == c.label] if probes else [], measure="auc")
    where = publish(c.label, c.path, c.config, rows, written["plots"], out_dir / "wandb_runs", extra=extra)
    return f"[{c.label}] logged to {where}"
