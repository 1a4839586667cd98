"""Adaptive softmax: the same numbers as torch's module, a proper distribution, tying, bf16, and every consumer
(training loss, generation engines, probe scoring, checkpoints, the CLI) reading it correctly."""

import pytest
import torch

from lm.generation.fast_decode import make_engine
from lm.generation.generator import encode_prompt, generate
from lm.model import checkpoint
from lm.model.rnnlm import RNNLM
from lm.probes.engine import LogProbEngine, Request
from lm.training.module import LanguageModel
from tests.cli import run_script, tiny_train_args
from tests.conftest import TINY_LINES

V, D = 50, 16


def adaptive(tie=False, div_value=4.0, vocab=V, seed=0, **kw):
    torch.manual_seed(seed)
    return RNNLM(
        vocab, D, D, 2, dropout=0.0, tie_weights=tie, softmax="adaptive", cutoffs=[10, 30], div_value=div_value, **kw
    ).eval()


def data(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(V, (3, 9), generator=g), torch.randint(V, (3, 9), generator=g)


@pytest.mark.parametrize("tie, div_value", [(False, 4.0), (True, 4.0), (True, 1.0)])
def test_a_distribution_whose_target_entries_are_the_target_log_probs(tie, div_value):
    model = adaptive(tie, div_value)
    x, y = data()
    feats, _ = model.features(x)
    logp = model.log_probs(feats)  # (3, 9, V)
    assert logp.dtype == torch.float32 and logp.shape == (3, 9, V)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(3, 9))
    torch.testing.assert_close(model.target_log_probs(feats, y), logp.gather(-1, y[..., None])[..., 0])
    torch.testing.assert_close(model(x)[0], logp)  # forward's scores are the log-probs themselves


@pytest.mark.parametrize("softmax", ["adaptive", "full"])
def test_several_words_at_one_position_score_as_they_would_alone(softmax):
    """target_log_probs with rows: words in every cluster, some positions twice, one pass; same values and gradients
    as scoring each (position, word) on its own."""
    torch.manual_seed(0)
    model = RNNLM(V, D, D, 2, dropout=0.0, tie_weights=True, softmax=softmax, cutoffs=[10, 30])
    x, _ = data()
    rows = torch.tensor([0, 5, 5, 5, 26, 13])
    words = torch.tensor([3, 3, 12, 40, 49, 0])  # head, head, tail 1, tail 2, tail 2, head
    feats, _ = model.features(x)
    together = model.target_log_probs(feats, words, rows)
    (grad_together,) = torch.autograd.grad(together.sum(), model.embedding.weight)
    feats, _ = model.features(x)
    alone = torch.stack([model.log_probs(feats).flatten(0, 1)[r, w] for r, w in zip(rows.tolist(), words.tolist())])
    (grad_alone,) = torch.autograd.grad(alone.sum(), model.embedding.weight)
    torch.testing.assert_close(together, alone)
    torch.testing.assert_close(grad_together, grad_alone)


def test_same_numbers_as_torchs_adaptive_log_softmax():
    model = adaptive()
    ref = torch.nn.AdaptiveLogSoftmaxWithLoss(D, V, [10, 30], 4.0, head_bias=True)
    ref.load_state_dict(model.decoder.state_dict())  # same parameter layout
    x, y = data()
    feats, _ = model.features(x)
    torch.testing.assert_close(model.target_log_probs(feats, y).flatten(), ref(feats.flatten(0, 1), y.flatten()).output)
    torch.testing.assert_close(model.log_probs(feats).flatten(0, 1), ref.log_prob(feats.flatten(0, 1)))


def test_tying_shares_the_shortlist_rows_and_full_width_tails():
    untied, head_only, all_tied = adaptive(False), adaptive(True), adaptive(True, div_value=1.0)
    assert torch.equal(head_only.decoder.head.weight[:10], head_only.embedding.weight[:10])
    with torch.no_grad():
        head_only.embedding.weight[3] += 1.0  # one tensor, seen from both places
    assert torch.equal(head_only.decoder.head.weight[3], head_only.embedding.weight[3])
    # the tied head saves its 10 word rows; div_value 1 also lends the tails their 40 rows of the embedding
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(head_only) == 10 * D
    assert all_tied.decoder.tied_tails == [0, 1]
    assert torch.equal(all_tied.decoder.tail[1][1].weight, all_tied.embedding.weight[30:])
    assert count(adaptive(False, 1.0)) - count(all_tied) == V * D
    # and the embedding learns from the output side
    x, y = data()
    head_only.target_log_probs(head_only.features(x)[0], y).sum().backward()
    assert head_only.embedding.weight.grad[:10].abs().sum() > 0


def test_bf16_autocast_keeps_the_log_softmax_in_fp32():
    model = adaptive(True)
    x, y = data()
    exact = model.target_log_probs(model.features(x)[0], y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, _ = model.features(x)  # bf16 where the CPU runs a bf16 LSTM; fp32 elsewhere (lm/model/rnnlm.py)
        got = model.target_log_probs(feats.to(torch.bfloat16), y)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, exact, atol=2e-2, rtol=0)


@pytest.mark.parametrize("cutoffs", [[30, 10], [0, 10], [10, 50], []])
def test_bad_cutoffs_are_refused_with_the_vocabulary_size(cutoffs):
    with pytest.raises(ValueError, match="cutoffs"):
        RNNLM(V, D, D, 1, softmax="adaptive", cutoffs=cutoffs)


def test_a_tail_without_dimensions_is_refused():
    with pytest.raises(ValueError, match="div_value"):
        RNNLM(V, D, D, 1, softmax="adaptive", cutoffs=[10, 30], div_value=8.0)  # 16 / 8^2 < 1


def test_training_loss_is_the_mean_target_nll_and_it_learns():
    module = LanguageModel(
        dict(
            vocab_size=V,
            emb_size=D,
            hidden_size=D,
            num_layers=1,
            dropout=0.0,
            tie_weights=True,
            softmax="adaptive",
            cutoffs=[10, 30],
        ),
        {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.03},
    )
    x, y = data()
    loss = module._forward_nll(x, y, "train")[0].mean()
    feats, _ = module.model.features(x)
    assert loss.item() == pytest.approx(-module.model.target_log_probs(feats, y).mean().item(), rel=1e-6)
    opt = torch.optim.Adam(module.parameters(), lr=0.03)
    first = loss.item()
    for _ in range(150):
        module._state.clear()
        opt.zero_grad()
        loss = module._forward_nll(x, y, "train")[0].mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


@pytest.fixture
def adaptive_lm(word_tokenizer):
    torch.manual_seed(0)
    return RNNLM(
        word_tokenizer.get_vocab_size(),
        8,
        8,
        2,
        dropout=0.0,
        tie_weights=True,
        softmax="adaptive",
        cutoffs=[4, 8],
        div_value=2.0,
    ).eval()


@pytest.mark.parametrize("engine", ["reference", "fp32", "bf16"])
def test_generation_engines_follow_the_adaptive_distribution(adaptive_lm, word_tokenizer, engine):
    s = generate(adaptive_lm, word_tokenizer, "the cat", max_new_tokens=20, seed=3, engine=engine)[0]
    ids, _ = encode_prompt(word_tokenizer, "the cat")
    with torch.no_grad():
        logp = adaptive_lm.log_probs(adaptive_lm.features(torch.tensor([ids + s.ids]))[0])[0]
    expected = logp[len(ids) - 1 : -1].gather(1, torch.tensor(s.ids)[:, None])[:, 0]
    torch.testing.assert_close(torch.tensor(s.logprobs), expected, atol=1e-5 if engine != "bf16" else 3e-2, rtol=0)
    eng = make_engine(adaptive_lm, engine)
    with torch.inference_mode():
        first, _ = eng.prefill(torch.tensor([ids]), batch=1)
    torch.testing.assert_close(first[0].exp().sum(), torch.tensor(1.0), atol=1e-3, rtol=0)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_probe_scores_are_sums_of_adaptive_log_probs(adaptive_lm, precision):
    reqs = [Request((0, 2, 3), (4, 9, 5)), Request((0, 2), (11,)), Request((0, 7, 3), (2, 2))]
    got = LogProbEngine(adaptive_lm, precision=precision)(reqs)
    for r, score in zip(reqs, got):
        ids = list(r.context + r.continuation)
        with torch.no_grad():
            logp = adaptive_lm.log_probs(adaptive_lm.features(torch.tensor([ids[:-1]]))[0])[0]
        start = len(r.context)
        want = sum(float(logp[t - 1, ids[t]]) for t in range(start, len(ids)))
        assert score == pytest.approx(want, abs=1e-4 if precision == "fp32" else 5e-2)


@pytest.mark.slow
def test_trained_from_the_command_line_it_loads_and_generates(tmp_path):
    run = run_script(
        "train.py", *tiny_train_args(tmp_path), "model.softmax=adaptive", "model.cutoffs=[5,12]", "trainer.max_steps=30"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = checkpoint.load(tmp_path / "run")
    assert loaded.model.adaptive and loaded.model.decoder.cutoffs[:-1] == [5, 12]
    out = run_script("generate.py", f"ckpt={tmp_path / 'run'}", "prompt=the", "max_new_tokens=8", "seed=0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout.split()) >= 8


@pytest.mark.slow
def test_cutoffs_beyond_the_vocabulary_are_one_line_from_the_cli(tmp_path):
    run = run_script("train.py", *tiny_train_args(tmp_path), "model.softmax=adaptive", "model.cutoffs=[5,100000]")
    assert run.returncode == 2
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error:") and "cutoffs" in lines[-1] and "vocab size" in lines[-1]


def test_the_word_tokenizer_numbers_words_by_frequency(word_tokenizer):
    # the adaptive softmax's head holds the first ids: they must be the most frequent words
    counts = {}
    for line in TINY_LINES:
        for w in line.split():
            counts[w] = counts.get(w, 0) + 1
    ids = sorted(counts, key=word_tokenizer.token_to_id)
    assert [counts[w] for w in ids] == sorted(counts.values(), reverse=True)
