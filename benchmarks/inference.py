"""Generation and probe-scoring speed on the models benchmarks/run.py trained, each against its plain version:
lm.generate against the pytorch/examples generate loop (benchmarks/generation.py), lm.probes.Scorer against
scoring each sentence alone (benchmarks/probes.py).
"""

from __future__ import annotations

from functools import partial

import torch

from benchmarks.generation import baseline_loop as examples_generate
from benchmarks.probes import make_pairs, plain_rate
from benchmarks.timing import seconds
from lm.generation.generator import generate
from lm.model.rnnlm import RNNLM
from lm.probes.scoring import Scorer


def generation_speed(model: RNNLM, tok, device: str, n: int, batch: int) -> dict:
    """New tokens/s of each way, one stream and `batch` streams of n tokens each."""

    def examples(k, b):
        with torch.inference_mode():
            examples_generate(model.to(device), k, b)

    def ours(k, b):
        generate(model, tok, "", max_new_tokens=k, num_samples=b, seed=0)

    out = {}
    for name, fn in (("examples_loop", examples), ("lm.generate", ours)):
        fn(10, 1)  # warm-up
        out[name] = {"single": n / seconds(partial(fn, n, 1), device)}
        out[name][f"batch{batch}"] = n * batch / seconds(partial(fn, n, batch), device)
    out["generate_flops_per_token"] = 2 * model.macs_per_token()
    return out


def probe_speed(model: RNNLM, tok, device: str, n: int, n_baseline: int) -> dict:
    """Minimal pairs/s: n pairs through lm.probes.Scorer, the first n_baseline one sentence at a time."""
    pairs = make_pairs(n, tok)
    scorer = Scorer(model, tok)
    scorer.score(pairs[:200])  # warm-up
    ours = len(pairs) / seconds(lambda: scorer.score(pairs), device)
    plain = plain_rate(model, tok, [[p.good, *p.bad] for p in pairs[:n_baseline]])
    return {"pairs": len(pairs), "lm.probes": ours, "one_sentence_at_a_time": plain}
