"""What benchmarks/run.py reports: the markdown tables it prints and the JSON it writes (--json)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.timing import machine


def table(results: dict, ceilings: dict) -> str:
    lines = [
        "| case | run | train tokens/s | vs plain loop | val ppl | model GFLOP/s | of the matmul ceiling |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, runs in results.items():
        base = runs.get("plain loop")
        for name, r in runs.items():
            if "tokens_per_s" not in r:
                continue
            ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
            lines.append(
                f"| {case} | {name} | {r['tokens_per_s']:,.0f} | {ratio} | {r['val_ppl']:.2f} | "
                f"{r['flops_per_s'] / 1e9:,.1f} | {r['flops_per_s'] / ceilings[r['precision']]:.0%} |"
            )
    lines += [
        "",
        "| case | run | generate tokens/s: examples loop / lm.generate (1 stream; batch) | probe pairs/s: "
        "one sentence at a time / lm.probes |",
        "| --- | --- | --- | --- |",
    ]
    for case, runs in results.items():
        for name, r in runs.items():
            g, p = r.get("generation"), r.get("probes")
            if not g:
                continue
            batch = next(k for k in g["lm.generate"] if k.startswith("batch"))
            gen = (
                f"{g['examples_loop']['single']:,.0f} / {g['lm.generate']['single']:,.0f}; "
                f"{g['examples_loop'][batch]:,.0f} / {g['lm.generate'][batch]:,.0f} ({batch})"
            )
            pr = f"{p['one_sentence_at_a_time']:,.0f} / {p['lm.probes']:,.0f}" if p else "-"
            lines.append(f"| {case} | {name} | {gen} | {pr} |")
    return "\n".join(lines)


def save(args, ceilings: dict, cases: dict) -> dict:
    """The results with the machine, its ceilings and the steps, written to --json when given."""
    results = {"machine": machine(args.device), "ceilings": ceilings, "steps": args.steps, "cases": cases}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results
