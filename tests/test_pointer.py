"""The continuous cache pointer (lm/model/pointer.py) against its definition written out position by position, and as an
option of perplexity evaluation (lm/training/perplexity.py, scripts/evaluate.py)."""

import json
import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from cli import evaluate_with_text
from lm.cli.evaluate import evaluate
from lm.data.batching import batchify, chunk_bounds
from lm.errors import UserError
from lm.model.pointer import CachePointer, pointer_settings
from lm.model.rnnlm import RNNLM
from lm.training.perplexity import split_perplexity, stream_perplexity


def tiny(softmax="full"):
    torch.manual_seed(0)
    return RNNLM(
        7,
        emb_size=4,
        hidden_size=4,
        num_layers=1,
        dropout=0.0,
        softmax=softmax,
        cutoffs=[3] if softmax == "adaptive" else None,
    ).eval()


def random_stream(n=41, seed=0):
    return np.random.default_rng(seed).integers(0, 7, n)


def hand_log_probs(model, row, window, theta, lam):
    """log p of each next word of one row: the definition followed one position at a time, in float64."""
    with torch.no_grad():
        feats, _ = model.features(torch.tensor([list(row[:-1])]))
        logp_model = model.log_probs(feats)[0].double().tolist()
    h = feats[0].double().tolist()
    out = []
    for t in range(len(row) - 1):
        target = row[t + 1]
        p_model = math.exp(logp_model[t][target])
        cached = list(range(max(0, t - window), t))
        if not cached:
            out.append(math.log(p_model))
            continue
        scores = [theta * sum(a * b for a, b in zip(h[t], h[j])) for j in cached]
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        p_cache = sum(w for w, j in zip(weights, cached) if row[j + 1] == target) / sum(weights)
        out.append(math.log((1 - lam) * p_model + lam * p_cache))
    return out


def pointer_by_chunks(model, grid, bptt, pointer):
    """(B, L-1) log p of a (B, L) grid read in bptt chunks, state and cache carried as stream_perplexity does."""
    got, state = [], None
    with torch.no_grad():
        for start, t in chunk_bounds(grid.shape[1], bptt):
            block = torch.tensor(grid[:, start : start + t + 1], dtype=torch.int64)
            feats, state = model.features(block[:, :-1], state)
            targets = block[:, 1:].contiguous()
            got.append(pointer(feats, targets, model.target_log_probs(feats, targets)))
    return torch.cat(got, dim=1)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
@pytest.mark.parametrize("window,bptt", [(3, 4), (6, 4), (1, 3), (50, 5)])
def test_each_position_matches_the_definition(softmax, window, bptt):
    # (3, 4): a window smaller than the history and chunk boundaries; (6, 4): a cache that spans chunks;
    # (1, 3): one cached position; (50, 5): a window longer than the rows
    model, ids, theta, lam = tiny(softmax), random_stream(), 0.7, 0.3
    grid = batchify(ids, 2)  # (2, 20)
    got = pointer_by_chunks(model, grid, bptt, CachePointer(window, theta, lam))
    want = [hand_log_probs(model, row, window, theta, lam) for row in grid]
    assert got.dtype == torch.float32 and got.shape == (2, grid.shape[1] - 1)
    np.testing.assert_allclose(got.numpy(), np.array(want), rtol=0, atol=1e-5)
    res = stream_perplexity(
        model, ids, batch_size=2, bptt=bptt, pointer={"window": window, "theta": theta, "lambda": lam}
    )
    assert res["tokens"] == got.numel()
    assert res["loss"] == pytest.approx(-np.mean(want), abs=1e-6)
    assert res["pointer"] == {"window": window, "theta": theta, "lambda": lam}


def test_the_cache_changes_the_numbers():
    # guards the test above: the hand computation must not equal the model alone
    model, ids = tiny(), random_stream()
    row = batchify(ids, 2)[0]
    assert hand_log_probs(model, row, 6, 0.7, 0.3) != pytest.approx(hand_log_probs(model, row, 6, 0.7, 0.0), abs=1e-3)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_lambda_zero_is_the_model_alone(softmax):
    model, ids = tiny(softmax), random_stream()
    grid = batchify(ids, 2)
    got = pointer_by_chunks(model, grid, 4, CachePointer(5, 1.0, 0.0))
    with torch.no_grad():
        feats, _ = model.features(torch.tensor(grid[:, :-1], dtype=torch.int64))
        model_logp = model.target_log_probs(feats, torch.tensor(grid[:, 1:], dtype=torch.int64))
    assert torch.equal(got, model_logp)
    plain = stream_perplexity(model, ids, batch_size=2, bptt=4)
    mixed = stream_perplexity(model, ids, batch_size=2, bptt=4, pointer={"window": 5, "theta": 1.0, "lambda": 0.0})
    assert mixed["ppl"] == pytest.approx(plain["ppl"], rel=1e-6) and mixed["tokens"] == plain["tokens"]


@pytest.mark.parametrize(
    "off",
    [
        None,
        "off",
        False,
        {"window": 0, "theta": 1.0, "lambda": 0.1},
        {"window": None},
        OmegaConf.create({"window": 0, "theta": 0.5, "lambda": 0.9}),
    ],
)
def test_window_zero_or_none_leaves_perplexity_unchanged(off):
    model, ids = tiny(), random_stream()
    plain = stream_perplexity(model, ids, batch_size=2, bptt=4)
    assert stream_perplexity(model, ids, batch_size=2, bptt=4, pointer=off) == plain
    assert plain["pointer"] is None


def test_a_stream_that_repeats_itself_gets_lower_perplexity_with_the_pointer():
    model = tiny()  # untrained: p_model of each word is near 1/7
    ids = np.array([4, 1, 6, 2] * 20)  # once a row has read a period, every next word has followed a cached position
    plain = stream_perplexity(model, ids, batch_size=2, bptt=5)
    repeats = stream_perplexity(model, ids, batch_size=2, bptt=5, pointer={"window": 12, "theta": 1.0, "lambda": 0.3})
    assert repeats["ppl"] < 0.9 * plain["ppl"], (repeats["ppl"], plain["ppl"])
    # a window of one holds only the word before the target, never the target: the cache can only take mass away
    misses = stream_perplexity(model, ids, batch_size=2, bptt=5, pointer={"window": 1, "theta": 1.0, "lambda": 0.3})
    assert misses["ppl"] > 1.2 * plain["ppl"], (misses["ppl"], plain["ppl"])


BAD = [
    ({"window": -1}, "window=-1"),
    ({"window": 2.5}, "window=2.5"),
    ({"window": 10, "lambda": 1.5}, "lambda=1.5"),
    ({"window": 10, "lambda": -0.1}, "lambda=-0.1"),
    ({"window": 10, "theta": -1.0}, "theta=-1.0"),
    ({"window": 10, "theta": None}, "theta=None"),
    ({"window": 10, "lambda": float("nan")}, "lambda=nan"),
    ({"window": 10, "lamda": 0.2}, "unknown key(s) lamda"),
    (500, "give {window, theta, lambda}"),
]


@pytest.mark.parametrize("spec,says", BAD)
def test_bad_settings_are_one_line_user_errors(spec, says, tmp_path, word_tokenizer, tiny_model):
    text = tmp_path / "text.txt"
    text.write_text("the cat sees the dog\n" * 10)
    with pytest.raises(UserError) as e:
        split_perplexity(tiny_model, word_tokenizer, {}, "test", tmp_path / "cache", str(text), 2, 4, spec)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "cache").exists()  # stopped before the text was read
    cfg = OmegaConf.create({"task": "perplexity", "ckpt": "never/loaded.ckpt", "perplexity": {"pointer": spec}})
    with pytest.raises(UserError, match="perplexity.pointer"):
        evaluate(cfg)


def test_cache_pointer_needs_a_window():
    with pytest.raises(ValueError, match="window >= 1"):
        CachePointer(0, 1.0, 0.1)
    assert pointer_settings({"window": 500}) == {"window": 500, "theta": 1.0, "lambda": 0.1}


def test_evaluate_script_reports_the_pointer(tmp_path, tiny_checkpoint):
    pointer = ("perplexity.pointer.window=20", "perplexity.pointer.theta=0.5", "perplexity.pointer.lambda=0.25")
    res = evaluate_with_text(tmp_path, tiny_checkpoint, "task=perplexity", *pointer)
    out = tmp_path / "eval"
    assert "cache pointer: window 20, theta 0.5, lambda 0.25" in res.stdout
    (ppl,) = json.loads((out / "results.json").read_text())["perplexity"]
    assert ppl["pointer"] == {"window": 20, "theta": 0.5, "lambda": 0.25} and ppl["ppl"] > 1
