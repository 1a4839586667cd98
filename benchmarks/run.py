"""Throughput of named experiments against plain-PyTorch baselines run in the same process tree, and the fraction
of the machine's matrix-multiply ceiling (measured in the same run) that each reaches.

    python -m benchmarks.run                                     # CPU: ptb_medium fp32 + bf16, the 33k corpus
    python -m benchmarks.run --cases ptb_medium --steps 1327     # one epoch of PTB
    python -m benchmarks.run --device cuda --cases ptb_medium awd_lstm --tokens 2e6

For each case and precision: training tokens/s of the Lightning path (scripts/train.py's code: data module,
hooks, logging and progress bar included, timed wall clock after `--warmup` steps) and val ppl on the whole
validation split after the same number of steps; the plain loop (benchmarks/baseline_loop.py, pytorch/examples
style, fp32, full softmax) on the same data and steps, with the case's network and batch shape; then, on each
trained model, generation tokens/s (lm.generate against the pytorch/examples generate loop) and probe-scoring
pairs/s (lm.probes.Scorer against scoring each sentence alone). Model FLOPs come from RNNLM.macs_per_token (checked
against torch's FLOP counter in the tests); training counts 3x the forward. Prints markdown tables; --json keeps
everything. This file is the command line and the order of the work; the parts are benchmarks/cases.py,
training.py, inference.py, timing.py and report.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks import ROOT
from benchmarks.cases import CASES, compose_cfg, data_dirs
from benchmarks.inference import generation_speed, probe_speed
from benchmarks.report import save, table
from benchmarks.timing import matmul_ceiling
from benchmarks.training import lightning_run, plain_loop
from lm.errors import exit_on_user_error
from lm.model import checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=["ptb_medium", "wt2_adaptive"], choices=sorted(CASES))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--steps", type=int, default=300, help="training steps per run (all runs: the same tokens)")
    p.add_argument("--tokens", type=float, help="instead of --steps: training tokens per run")
    p.add_argument("--warmup", type=int, help="untimed first steps (default 5 on a CPU, 30 on a GPU)")
    p.add_argument("--ptb", default=str(ROOT.parent / "shared" / "data" / "ptb"))
    p.add_argument("--books33k", default=str(ROOT / "data" / "books33k"), help="made by scripts/make_corpus.py")
    p.add_argument("--books-src", default=str(ROOT.parent / "shared" / "data" / "books"))
    p.add_argument("--cache", default=str(ROOT / "data" / "cache"), help="token cache folder")
    p.add_argument("--gen-tokens", type=int, default=500, help="new tokens per sample")
    p.add_argument("--gen-batch", type=int, default=16)
    p.add_argument("--probe-pairs", type=int, default=5000)
    p.add_argument("--probe-baseline-pairs", type=int, default=300)
    p.add_argument("--no-baseline", action="store_true", help="skip the plain training loop")
    p.add_argument("--no-inference", action="store_true", help="skip generation and probe scoring")
    p.add_argument("--override", nargs="*", default=[], help="Hydra overrides for every Lightning run")
    p.add_argument("--out", help="keep the runs (checkpoints, logs) in this folder")
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--ceiling-n",
        type=int,
        help="matrix size for the matmul ceiling (default 2048 on a CPU, 8192 on "
        "a GPU; smaller for a quick check: emulated bf16 on a CPU without bf16 instructions takes minutes)",
    )
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but torch sees no GPU; run without it on a CPU")
    args.warmup = args.warmup if args.warmup is not None else (30 if args.device == "cuda" else 5)
    args.data = data_dirs(args)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    ceilings = {
        "fp32": matmul_ceiling(args.device, torch.float32, args.ceiling_n),
        "bf16": matmul_ceiling(args.device, torch.bfloat16, args.ceiling_n),
    }
    print(
        f"matmul ceiling: fp32 {ceilings['fp32'] / 1e9:,.0f} GFLOP/s, bf16 {ceilings['bf16'] / 1e9:,.0f} GFLOP/s",
        flush=True,
    )
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        for name in args.cases:
            case = CASES[name]
            cfg = compose_cfg(case, "fp32", [], args, out)  # the case's recipe: its batch and the plain loop's network
            if args.tokens:  # batch x bptt of the case's recipe
                args.steps = max(args.warmup + 1, round(args.tokens / (cfg.data.batch_size * cfg.data.bptt)))
            runs = results[name] = {}
            if case.baseline is not None and not args.no_baseline:
                (out / name).mkdir(parents=True, exist_ok=True)
                runs["plain loop"] = plain_loop(case, cfg, args, out / name)
                print(f"{name} plain loop: {runs['plain loop']['tokens_per_s']:,.0f} tokens/s", flush=True)
            for run, (precision, extra) in case.runs.items():
                run_dir = out / name / run.replace(" ", "_")
                r = runs[f"lm {run}"] = lightning_run(case, precision, extra, args, run_dir)
                print(f"{name} lm {run}: {r['tokens_per_s']:,.0f} tokens/s, val ppl {r['val_ppl']:.2f}", flush=True)
                if not args.no_inference:
                    loaded = checkpoint.load(r["ckpt"], map_location=args.device)  # the saved model, as users get it
                    model, tok = loaded.model.eval(), loaded.tokenizer
                    r["generation"] = generation_speed(model, tok, args.device, args.gen_tokens, args.gen_batch)
                    r["probes"] = probe_speed(model, tok, args.device, args.probe_pairs, args.probe_baseline_pairs)
                save(args, ceilings, results)  # after every run: a run cut short keeps what it measured
    print("\n" + table(results, ceilings))
    return save(args, ceilings, results)


if __name__ == "__main__":
    exit_on_user_error(main)()
