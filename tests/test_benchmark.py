"""scripts/make_corpus.py and benchmarks/run.py on small data: what they write and compute."""

import json
import random
from collections import Counter

import pytest

from tests.cli import run_script


def write_splits(folder, n_lines, seed=0):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_lines), ("valid", n_lines // 5), ("test", n_lines // 5)):
        # Zipf-like: word i drawn with weight 1/(i+1); punctuation glued to words, as in raw text
        lines = [" ".join(rng.choices(words, weights=[1 / (i + 1) for i in range(300)], k=12)) + "." for _ in range(n)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


def test_make_corpus_keeps_the_most_frequent_types_and_unks_the_rest(tmp_path):
    write_splits(tmp_path / "src", 400)
    run = run_script(
        "make_corpus.py",
        "--src",
        tmp_path / "src",
        "--out",
        tmp_path / "out",
        "--vocab",
        52,
        "--train-words",
        10**6,
        "--eval-words",
        400,
    )
    assert run.returncode == 0, run.stderr
    train = [ln.split() for ln in (tmp_path / "out" / "train.txt").read_text().splitlines()]
    assert len(train) == 400  # a budget above the source's size keeps every line
    counts = Counter(w for ln in train for w in ln)
    assert len(counts) + 1 == 52  # + <eos>, which the tokenizers add at each line end
    assert counts["."] == 400 and "<unk>" in counts  # punctuation split off the words
    source = Counter(w.rstrip(".") for w in (tmp_path / "src" / "train.txt").read_text().split())
    kept = set(counts) - {"<unk>", "."}
    assert min(source[w] for w in kept) >= max(source[w] for w in set(source) - kept)  # the most frequent ones
    assert counts["<unk>"] == sum(source[w] for w in set(source) - kept)
    valid = (tmp_path / "out" / "valid.txt").read_text().split()
    assert set(valid) <= set(counts)  # evaluation words are all in the training vocabulary
    assert 400 <= len(valid) < 400 + 14  # the evaluation budget, to within a line


def test_make_corpus_without_splits_is_one_line(tmp_path):
    run = run_script("make_corpus.py", "--src", tmp_path, "--out", tmp_path / "out")
    assert run.returncode != 0 and run.stderr.strip().splitlines()[-1].startswith("error:")


@pytest.mark.slow  # trains three models in subprocesses: seconds even at this size
def test_benchmark_runs_every_path_on_the_same_tokens(tmp_path):
    write_splits(tmp_path / "raw", 300)  # closed vocabulary, as PTB's: through make_corpus
    made = run_script("make_corpus.py", "--src", tmp_path / "raw", "--out", tmp_path / "ptb", "--vocab", 100)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "bench.json"
    run = run_script(
        "benchmarks.run",
        "--cases",
        "ptb_medium",
        "--steps",
        6,
        "--warmup",
        2,
        "--ptb",
        tmp_path / "ptb",
        "--cache",
        tmp_path / "cache",
        "--no-inference",
        "--json",
        out,
        "--ceiling-n",
        256,
        "--override",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "model.emb_size=32",  # the plain loop takes the network's shape from the case's config too
        "model.hidden_size=32",
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    res = json.loads(out.read_text())
    runs = res["cases"]["ptb_medium"]
    assert set(runs) == {"plain loop", "lm fp32", "lm bf16"}
    assert {r["steps"] for r in runs.values()} == {6}
    assert res["ceilings"]["fp32"] > 0 and res["ceilings"]["bf16"] > 0
    for r in runs.values():
        assert r["flops_per_s"] == r["train_flops_per_token"] * r["tokens_per_s"]
        assert 1 < r["val_ppl"] < 1000  # 100 types: uniform guessing gives 100
    # the plain loop and the Lightning path count the same model FLOPs (2x32 tied; lm's vocabulary adds <unk>)
    assert runs["plain loop"]["train_flops_per_token"] == pytest.approx(
        runs["lm fp32"]["train_flops_per_token"], rel=1e-3
    )
    assert "| ptb_medium | lm bf16 |" in run.stdout
