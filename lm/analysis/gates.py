"""Gate traces: every gate and state of an LSTM per layer, unit and token, and what the gates do when the
subject changes (the lecture: "forget gender of subject when subject changes", "add gender of new subject").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lm.analysis.agreement import pad
from lm.analysis.items import Ids, Item
from lm.errors import UserError
from lm.model.cells import explicit_features

DEFAULT_SENTENCES = (
    "mary sees john . john near the girls thinks that he sings .",
    "the dogs near the car that the boy likes run .",
)


def require_cell(model, cells: Sequence[str], analysis: str, path="the checkpoint") -> None:
    """UserError unless the model's cell is one of `cells`."""
    if model.cell not in cells:
        why = "; the lecture's gates f_t, i_t, C~_t, o_t exist only in the LSTM" if analysis == "gates" else ""
        raise UserError(
            f"analysis={analysis} is defined for {'/'.join(c.upper() for c in cells)} checkpoints "
            f"only, but {path} is a {model.cell.upper()} (model.cell={model.cell}){why}; use "
            "analysis=probes|ablation|gradients|agreement for it"
        )


@torch.no_grad()
def traces(model, seqs: Sequence[Ids]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every state of STATES[cell] for right-padded sequences: name -> (L, B, T, H), and the valid mask (B, T)."""
    tokens = pad(seqs)
    rep = explicit_features(model, tokens, record=True)
    valid = torch.arange(tokens.shape[1])[None, :] < torch.tensor([len(s) for s in seqs])[:, None]
    return rep.trace, valid


def sentence_rows(trace: dict[str, torch.Tensor], tokens: Sequence[str], sentence: int) -> list[dict]:
    """Long-format rows (sentence, layer, unit, position, token, f, i, c_tilde, c, o, h) of one sentence whose
    trace is name -> (L, T, H)."""
    names = list(trace)
    arr = np.stack([trace[n].numpy() for n in names], axis=-1)  # (L, T, H, S)
    L, T, H, _ = arr.shape
    rows = []
    for layer in range(L):
        for t in range(T):
            for u in range(H):
                rows.append(
                    {
                        "sentence": sentence,
                        "layer": layer,
                        "unit": u,
                        "position": t,
                        "token": tokens[t],
                        **{n: float(v) for n, v in zip(names, arr[layer, t, u])},
                    }
                )
    return rows


def change_positions(items: Sequence[Item]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(row, token index) of the new subject (where the subject changes) and of the previous subject, for
    subject_change items."""
    change, first = [], []
    for b, it in enumerate(items):
        change.append((b, it.words[it.controller]))
        prev = it.meta.get("previous_subject")
        if prev is not None:
            first.append((b, it.words[prev]))
    return change, first


def _group_mean(x: torch.Tensor, sel: torch.Tensor) -> tuple[float, float, int]:
    """Mean over the selected tokens of the unit-mean of x (B, T, H), its standard error, and the count."""
    per_token = x.mean(-1)[sel]  # (N,)
    n = int(per_token.numel())
    sem = float(per_token.std() / n**0.5) if n > 1 else float("nan")
    return float(per_token.mean()) if n else float("nan"), sem, n


def subject_change(model, items: Sequence[Item], top_units: int = 5) -> tuple[list[dict], list[dict]]:
    """Mean forget and input gate (over units) at the token where the subject changes, at the previous subject,
    and elsewhere (every other token but the <eos> primer), per layer; and per layer the units whose forget gate
    drops the most at the change. Returns (summary rows, unit rows)."""
    trace, valid = traces(model, [it.ids for it in items])
    B, T = valid.shape
    groups = {name: torch.zeros(B, T, dtype=torch.bool) for name in ("change", "previous_subject")}
    change, first = change_positions(items)
    for name, pos in (("change", change), ("previous_subject", first)):
        for b, t in pos:
            groups[name][b, t] = True
    elsewhere = valid.clone()
    elsewhere[:, 0] = False
    elsewhere &= ~groups["change"] & ~groups["previous_subject"]
    groups["elsewhere"] = elsewhere
    summary, units = [], []
    for layer in range(trace["f"].shape[0]):
        for name, sel in groups.items():
            row = {"layer": layer, "position": name}
            for gate in ("f", "i"):
                m, sem, n = _group_mean(trace[gate][layer], sel)
                row.update({f"{gate}_mean": m, f"{gate}_sem": sem, "n_tokens": n})
            summary.append(row)
        f = trace["f"][layer]  # (B, T, H)
        i = trace["i"][layer]
        d_f = f[groups["change"]].mean(0) - f[elsewhere].mean(0)  # (H,)
        d_i = i[groups["change"]].mean(0) - i[elsewhere].mean(0)
        for u in torch.argsort(d_f)[:top_units].tolist():
            units.append(
                {
                    "layer": layer,
                    "unit": u,
                    "f_change_minus_elsewhere": float(d_f[u]),
                    "i_change_minus_elsewhere": float(d_i[u]),
                }
            )
    return summary, units


def change_verdict(summary: Sequence[dict], units: Sequence[dict] = ()) -> str:
    """Per layer: does the forget gate close (and the input gate open) at the subject change, on average over
    units, and in the units that forget most?"""
    lines = []
    by = {(r["layer"], r["position"]): r for r in summary}
    for layer in sorted({r["layer"] for r in summary}):
        c, e = by[(layer, "change")], by[(layer, "elsewhere")]
        df, di = c["f_mean"] - e["f_mean"], c["i_mean"] - e["i_mean"]
        lines.append(
            f"layer {layer}: at the subject change mean f_t {c['f_mean']:.3f} vs {e['f_mean']:.3f} "
            f"elsewhere ({df:+.3f}: {'forgets more' if df < 0 else 'forgets no more'}), mean i_t "
            f"{c['i_mean']:.3f} vs {e['i_mean']:.3f} ({di:+.3f}: "
            f"{'adds more' if di > 0 else 'adds no more'}) [{c['n_tokens']} change tokens]"
        )
        top = [u for u in units if u["layer"] == layer]
        if top:
            lines.append(
                "   units that forget most there (f_t, i_t change - elsewhere): "
                + ", ".join(
                    f"u{u['unit']} ({u['f_change_minus_elsewhere']:+.2f}, {u['i_change_minus_elsewhere']:+.2f})"
                    for u in top
                )
            )
    return "\n".join(lines)


def sentence_traces(model, encoded: Sequence[tuple[Ids, Ids]]) -> list[dict[str, torch.Tensor]]:
    """One trace per sentence, name -> (L, T, H), T including the <eos> primer."""
    out = []
    for ids, _ in encoded:
        trace, _ = traces(model, [ids])
        out.append({n: v[:, 0] for n, v in trace.items()})
    return out
