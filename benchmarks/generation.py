"""Generation speed and quality on the CPU: the pytorch/examples sampling loop vs lm.generate's engines.

    python -m benchmarks.generation                         # random 2x650 model, V from PTB's train split
    python -m benchmarks.generation --ckpt outputs/ptb_medium/<time> --json bench.json

Prints markdown tables: tokens/s and ms/token single stream at each length and batched, then the mean
log-prob per token of PTB test text (teacher forced, one step per token) under each engine vs fp32.
Speed does not depend on the weights, so a random model is fine for timing; the quality comparison
means most with a trained checkpoint (--ckpt).
"""

import argparse
import json
import math
import os
import platform
import statistics
import time

import torch

from benchmarks.medium import checkpoint_or_medium
from lm.data.tokenizer import encode_lines
from lm.generation.fast_decode import make_engine
from lm.generation.generator import generate
from lm.model.rnnlm import count_parameters

PTB = "/work/shared/data/ptb"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", help="a trained checkpoint or run directory (default: a random 2x650 model)")
    p.add_argument("--data", default=PTB, help="dir with train.txt (vocabulary of the random model), test.txt")
    p.add_argument("--lengths", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batch-steps", type=int, default=200, help="new tokens per sample when batched")
    p.add_argument("--engines", nargs="+", default=["fp32", "bf16"], help="of reference, fp32, bf16")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per short setting (median reported)")
    p.add_argument("--lines", type=int, default=100, help="text lines for the log-prob comparison")
    p.add_argument("--text", help="text for the log-prob comparison (default: DATA/test.txt)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own choice)")
    p.add_argument("--json", help="write the results here")
    return p.parse_args()


def build(args):
    def ptb_train():
        with open(os.path.join(args.data, "train.txt"), encoding="utf-8") as f:
            return f.read().splitlines()

    return checkpoint_or_medium(args.ckpt, ptb_train)


@torch.no_grad()
def baseline_loop(model, n, batch, seed=0):
    """pytorch/examples word_language_model/generate.py: the whole fp32 model called on one token at a time,
    then softmax (exp) and torch.multinomial. Returns seconds."""
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    hidden = model.init_state(batch, device)
    inp = torch.randint(model.vocab_size, (batch, 1), dtype=torch.long, device=device)
    start = time.perf_counter()
    for _ in range(n):
        output, hidden = model(inp, hidden)  # (B, 1, V)
        word_weights = output.squeeze(1).div(1.0).exp()
        inp = torch.multinomial(word_weights, 1)  # (B, 1)
    return time.perf_counter() - start


def engine_run(model, tok, engine, n, batch, seed=0):
    start = time.perf_counter()
    samples = generate(model, tok, "", max_new_tokens=n, num_samples=batch, seed=seed, engine=engine)
    seconds = time.perf_counter() - start
    assert sum(len(s.ids) for s in samples) == n * batch
    return seconds


def timed(fn, n, batch, repeats):
    """Median seconds over `repeats` runs (one run when it is long), after a short warm-up."""
    fn(min(n, 20), batch)
    runs = [fn(n, batch) for _ in range(repeats if n * batch <= 4000 else 1)]
    return statistics.median(runs)


def speed_rows(model, tok, engines, args):
    settings = [(n, 1) for n in args.lengths] + [(args.batch_steps, args.batch)]
    built = {name: make_engine(model, name) for name in engines}
    rows = []
    for n, batch in settings:
        row = {"new_tokens": n, "batch": batch, "tokens": n * batch}
        runs = {"baseline": lambda k, b: baseline_loop(model, k, b)}
        runs.update({name: (lambda k, b, e=e: engine_run(model, tok, e, k, b)) for name, e in built.items()})
        for name, fn in runs.items():
            seconds = timed(fn, n, batch, args.repeats)
            row[name] = {"seconds": seconds, "tokens_per_s": n * batch / seconds, "ms_per_step": 1e3 * seconds / n}
            print(f"  {name:9s} {n:5d} x {batch:2d}: {n * batch / seconds:8.0f} tokens/s", flush=True)
        rows.append(row)
    return rows


@torch.inference_mode()
def text_logprobs(model, engine, ids):
    """Log-prob of each token of `ids` given the ones before, stepping the engine one token at a time.
    ids (N,) starts with <eos>. Returns (log-probs (N-1,), logits (N-1, V))."""
    logits, state = engine.prefill(ids[None, :1], batch=1)
    out = [logits[0]]
    for tok in ids[1:-1]:
        logits, state = engine.step(tok.view(1), state)
        out.append(logits[0])
    logits = torch.stack(out)
    return logits.log_softmax(-1).gather(1, ids[1:, None]).squeeze(1), logits


@torch.inference_mode()
def quality_rows(model, tok, engines, args):
    with open(args.text, encoding="utf-8") as f:
        lines = [line.strip() for line in f][: args.lines]
    ids = torch.tensor([tok.token_to_id("<eos>")] + sum(encode_lines(tok, lines), []))
    ref_logits = model(ids[None, :-1])[0][0].float()  # one fp32 forward pass over the whole text
    ref_lp = ref_logits.log_softmax(-1).gather(1, ids[1:, None]).squeeze(1)
    rows = [
        {
            "engine": "fp32 forward (reference)",
            "mean_logprob": ref_lp.mean().item(),
            "top1_agree": 1.0,
            "max_abs_logit_diff": 0.0,
        }
    ]
    for name in engines:
        lp, logits = text_logprobs(model, make_engine(model, name), ids)
        rows.append(
            {
                "engine": name,
                "mean_logprob": lp.mean().item(),
                "top1_agree": (logits.argmax(-1) == ref_logits.argmax(-1)).float().mean().item(),
                "max_abs_logit_diff": (logits - ref_logits).abs().max().item(),
            }
        )
    for r in rows:
        r["ppl"] = math.exp(-r["mean_logprob"])
        r["delta"] = r["mean_logprob"] - rows[0]["mean_logprob"]
    return {"text": args.text, "tokens": len(ids) - 1, "lines": len(lines), "rows": rows}


def environment(model, source):
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "model": source,
        "parameters": count_parameters(model),
        "vocab": model.vocab_size,
        "hidden": model.hidden_size,
        "layers": model.num_layers,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu,
        "load_average": os.getloadavg(),
    }


def markdown(env, speed, quality, engines):
    names = ["baseline"] + list(engines)
    out = [
        f"Model: {env['layers']}x{env['hidden']} LSTM, V={env['vocab']}, {env['parameters'] / 1e6:.1f}M parameters"
        f" ({env['model']}). torch {env['torch']}, {env['threads']} threads, {env['cpu']}, load average "
        + " / ".join(f"{x:.2f}" for x in env["load_average"])
        + ".",
        "",
        "| new tokens x samples | " + " | ".join(f"{n} tokens/s (ms/step)" for n in names) + " | speed-up |",
        "|---" * (len(names) + 2) + "|",
    ]
    for r in speed:
        cells = [f"{r[n]['tokens_per_s']:,.0f} ({r[n]['ms_per_step']:.2f})" for n in names]
        best = max(r[n]["tokens_per_s"] for n in engines) if engines else r["baseline"]["tokens_per_s"]
        out.append(
            f"| {r['new_tokens']:,} x {r['batch']} | "
            + " | ".join(cells)
            + f" | {best / r['baseline']['tokens_per_s']:.1f}x |"
        )
    if quality:
        out += [
            "",
            f"Mean log-prob per token of the first {quality['lines']} lines of {quality['text']} "
            f"({quality['tokens']:,} tokens, teacher forced):",
            "",
            "| engine | mean log-prob | ppl | difference | top-1 agreement | max abs logit diff |",
            "|---|---|---|---|---|---|",
        ]
        for r in quality["rows"]:
            out.append(
                f"| {r['engine']} | {r['mean_logprob']:.5f} | {r['ppl']:.2f} | {r['delta']:+.5f} | "
                f"{100 * r['top1_agree']:.2f}% | {r['max_abs_logit_diff']:.4f} |"
            )
    return "\n".join(out)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok, source = build(args)
    env = environment(model, source)
    print(f"# {source}; torch threads {env['threads']}; load average {env['load_average']}", flush=True)
    speed = speed_rows(model, tok, args.engines, args)
    args.text = args.text or os.path.join(args.data, "test.txt")
    quality = quality_rows(model, tok, args.engines, args) if os.path.isfile(args.text) and args.lines > 0 else None
    env["load_average_after"] = os.getloadavg()
    print(markdown(env, speed, quality, args.engines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "speed": speed, "quality": quality}, f, indent=2)


if __name__ == "__main__":
    main()
