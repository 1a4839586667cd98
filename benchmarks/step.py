"""A/B timing of one training step (forward, loss, backward, clipping, SGD update) of the ptb_medium model on
random tokens, in one process, the variants taking turns so that the machine's drift hits each alike:

    python -m benchmarks.step --ab dropout --precision bf16     # nn.Dropout vs lm.model.rnnlm.Dropout (torch.rand)
    python -m benchmarks.step --ab threads --precision fp32     # torch threads: 1 vs all cores
    python -m benchmarks.step --ab awd --precision fp32         # each AWD-LSTM option against plain dropout

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

PENALTIES = {"on": False}  # AR and TAR in the loss (the awd variants set it)


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
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ab", choices=sorted(VARIANTS), required=True)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    add_options(ap, vocab=10_000, size=MEDIUM["nhid"], dropout=MEDIUM["dropout"], batch=MEDIUM["batch_size"])
    add_options(ap, bptt=MEDIUM["bptt"], steps=10, rounds=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = RNNLM(args.vocab, args.size, args.size, MEDIUM["nlayers"], dropout=args.dropout, tie_weights=True).train()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x, y = (torch.randint(args.vocab, (args.batch, args.bptt)) for _ in range(2))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            feats, _, (raw, dropped) = model.features_and_outputs(x)
            loss = -model.target_log_probs(feats, y).mean()
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
            step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            speeds[name].append(args.steps * x.numel() / (time.perf_counter() - start))
    for name, runs in speeds.items():
        print(f"{name:32s} {statistics.median(runs):8,.0f} tokens/s   (rounds: {', '.join(f'{r:,.0f}' for r in runs)})")


if __name__ == "__main__":
    main()
