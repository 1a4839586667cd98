"""A/B timing of one training step (forward, loss, backward, clipping, SGD update) of the ptb_medium model on
random tokens, in one process, the variants taking turns so that the machine's drift hits each alike:

    python -m benchmarks.step --ab dropout --precision bf16     # nn.Dropout vs lm.model.rnnlm.Dropout (torch.rand)
    python -m benchmarks.step --ab threads --precision fp32     # torch threads: 1 vs all cores
    python -m benchmarks.step --ab awd --precision fp32         # each AWD-LSTM option against plain dropout
    python -m benchmarks.step --ab adamw --precision fp32 --vocab 30000 --cutoffs 2000,10000 --size 256 \
        --dropout 0 --batch 32 --bptt 70 --steps 20     # AdamW's three kernels, on experiment=books_cpu's shape
    python -m benchmarks.step --ab hinge --precision bf16 --vocab 30000 --cutoffs 2000,10000 --size 256 \
        --dropout 0 --batch 32 --bptt 70 --steps 20     # negatives' partners: a second output pass or the same one

Prints tokens/s per variant: the median over --rounds rounds of --steps steps each.
"""

import argparse
import statistics
import time

import torch
from torch import nn

from benchmarks.recipe import MEDIUM, add_options
from lm.model.regularizers.activation import activation_penalty, temporal_penalty
from lm.model.regularizers.locked_dropout import LockedDropout
from lm.model.rnnlm import RNNLM, Dropout
from lm.training.negatives import hinge

PENALTIES = {"on": False}  # AR and TAR in the loss (the awd variants set it)
HINGE = {"mode": None}  # negatives' hinge at 6.7% of the tokens (books_cpu's share): None, "second pass", "one pass"
OPTIMIZER = {"make": lambda params: torch.optim.SGD(params, lr=1.0)}  # the adamw variants replace it


def adamw(**kernel):
    """AdamW as experiment=books_cpu sets it, with torch's default kernel (a for-loop on CPU), foreach or fused."""
    return lambda m, p: OPTIMIZER.update(make=lambda params: torch.optim.AdamW(params, lr=0.004, **kernel))


def awd(locked=False, weight_drop=0.0, embed=0.0, penalties=False):
    """A variant of the plain model: plain or locked dropout (p everywhere), weight drop, embedding dropout, AR/TAR."""

    def apply(m, p):
        drop = LockedDropout if locked else Dropout
        m.drop_in, m.drop, m.drop_hidden = drop(p), drop(p), drop(p) if locked else None
        m.rnn.dropout = 0.0 if locked else p
        m.weight_drop, m.dropout_embed = weight_drop, embed
        PENALTIES["on"] = penalties

    return apply


VARIANTS = {
    "dropout": {
        "nn.Dropout (bernoulli_)": lambda m, p: setattr(m, "drop", nn.Dropout(p)),
        "lm.model.rnnlm.Dropout (torch.rand)": lambda m, p: setattr(m, "drop", Dropout(p)),
    },
    "threads": {
        "1 thread": lambda m, p: torch.set_num_threads(1),
        f"{torch.get_num_threads()} threads": lambda m, p, n=torch.get_num_threads(): torch.set_num_threads(n),
    },
    "awd": {
        "plain dropout": awd(),
        "locked dropout": awd(locked=True),
        "weight drop 0.5": awd(weight_drop=0.5),
        "locked + weight drop": awd(locked=True, weight_drop=0.5),
        "embedding dropout 0.1": awd(embed=0.1),
        "AR + TAR": awd(penalties=True),
        "all": awd(locked=True, weight_drop=0.5, embed=0.1, penalties=True),
    },
    "hinge": {
        "no hinge": lambda m, p: HINGE.update(mode=None),
        "hinge, partners in a second pass": lambda m, p: HINGE.update(mode="second pass"),
        "hinge, partners in the same pass": lambda m, p: HINGE.update(mode="one pass"),
    },
    "adamw": {
        "AdamW, torch's default kernel": adamw(),
        "AdamW foreach=True": adamw(foreach=True),
        "AdamW fused=True": adamw(fused=True),
    },
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ab", choices=sorted(VARIANTS), required=True)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    add_options(ap, vocab=10_000, size=MEDIUM["nhid"], dropout=MEDIUM["dropout"], batch=MEDIUM["batch_size"])
    add_options(ap, bptt=MEDIUM["bptt"], layers=MEDIUM["nlayers"], steps=10, rounds=5)
    ap.add_argument("--cutoffs", help="an adaptive softmax with these cutoffs, e.g. 2000,10000 (default: full)")
    args = ap.parse_args()
    torch.manual_seed(0)
    softmax = {"softmax": "adaptive", "cutoffs": [int(c) for c in args.cutoffs.split(",")]} if args.cutoffs else {}
    model = RNNLM(
        args.vocab, args.size, args.size, args.layers, dropout=args.dropout, tie_weights=True, **softmax
    ).train()
    # Zipf-distributed ids, as in text: an adaptive softmax's cost depends on how many targets fall in its tails
    zipf = 1 / torch.arange(1, args.vocab + 1, dtype=torch.float)
    x, y = (torch.multinomial(zipf, args.batch * args.bptt, replacement=True).view(args.batch, -1) for _ in range(2))

    n = y.numel()
    sites = torch.randperm(n)[: round(0.067 * n)].sort().values  # the hinge's positions and the partners there
    partners = torch.multinomial(zipf, len(sites), replacement=True)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            feats, _, (raw, dropped) = model.features_and_outputs(x)
            if HINGE["mode"] == "one pass":  # as lm/training/module.py does
                logp, bad = model.target_and_word_log_probs(feats, y, sites, partners)
                nll = -logp.flatten()
            else:
                nll = -model.target_log_probs(feats, y).flatten()
                bad = model.target_log_probs(feats.flatten(0, 1)[sites], partners) if HINGE["mode"] else None
            loss = nll.mean()
            if bad is not None:
                loss = loss + hinge(-nll[sites], bad, 10.0).sum() / n
            if PENALTIES["on"]:
                loss = loss + 2 * activation_penalty(dropped) + temporal_penalty(raw)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MEDIUM["clip"])
        opt.step()

    speeds = {name: [] for name in VARIANTS[args.ab]}
    for _ in range(args.rounds):
        for name, apply in VARIANTS[args.ab].items():
            apply(model, args.dropout)
            opt = OPTIMIZER["make"](model.parameters())
            step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            speeds[name].append(args.steps * x.numel() / (time.perf_counter() - start))
    for name, runs in speeds.items():
        print(f"{name:32s} {statistics.median(runs):8,.0f} tokens/s   (rounds: {', '.join(f'{r:,.0f}' for r in runs)})")


if __name__ == "__main__":
    main()
