"""Throughput of named experiments against plain-PyTorch baselines run in the same process tree, and the fraction
of the machine's matrix-multiply ceiling (measured in the same run) that each reaches.

    python -m benchmarks.run                                     # CPU: ptb_medium fp32 + bf16, the 33k corpus
    python -m benchmarks.run --cases ptb_medium --steps 1327     # one epoch of PTB
    python -m benchmarks.run --device cuda --cases ptb_medium awd_lstm --tokens 2e6

For each case and precision: training tokens/s of the Lightning path (scripts/train.py's code: data module,
hooks, logging and progress bar included, timed wall clock after `--warmup` steps) and val ppl on the whole
validation split after the same number of steps; the plain loop (benchmarks/baseline_loop.py, pytorch/examples
style, fp32, full softmax) on the same data and steps; then, on each trained model, generation tokens/s
(lm.generate against the pytorch/examples generate loop) and probe-scoring pairs/s (lm.probes.Scorer against
scoring each sentence alone). Model FLOPs come from RNNLM.macs_per_token (checked against torch's FLOP counter in
the tests); training counts 3x the forward. Prints markdown tables; --json keeps everything.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import open_dict

from benchmarks.generation import baseline_loop as examples_generate
from benchmarks.probes import make_pairs
from lm.generation.fast_decode import linear_op
from lm.generation.generator import generate
from lm.model import checkpoint
from lm.model.rnnlm import RNNLM, cluster_share
from lm.probes.scoring import Scorer
from lm.training.train import build, quiet_known_warnings

ROOT = Path(__file__).resolve().parents[1]

ADAPTIVE = ["model.softmax=adaptive", "model.cutoffs=[2000,10000]"]


@dataclass
class Case:
    experiment: str
    data: str  # a key of the data folders (--ptb, --books33k)
    runs: dict[str, tuple[str, list[str]]]  # name -> (precision fp32|bf16, extra overrides)
    baseline: list[str] | None = field(default_factory=list)  # baseline_loop.py arguments; None: no baseline


CASES = {
    "ptb_medium": Case("ptb_medium", "ptb", {"fp32": ("fp32", []), "bf16": ("bf16", [])}, ["--tied"]),
    # WikiText-2's vocabulary and size (scripts/make_corpus.py): where the output layer is most of the work
    "wt2_adaptive": Case(
        "ptb_medium",
        "books33k",
        {"full fp32": ("fp32", []), "adaptive fp32": ("fp32", ADAPTIVE), "adaptive bf16": ("bf16", ADAPTIVE)},
        ["--tied"],
    ),
    "awd_lstm": Case("awd_lstm", "ptb", {"bf16": ("bf16", [])}, None),  # baseline_loop ties no projection
}
PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


# --- the machine ------------------------------------------------------------------------------------------------


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_ceiling(device: str, dtype: torch.dtype, n: int | None = None, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n matrix product (n: 2048 on a CPU, 8192 on a GPU). On a CPU the best of torch.mm
    and oneDNN with a packed weight: torch.mm's fp32 goes through MKL, which on AMD processors runs at about half
    of what oneDNN (and nn.LSTM, which uses it) reaches."""
    n = n or (8192 if device == "cuda" else 2048)
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    ops = [lambda: torch.mm(a, b)]
    if device == "cpu":
        ops.append(partial(linear_op(b.t().contiguous()), a))  # a @ b, oneDNN
    best = math.inf
    for op in ops:
        op()
        for _ in range(repeats):
            sync(device)
            t = time.perf_counter()
            op()
            sync(device)
            best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def machine(device: str) -> dict:
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


# --- training -----------------------------------------------------------------------------------------------------


class StepClock(pl.Callback):
    """Wall clock from the end of step `warmup` to the end of the last training step, device synchronised."""

    def __init__(self, warmup: int, device: str):
        self.warmup, self.device, self.tokens, self.t0, self.t1 = warmup, device, 0, None, None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step == self.warmup:
            sync(self.device)
            self.t0 = time.perf_counter()
        elif step > self.warmup:
            self.tokens += batch[0].numel()
            if step >= trainer.max_steps:
                sync(self.device)
                self.t1 = time.perf_counter()


def compose_cfg(case: Case, precision: str, extra: list[str], args, run_dir: Path):
    trainer = ["trainer=gpu"] if args.device == "cuda" else []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"experiment={case.experiment}",
                *trainer,
                f"data.dir={args.data[case.data]}",
                f"trainer.max_steps={args.steps}",
                f"trainer.precision={PRECISION[precision]}",
                "logger=csv",
                *extra,
                *args.override,
            ],
        )
    with open_dict(cfg):
        cfg.paths = {"run_dir": str(run_dir), "cache_dir": str(args.cache), "output_root": str(run_dir)}
    return cfg


def lightning_run(case: Case, precision: str, extra: list[str], args, run_dir: Path) -> dict:
    quiet_known_warnings()
    cfg = compose_cfg(case, precision, extra, args, run_dir)
    pl.seed_everything(cfg.seed, verbose=False)
    data, module = build(cfg)
    clock = StepClock(args.warmup, args.device)
    bar = [instantiate(cfg.callbacks.progress_bar)] if cfg.trainer.enable_progress_bar else []  # as train.py's
    trainer = pl.Trainer(
        **{k: v for k, v in cfg.trainer.items() if k != "_target_"},
        callbacks=[clock, *bar],
        logger=pl.loggers.CSVLogger(run_dir),
        enable_checkpointing=False,
    )
    trainer.fit(module, datamodule=data)  # validates on the whole valid split after the last step
    trainer.save_checkpoint(run_dir / "model.ckpt")
    macs = module.model.macs_per_token(cluster_share(module.model, np.asarray(data.ids["train"])))
    tps = clock.tokens / (clock.t1 - clock.t0)
    return {
        "steps": trainer.global_step,
        "tokens": trainer.global_step * cfg.data.batch_size * cfg.data.bptt,
        "tokens_per_s": tps,
        "val_ppl": float(trainer.callback_metrics["val/ppl"]),
        "train_flops_per_token": 6 * macs,
        "flops_per_s": 6 * macs * tps,
        "precision": precision,
        "params": sum(p.numel() for p in module.model.parameters()),
        "ckpt": str(run_dir / "model.ckpt"),
    }


def plain_loop(case: Case, args, run_dir: Path) -> dict:
    out = run_dir / "baseline.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.baseline_loop",
        "--data",
        args.data[case.data],
        "--max-steps",
        str(args.steps),
        "--warmup-steps",
        str(args.warmup),
        "--device",
        args.device,
        "--json",
        str(out),
        *case.baseline,
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    res = json.loads(out.read_text())
    a = res["args"]
    with torch.device("meta"):  # the same network's FLOPs, counted by RNNLM without allocating it
        macs = RNNLM(res["vocab_size"], a["emsize"], a["nhid"], a["nlayers"], tie_weights=a["tied"]).macs_per_token()
    return {
        **res,
        "tokens_per_s": res["train_tokens_per_s"],
        "precision": "fp32",
        "train_flops_per_token": 6 * macs,
        "flops_per_s": 6 * macs * res["train_tokens_per_s"],
    }


# --- generation and probes on the trained models ------------------------------------------------------------------


def generation(model: RNNLM, tok, device: str, n: int, batch: int) -> dict:

    def ours(k, b):
        sync(device)
        t = time.perf_counter()
        generate(model, tok, "", max_new_tokens=k, num_samples=b, seed=0)
        sync(device)
        return time.perf_counter() - t

    def examples(k, b):
        t = time.perf_counter()
        with torch.inference_mode():
            examples_generate(model.to(device), k, b)
        sync(device)
        return time.perf_counter() - t

    out = {}
    for name, fn in (("examples_loop", examples), ("lm.generate", ours)):
        fn(10, 1)  # warm-up
        out[name] = {"single": n / fn(n, 1), f"batch{batch}": n * batch / fn(n, batch)}
    out["generate_flops_per_token"] = 2 * model.macs_per_token()
    return out


def probes(model: RNNLM, tok, device: str, n: int, n_baseline: int) -> dict:
    pairs = make_pairs(n, tok)
    scorer = Scorer(model, tok)
    scorer.score(pairs[:200])  # warm-up
    sync(device)
    t = time.perf_counter()
    scorer.score(pairs)
    sync(device)
    ours = len(pairs) / (time.perf_counter() - t)

    def sentence_logprob(text):  # the plain way: each sentence alone, fp32, the whole distribution
        ids = torch.tensor([[0] + tok.encode(text, add_special_tokens=False).ids], device=device)
        logp = model.log_probs(model.features(ids[:, :-1])[0])[0]
        return float(logp.gather(1, ids[0, 1:, None]).sum())

    t = time.perf_counter()
    with torch.inference_mode():
        for p in pairs[:n_baseline]:
            sentence_logprob(p.good), [sentence_logprob(b) for b in p.bad]
    sync(device)
    return {"pairs": len(pairs), "lm.probes": ours, "one_sentence_at_a_time": n_baseline / (time.perf_counter() - t)}


# --- driver ---------------------------------------------------------------------------------------------------------


def data_dirs(args) -> dict[str, str]:
    dirs = {"ptb": Path(args.ptb), "books33k": Path(args.books33k)}
    needed = {CASES[c].data for c in args.cases}
    if "books33k" in needed and not (dirs["books33k"] / "train.txt").is_file():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_corpus.py"),
                "--src",
                args.books_src,
                "--out",
                str(dirs["books33k"]),
            ],
            check=True,
        )
    for key in needed:
        if not (dirs[key] / "train.txt").is_file():
            sys.exit(
                f"error: no {dirs[key]}/train.txt for the {key} cases; give --{key} a folder with train.txt, "
                "valid.txt and test.txt"
            )
    return {k: str(v.resolve()) for k, v in dirs.items()}


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


def main(argv=None) -> dict:
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
            if args.tokens:  # batch x bptt of the case's recipe
                cfg = compose_cfg(case, "fp32", [], args, out)
                args.steps = max(args.warmup + 1, round(args.tokens / (cfg.data.batch_size * cfg.data.bptt)))
            runs = results[name] = {}
            if case.baseline is not None and not args.no_baseline:
                (out / name).mkdir(parents=True, exist_ok=True)
                runs["plain loop"] = plain_loop(case, args, out / name)
                print(f"{name} plain loop: {runs['plain loop']['tokens_per_s']:,.0f} tokens/s", flush=True)
            for run, (precision, extra) in case.runs.items():
                run_dir = out / name / run.replace(" ", "_")
                r = runs[f"lm {run}"] = lightning_run(case, precision, extra, args, run_dir)
                print(f"{name} lm {run}: {r['tokens_per_s']:,.0f} tokens/s, val ppl {r['val_ppl']:.2f}", flush=True)
                if not args.no_inference:
                    loaded = checkpoint.load(r["ckpt"], map_location=args.device)  # the saved model, as users get it
                    model, tok = loaded.model.eval(), loaded.tokenizer
                    r["generation"] = generation(model, tok, args.device, args.gen_tokens, args.gen_batch)
                    r["probes"] = probes(model, tok, args.device, args.probe_pairs, args.probe_baseline_pairs)
                save(args, ceilings, results)  # after every run: a run cut short keeps what it measured
    print("\n" + table(results, ceilings))
    return save(args, ceilings, results)


def save(args, ceilings: dict, cases: dict) -> dict:
    results = {"machine": machine(args.device), "ceilings": ceilings, "steps": args.steps, "cases": cases}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
