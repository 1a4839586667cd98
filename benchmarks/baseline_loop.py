"""Plain-PyTorch LSTM language model loop: the speed/perplexity baseline for the
Lightning path. Deliberately plain (no Lightning, no Hydra, no `lm` imports) so it
measures only what torch itself costs. Style follows pytorch/examples
word_language_model; the defaults are the ptb_medium recipe (benchmarks/recipe.py reads
them from conf/experiment/ptb_medium.yaml).

Example:
    python -m benchmarks.baseline_loop --data /work/shared/data/ptb --tied --max-steps 200 --json out.json
"""

import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.recipe import MEDIUM, add_options


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout, tied):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)
        if tied:  # Press & Wolf 2016: share the input and output word matrices.
            if nhid != ninp:
                raise ValueError("--tied needs --nhid == --emsize")
            self.decoder.weight = self.encoder.weight
        # Only embedding/decoder get a custom init; the LSTM keeps nn.LSTM's default.
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        self.nlayers, self.nhid = nlayers, nhid

    def forward(self, x, hidden):  # x: (B, T) -> logits (B, T, V)
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden

    def init_hidden(self, bsz):  # (h, c), each (L, B, H)
        w = next(self.parameters())
        return (w.new_zeros(self.nlayers, bsz, self.nhid), w.new_zeros(self.nlayers, bsz, self.nhid))


def tokenize(path, vocab, grow):
    """Whole file -> 1-D LongTensor of ids; every line ends with <eos>."""
    ids = []
    with open(path, encoding="utf8") as f:
        for line in f:
            for w in line.split() + ["<eos>"]:
                if w not in vocab:
                    if not grow:
                        raise KeyError(f"{path}: word {w!r} not in the train vocabulary")
                    vocab[w] = len(vocab)
                ids.append(vocab[w])
    return torch.tensor(ids, dtype=torch.long)


def batchify(stream, bsz):
    """Lay one contiguous stream out as B parallel streams, shape (B, N // B).
    Stream a b c d ... x (N=24), B=4; the tail beyond a multiple of B is dropped:
        row 0: a b c d e f   <- segment 0   (pytorch/examples stores this transposed,
        row 1: g h i j k l   <- segment 1    (N/B, B), i.e. segment j in column j;
        row 2: m n o p q r   <- segment 2    we keep batch first to match
        row 3: s t u v w x   <- segment 3    batch_first=True)
    Chunk i is data[:, i:i+T], its targets data[:, i+1:i+1+T], so row b keeps
    reading the same segment across chunks and the carried LSTM state stays valid."""
    n = stream.size(0) // bsz
    return stream[: n * bsz].view(bsz, n).contiguous()


def get_batch(data, i, bptt):
    seq_len = min(bptt, data.size(1) - 1 - i)  # last chunk may be shorter
    return data[:, i : i + seq_len], data[:, i + 1 : i + 1 + seq_len]


def detach(hidden):  # truncated BPTT: keep the values, cut the graph
    return tuple(h.detach() for h in hidden)


@torch.no_grad()
def evaluate(model, data, bsz, bptt):
    """Perplexity over the whole split, state carried across chunks from zeros."""
    model.eval()
    hidden, nll, count = model.init_hidden(bsz), 0.0, 0
    for i in range(0, data.size(1) - 1, bptt):
        x, y = get_batch(data, i, bptt)
        logits, hidden = model(x, hidden)
        nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    loss = nll / count
    return loss, math.exp(loss)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dir with train.txt, valid.txt, test.txt")
    add_options(p, **{k: MEDIUM[k] for k in ("emsize", "nhid", "nlayers", "dropout")})
    p.add_argument("--tied", action="store_true")
    add_options(p, **{k: MEDIUM[k] for k in ("lr", "clip", "batch_size", "bptt", "eval_batch_size")}, seed=1111)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps, then evaluate")
    add_options(p, max_epochs=MEDIUM["max_epochs"])
    p.add_argument("--warmup-steps", type=int, default=5, help="steps excluded from tokens/s")
    p.add_argument("--log-interval", type=int, default=200)
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    vocab = {}
    train = batchify(tokenize(os.path.join(args.data, "train.txt"), vocab, grow=True), args.batch_size)
    valid = batchify(tokenize(os.path.join(args.data, "valid.txt"), vocab, grow=False), args.eval_batch_size)
    train, valid = train.to(args.device), valid.to(args.device)
    print(f"vocab {len(vocab)} | train {tuple(train.shape)} | valid {tuple(valid.shape)}")

    model = RNNModel(len(vocab), args.emsize, args.nhid, args.nlayers, args.dropout, args.tied).to(args.device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    lr, best_val = args.lr, float("inf")
    step, tokens, timed_tokens, timed_s = 0, 0, 0, 0.0
    val_loss = val_ppl = None
    log_loss, log_tokens, log_s = 0.0, 0, 0.0

    for epoch in range(1, args.max_epochs + 1):
        model.train()
        hidden = model.init_hidden(args.batch_size)  # fresh zero state every epoch
        for i in range(0, train.size(1) - 1, args.bptt):
            t0 = time.perf_counter()  # time only the training step (batch, fwd, bwd, clip, update)
            x, y = get_batch(train, i, args.bptt)
            hidden = detach(hidden)
            logits, hidden = model(x, hidden)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))  # mean over B*T
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            loss_val = loss.item()  # forces completion before the clock stops
            dt = time.perf_counter() - t0

            step += 1
            tokens += y.numel()
            if step > args.warmup_steps:
                timed_tokens += y.numel()
                timed_s += dt
            log_loss, log_tokens, log_s = log_loss + loss_val, log_tokens + y.numel(), log_s + dt
            if step % args.log_interval == 0:
                cur = log_loss / args.log_interval  # mean of per-step mean losses
                print(
                    f"epoch {epoch} | step {step} | lr {lr:g} | loss {cur:.3f} | ppl {math.exp(cur):.2f}"
                    f" | {log_tokens / log_s:.0f} tok/s"
                )
                log_loss, log_tokens, log_s = 0.0, 0, 0.0
            if args.max_steps is not None and step >= args.max_steps:
                break

        val_loss, val_ppl = evaluate(model, valid, args.eval_batch_size, args.bptt)
        print(f"end of epoch {epoch} | step {step} | valid loss {val_loss:.3f} | valid ppl {val_ppl:.2f}")
        if val_loss < best_val:
            best_val = val_loss
        else:  # classic recipe: anneal only at evaluation points
            lr /= 4.0
            for g in opt.param_groups:
                g["lr"] = lr
        if args.max_steps is not None and step >= args.max_steps:
            break

    results = {
        "steps": step,
        "tokens": tokens,
        "timed_steps": max(0, step - args.warmup_steps),
        "timed_tokens": timed_tokens,
        "train_tokens_per_s": timed_tokens / timed_s if timed_s > 0 else None,
        "val_loss": val_loss,
        "val_ppl": val_ppl,
        "vocab_size": len(vocab),
        "final_lr": lr,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "args": vars(args),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
