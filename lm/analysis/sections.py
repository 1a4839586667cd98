"""One runner per analysis: items -> measurements -> CSV, PNG, a printed table and a verdict (a Section).

agreement and gradients put every checkpoint in one table and plot (the RNN-vs-LSTM report); gates, probes and
ablation write one set of files per checkpoint, named by its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from lm.analysis import ablation, agreement, gates, gradients, plots, state_probes
from lm.analysis.items import encode_sentences, grammar_items
from lm.analysis.report import Section
from lm.errors import UserError
from lm.model.rnnlm import RNNLM
from lm.results.files import write_csv
from lm.results.tables import format_table


@dataclass
class Ckpt:
    label: str
    path: Path
    model: RNNLM
    tokenizer: Tokenizer
    grammar: dict  # GrammarConfig fields the items are drawn with
    run_name: str = ""  # the training config's name (the W&B group of its training run)


def _items(ck: Ckpt, kind: str, n: int, common: dict, construction: str | None = None, need_bad: bool = True):
    items, skipped = grammar_items(ck.tokenizer, kind, n, common["split"], common["seed"], ck.grammar, construction)
    if need_bad:
        items = [it for it in items if it.bad]
    if skipped:
        print(f"[{ck.label}] {skipped} {kind} items skipped: the tokenizer cannot cover their words", flush=True)
    return items


def run_agreement(cks: Sequence[Ckpt], s: dict, common: dict, out: Path) -> Section:
    sec = Section("agreement")
    results, tables, rows = {}, {}, []
    for ck in cks:
        items = _items(ck, "agreement", s["n_items"], common)
        m = agreement.margins(ck.model, items)
        correct = m > 0
        results[ck.label] = {"distance": [it.distance for it in items], "correct": correct, "cell": ck.model.cell}
        tables[ck.label] = agreement.by_distance([it.distance for it in items], correct, s["bin_width"])
        rows += [{"model": ck.label, "cell": ck.model.cell, **r} for r in tables[ck.label]]
        attr = np.array([(it.meta["n_attractors"] or 0) > 0 for it in items])
        sec.summary[ck.label] = {
            "acc": float(correct.mean()),
            "n": len(items),
            "acc_attractors": float(correct[attr].mean()) if attr.any() else None,
        }
    sec.files.append(write_csv(rows, out / "agreement.csv"))
    sec.files.append(plots.agreement_plot(tables, out / "agreement.png"))
    sec.tables["agreement"] = rows
    sec.say("== agreement accuracy against distance (subject -> verb, words)")
    sec.say(_side_by_side(tables))
    verdict = agreement.long_range_verdict(results, s["long_from"])
    sec.summary["verdict"] = verdict
    sec.say(verdict)
    return sec


def _side_by_side(tables: dict[str, Sequence[dict]]) -> str:
    bins = sorted({(r["lo"], r["hi"]) for rows in tables.values() for r in rows})
    out = []
    for lo, hi in bins:
        row = {"distance": f"{lo}" if lo == hi else f"{lo}-{hi}"}
        for label, rows in tables.items():
            r = next((r for r in rows if (r["lo"], r["hi"]) == (lo, hi)), None)
            row[f"{label} acc"] = r["acc"] if r else float("nan")
            row[f"{label} n"] = r["n"] if r else 0
        out.append(row)
    return format_table(out)


def run_gradients(cks: Sequence[Ckpt], s: dict, common: dict, out: Path) -> Section:
    sec = Section("gradients")
    tables, words, rows, item_rows = {}, {}, [], []
    for ck in cks:
        items = _items(ck, "agreement", s["n_items"], common, need_bad=False)
        g = gradients.gradient_norms(ck.model, items)
        tables[ck.label] = gradients.by_distance(g["distance"], g["norm"])
        words[ck.label] = gradients.by_distance(g["lag"], g["lag_norm"])
        rows += [{"model": ck.label, "cell": ck.model.cell, "of": "subject", **r} for r in tables[ck.label]]
        rows += [{"model": ck.label, "cell": ck.model.cell, "of": "any word", **r} for r in words[ck.label]]
        item_rows += [
            {"model": ck.label, "distance": int(d), "norm": float(n), "logp": float(p)}
            for d, n, p in zip(g["distance"], g["norm"], g["logp"])
        ]
        slope = gradients.decay_rate(tables[ck.label], s["min_n"])
        sec.summary[ck.label] = {"log10_slope_per_word": slope, "n": len(items)}
    sec.files.append(write_csv(rows, out / "gradients.csv"))
    sec.files.append(write_csv(item_rows, out / "gradients_items.csv"))
    shown = {label: [r for r in t if r["n"] >= s["min_n"]] for label, t in tables.items()}
    shown_words = {label: [r for r in t if r["n"] >= s["min_n"]] for label, t in words.items()}
    sec.files.append(plots.gradient_plot(shown, out / "gradients.png", shown_words))
    sec.tables["gradients"] = rows
    sec.say("== gradient through time: geometric mean of || d log p(verb) / d x_subject || by distance")
    merged = {}
    for label, t in tables.items():
        for r in t:
            merged.setdefault(r["distance"], {"distance": r["distance"]})[label] = r["geo_mean"]
    sec.say(format_table([merged[d] for d in sorted(merged)]))
    for label, v in sec.summary.items():
        sec.say(
            f"{label}: log10 norm changes by {v['log10_slope_per_word']:+.3f} per word of distance "
            f"(x{10 ** v['log10_slope_per_word']:.3f} per word)"
        )
    return sec


def run_gates(cks: Sequence[Ckpt], s: dict, common: dict, out: Path) -> Section:
    sec = Section("gates")
    for ck in cks:
        encoded = encode_sentences(ck.tokenizer, list(s["sentences"]), "gates.sentences entry")
        rows = []
        for k, (tr, (ids, _)) in enumerate(zip(gates.sentence_traces(ck.model, encoded), encoded)):
            tokens = [ck.tokenizer.id_to_token(i) for i in ids]
            rows += gates.sentence_rows(tr, tokens, k)
            sec.files.append(
                plots.gate_heatmap(
                    {n: v.numpy() for n, v in tr.items()}, tokens, out / f"gates_{ck.label}_{k}.png", s["max_units"]
                )
            )
        sec.files.append(write_csv(rows, out / f"gates_{ck.label}.csv"))
        sec.say(
            f"== [{ck.label}] gates and states of {len(encoded)} sentence(s): {len(rows)} rows in "
            f"gates_{ck.label}.csv (sentence, layer, unit, position, token, f, i, c_tilde, c, o, h)"
        )
        try:
            items = _items(ck, "gender", s["n_items"], common, construction="subject_change", need_bad=False)
        except UserError as e:
            sec.say(f"[{ck.label}] subject change skipped: {e}")
            continue
        summary, units = gates.subject_change(ck.model, items, s["top_units"])
        sec.files.append(write_csv(summary, out / f"subject_change_{ck.label}.csv"))
        sec.files.append(write_csv(units, out / f"subject_change_units_{ck.label}.csv"))
        sec.files.append(plots.subject_change_plot(summary, out / f"subject_change_{ck.label}.png", units))
        sec.tables[f"subject_change_{ck.label}"] = summary
        sec.say(f"== [{ck.label}] forget / input gates where the subject changes ({len(items)} lines)")
        sec.say(format_table(summary, ["layer", "position", "n_tokens", "f_mean", "i_mean", "f_sem", "i_sem"]))
        verdict = gates.change_verdict(summary, units)
        sec.say(verdict)
        sec.summary[ck.label] = {"subject_change": summary, "units": units, "verdict": verdict}
    return sec


def run_probes(cks: Sequence[Ckpt], s: dict, common: dict, out: Path) -> Section:
    sec = Section("probes")
    for ck in cks:
        features = [f for f in s["features"] if f == "h" or ck.model.cell == "lstm"]
        if len(features) < len(s["features"]):
            sec.say(f"[{ck.label}] a {ck.model.cell.upper()} has no cell state C_t: probing h_t only")
        kind = {"number": "agreement", "gender": "gender"}
        by_task = {t: _items(ck, kind[t], s["n_items"], common, need_bad=False) for t in s["tasks"]}
        rows = state_probes.run_probes(
            ck.model,
            by_task,
            features,
            max_offset=s["max_offset"],
            min_items=s["min_items"],
            test_fraction=s["test_fraction"],
            l2=s["l2"],
            seed=common["seed"],
        )
        sec.files.append(write_csv(rows, out / f"probes_{ck.label}.csv"))
        sec.files.append(plots.probe_plot(rows, out / f"probes_{ck.label}.png", ck.label))
        sec.tables[f"probes_{ck.label}"] = rows
        sec.say(f"== [{ck.label}] state probes: held-out accuracy by position after the controller")
        sec.say(_probe_table(rows))
        sec.summary[ck.label] = {"rows": len(rows)}
    return sec


def _probe_table(rows: Sequence[dict]) -> str:
    """One line per (task, position): accuracy of each (feature, layer), chance and the shuffled control."""
    table = {}
    for r in rows:
        key = (r["task"], r["position"])
        t = table.setdefault(
            key,
            {
                "task": r["task"],
                "position": r["position"],
                "n_test": r["n_test"],
                "chance": r["chance"],
                "shuffled": [],
            },
        )
        t[f"{r['feature']}{r['layer']}"] = r["acc"]
        t["shuffled"].append(r["shuffled_acc"])
    out = []
    for t in table.values():
        t["shuffled"] = float(np.mean(t.pop("shuffled")))
        out.append(t)
    return format_table(out)


def run_ablation(cks: Sequence[Ckpt], s: dict, common: dict, out: Path) -> Section:
    sec = Section("ablation")
    for ck in cks:
        items = _items(ck, "agreement", s["n_items"], common)
        layers = s.get("layers")
        units = ablation.all_units(ck.model, None if layers is None else list(layers))
        base, rows = ablation.rank_units(ck.model, items, units, max_rows=s["max_rows"])
        sec.files.append(write_csv(rows, out / f"ablation_{ck.label}.csv"))
        sec.files.append(plots.ablation_plot(base, rows, out / f"ablation_{ck.label}.png", s["top_k"], ck.label))
        sec.tables[f"ablation_{ck.label}"] = rows[: s["top_k"]]
        sec.say(f"== [{ck.label}] unit ablation: {len(units)} units, {len(items)} agreement items")
        sec.say(
            format_table(
                rows[: s["top_k"]],
                ["rank", "layer", "unit", "acc", "drop", "acc_attractors", "drop_attractors", "margin_drop"],
            )
        )
        verdict = ablation.few_units_verdict(base, rows, s["threshold"])
        sec.say(verdict)
        sec.summary[ck.label] = {"baseline": base, "top": rows[: s["top_k"]], "verdict": verdict}
    return sec


RUNNERS = {
    "agreement": run_agreement,
    "gradients": run_gradients,
    "gates": run_gates,
    "probes": run_probes,
    "ablation": run_ablation,
}
SUPPORTED = {"gates": ("lstm",)}  # the others replay any cell
