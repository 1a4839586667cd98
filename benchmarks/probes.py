"""How fast minimal pairs are scored: BLiMP-sized sentence pairs through a 2x650 tied word model (PTB size).

    python -m benchmarks.probes                                  67,000 pairs, random 2x650 model, V=10,000
    python -m benchmarks.probes --ckpt outputs/ptb/<time> --pairs pairs.jsonl --json bench.json
    python -m benchmarks.probes --ckpt <run> --baseline 2000 --syntaxgym 2000   + SyntaxGym items, and the
                                                                    plain way (one sentence at a time, fp32)

SyntaxGym-shaped items: two pairs make one item of four conditions (match / mismatch for a singular and a plural
subject), each sentence in three regions (subject and attractors, verb, tail), and the number_prep-style
prediction `[(2;%match_a%) < (2;%mismatch_a%)] & [(2;%match_b%) < (2;%mismatch_b%)]`.

Pairs come from a JSONL file (--pairs) or are generated: number-agreement sentences of about 8-10 words in
PTB's vocabulary (the English probe words PTB has), differing in the verb, BLiMP's {sentence_good,
sentence_bad} shape. The vocabulary is PTB's training words when ../shared/data/ptb is there, else the probe
words padded to --vocab-size. Prints pairs/s, seconds, threads and how far the fast path's log-probabilities
are from fp32's (on --compare pairs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import ROOT
from benchmarks.medium import checkpoint_or_medium
from lm.data.tokenizer import kind_of
from lm.errors import UserError, exit_on_user_error
from lm.model.rnnlm import RNNLM
from lm.probes import formula, regions
from lm.probes.records import Pair, read_jsonl
from lm.probes.scoring import Scorer
from lm.probes.suites import agreement
from lm.probes.surprisal import SurprisalScorer
from lm.probes.vocab import lacks, load_vocab, restrict

PTB = ROOT.parent / "shared" / "data" / "ptb" / "train.txt"
TAILS = (
    ("today",),
    ("last", "year"),
    ("in", "the", "city"),
    ("with", "the", "company"),
    ("at", "the", "bank"),
    ("in", "the", "market"),
    ("for", "the", "children"),
    ("from", "the", "office"),
)


def vocab_lines(size: int) -> list[str]:
    if PTB.is_file():
        return PTB.read_text().splitlines()
    words = sorted(set(load_vocab("english").words) | {w for t in TAILS for w in t})  # words: a set or a mapping
    return [" ".join(words), " ".join(f"w{i}" for i in range(size - len(words) - 2))]


def make_pairs(n: int, tokenizer, seed: int = 0) -> list[Pair]:
    """BLiMP-sized agreement pairs: a prefix, the verb (good / bad) and a tail, 8-10 words in all."""
    # a word-level model scores only the words it has; sub-word and character models score any
    ok = (lambda w: tokenizer.token_to_id(w) is not None) if kind_of(tokenizer) == "word" else (lambda w: True)  # noqa: E731
    vocab = restrict(load_vocab("english"), ok)
    if missing := lacks(vocab, "agreement"):
        raise UserError(f"the model's vocabulary has no English words of {', '.join(missing)} to build agreement pairs")
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        for item in agreement.generate(vocab, n, seed + len(pairs), max_phrases=2, max_distance=8):
            room = rng.randint(8, 10) - len(item.words) - 1
            if room < 0 or len(pairs) >= n:
                continue
            tail = []
            while fits := [t for t in TAILS if len(tail) + len(t) <= room]:
                tail += rng.choice(fits)
            head = " ".join(item.words)
            pairs.append(
                Pair(" ".join([head, item.good, *tail]), (" ".join([head, item.bad[0], *tail]),), None, dict(item.meta))
            )
    return pairs


def region_suite(pairs: list[Pair]) -> regions.RegionSuite:
    def condition(name, sentence, verb_at):
        words = sentence.split()
        return regions.Condition(
            name, ((1, " ".join(words[:verb_at])), (2, words[verb_at]), (3, " ".join(words[verb_at + 1 :])))
        )

    items = []
    for k, (a, b) in enumerate(zip(pairs[::2], pairs[1::2])):
        conds = []
        for tag, pair in (("a", a), ("b", b)):
            good, bad = pair.good.split(), pair.bad[0].split()
            at = next(i for i, (g, w) in enumerate(zip(good, bad)) if g != w)  # the verb
            conds += [condition(f"match_{tag}", pair.good, at), condition(f"mismatch_{tag}", pair.bad[0], at)]
        items.append(regions.RegionItem(k, tuple(conds)))
    text = "[(2;%match_a%) < (2;%mismatch_a%)] & [(2;%match_b%) < (2;%mismatch_b%)]"
    return regions.RegionSuite("agreement_regions", items, [regions.Prediction(text, formula.parse_formula(text))])


@torch.inference_mode()
def plain_sentence_logprob(model: RNNLM, tok, text: str) -> float:
    """The plain way: one sentence alone, fp32, the whole distribution at every position; <eos> before and after,
    as lm.probes scores it."""
    eos = tok.token_to_id("<eos>")
    ids = torch.tensor(
        [[eos, *tok.encode(text, add_special_tokens=False).ids, eos]], device=model.embedding.weight.device
    )
    logp = model.log_probs(model.features(ids[:, :-1])[0]).float()
    return float(logp.gather(2, ids[:, 1:, None]).sum())


def plain_rate(model, tok, sentences_per_item: list[list[str]]) -> float:
    """Items/s, each item's sentences scored the plain way (float() of each score waits for the device)."""
    start = time.perf_counter()
    for sentences in sentences_per_item:
        for text in sentences:
            plain_sentence_logprob(model, tok, text)
    return len(sentences_per_item) / (time.perf_counter() - start)


def build(args):
    return checkpoint_or_medium(args.ckpt, lambda: vocab_lines(args.vocab_size), args.vocab_size)


def timed(scorer: Scorer, pairs: list[Pair], cpu: list | None = None):
    start, cpu_start = time.perf_counter(), time.process_time()
    scores = scorer.score(pairs)
    if cpu is not None:
        cpu.append(time.process_time() - cpu_start)  # CPU seconds of this process: on a busy machine < threads x wall
    return scores, time.perf_counter() - start


def compare(model, tok, pairs, fast: str, max_tokens: int) -> dict:
    ref, t_ref = timed(Scorer(model, tok, "fp32", max_tokens), pairs)
    got, t_got = timed(Scorer(model, tok, fast, max_tokens), pairs)
    d = np.array([[a.good - b.good, a.bad[0] - b.bad[0]] for a, b in zip(ref, got)]).ravel()
    margins = np.array([abs(a.margin) for a in ref])
    return {
        "pairs": len(pairs),
        "max_abs_diff": float(np.abs(d).max()),
        "mean_abs_diff": float(np.abs(d).mean()),
        "flips": int(sum(a.correct != b.correct for a, b in zip(ref, got))),
        "median_abs_margin": float(np.median(margins)),
        "fp32_pairs_per_s": len(pairs) / t_ref,
        "fast_pairs_per_s": len(pairs) / t_got,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=67_000, help="pairs to generate (BLiMP has 67,000)")
    ap.add_argument("--pairs", help="score this JSONL file instead of generated pairs")
    ap.add_argument("--ckpt", help="a checkpoint or run directory instead of a random 2x650 model")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    ap.add_argument("--max-tokens", type=int, default=131072, help="tokens per batch of work")
    ap.add_argument("--compare", type=int, default=2000, help="pairs scored in fp32 too, to measure the difference")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--vocab-size", type=int, default=10_000)
    ap.add_argument("--baseline", type=int, default=0, help="pairs (and items) scored the plain way too")
    ap.add_argument("--syntaxgym", type=int, default=0, help="SyntaxGym-shaped items to score (4 sentences each)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok, what = build(args)
    pairs = read_jsonl(args.pairs).pairs if args.pairs else make_pairs(args.n, tok)
    words = np.mean([len(((p.prefix or "") + " " + p.good).split()) for p in pairs])
    scorer = Scorer(model, tok, args.precision, args.max_tokens)
    cpu: list[float] = []
    scores, seconds = timed(scorer, pairs, cpu)
    out = {
        "model": what,
        "vocab": tok.get_vocab_size(),
        "pairs": len(pairs),
        "words_per_sentence": float(words),
        "precision": scorer.precision,
        "seconds": seconds,
        "pairs_per_s": len(pairs) / seconds,
        "cpu_seconds": cpu[0],
        "pairs_per_cpu_s": len(pairs) / cpu[0],
        "threads": torch.get_num_threads(),
        "accuracy": float(np.mean([bool(s.correct) for s in scores])),
        "loadavg": os.getloadavg(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    if args.compare:
        out["vs_fp32"] = compare(model, tok, pairs[: args.compare], scorer.precision, args.max_tokens)
    print(
        f"{out['pairs']} pairs ({words:.1f} words/sentence) in {seconds:.1f} s: {out['pairs_per_s']:.0f} pairs/s, "
        f"{scorer.precision}, {out['threads']} threads, load {out['loadavg'][0]:.2f}, {what}; "
        f"{cpu[0]:.1f} CPU s ({out['pairs_per_cpu_s']:.0f} pairs per CPU second)"
    )
    if args.compare:
        c = out["vs_fp32"]
        print(
            f"vs fp32 on {c['pairs']} pairs: max |dlogp| {c['max_abs_diff']:.4f}, mean {c['mean_abs_diff']:.4f}, "
            f"{c['flips']} decisions flipped (median |margin| {c['median_abs_margin']:.3f}); fp32 "
            f"{c['fp32_pairs_per_s']:.0f} pairs/s, {scorer.precision} {c['fast_pairs_per_s']:.0f} pairs/s"
        )
    if args.baseline:
        sample = [[p.good, p.bad[0]] for p in pairs[: args.baseline]]
        out["plain_pairs_per_s"] = plain_rate(model, tok, sample)
        print(f"plain, one sentence at a time in fp32: {out['plain_pairs_per_s']:.0f} pairs/s on {len(sample)} pairs")
    if args.syntaxgym:
        suite = region_suite(make_pairs(2 * args.syntaxgym, tok, seed=1))
        start = time.perf_counter()
        records = regions.score_items(SurprisalScorer(scorer), suite)
        out["syntaxgym"] = {
            "items": len(records),
            "items_per_s": len(records) / (time.perf_counter() - start),
            "accuracy": float(np.mean([bool(r["correct"]) for r in records])),
        }
        if args.baseline:
            sample = [
                [" ".join(c for _, c in cond.regions) for cond in item.conditions]
                for item in suite.items[: args.baseline]
            ]
            out["syntaxgym"]["plain_items_per_s"] = plain_rate(model, tok, sample)
        print(f"SyntaxGym-shaped items: {out['syntaxgym']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    sys.exit(0 if exit_on_user_error(main)() else 1)
