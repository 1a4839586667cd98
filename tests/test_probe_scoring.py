"""Scoring against hand computation: token log-probs, prefixes, batching, tokenizers, and a stub model."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from lm.data.tokenizer import eos_id, train_tokenizer
from lm.model.rnnlm import RNNLM
from lm.probes.encoding import PairEncoder, critical_words
from lm.probes.engine import LogProbEngine, Request, at_positions, resolve_precision
from lm.probes.records import Pair
from lm.probes.scoring import Scorer, pair_correct

LINES = ["the cat sees the dog .", "the dogs see the cat .", "a cat and a dog run .", "the dog runs ."] * 4


def by_hand(model, ids, start):
    """sum_{t >= start} log p(ids[t] | ids[:t]) from one forward pass, fp64 log-softmax."""
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[:-1]]))
    lp = torch.log_softmax(logits[0].double(), dim=-1)
    return sum(float(lp[t - 1, ids[t]]) for t in range(start, len(ids)))


def tiny(tok, cell="lstm", seed=0):
    torch.manual_seed(seed)
    return RNNLM(tok.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, cell=cell, dropout=0.0).eval()


# --- pure functions ---------------------------------------------------------------------------------------------


def test_pair_correct_needs_strictly_higher_good_than_every_bad():
    assert pair_correct(-1.0, [-2.0, -3.0])
    assert not pair_correct(-1.0, [-2.0, -0.5])
    assert not pair_correct(-1.0, [-1.0])  # a tie is wrong
    with pytest.raises(ValueError, match="bad"):
        pair_correct(0.0, [])


def test_precision_names_are_checked():
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", RNNLM(5, 4, 4, 1), torch.device("cpu"))
    assert resolve_precision("auto", RNNLM(5, 4, 4, 1), torch.device("cpu")) == "fp32"  # small: exact


# --- against hand computation -----------------------------------------------------------------------------------


def test_sentence_logprob_is_the_sum_of_token_logprobs_after_eos(word_tokenizer, tiny_model):
    scorer = Scorer(tiny_model, word_tokenizer, "fp32")
    eos = eos_id(word_tokenizer)
    for text in ["the cat sees the dog", "a dog"]:
        ids = [eos] + word_tokenizer.encode(text, add_special_tokens=False).ids + [eos]
        assert scorer.sentence_logprobs([text])[0] == pytest.approx(by_hand(tiny_model, ids, 1), abs=1e-5)
    no_eos = Scorer(tiny_model, word_tokenizer, "fp32", end_with_eos=False)
    ids = [eos] + word_tokenizer.encode("the cat", add_special_tokens=False).ids
    assert no_eos.sentence_logprobs(["the cat"])[0] == pytest.approx(by_hand(tiny_model, ids, 1), abs=1e-5)


def test_continuation_is_scored_given_the_prefix_primed_with_eos(word_tokenizer, tiny_model):
    scorer = Scorer(tiny_model, word_tokenizer, "fp32")
    eos = eos_id(word_tokenizer)
    prefix, cont = (
        word_tokenizer.encode("the cat", add_special_tokens=False).ids,
        word_tokenizer.encode("sees the", add_special_tokens=False).ids,
    )
    want = by_hand(tiny_model, [eos] + prefix + cont, 1 + len(prefix))
    assert scorer.continuation_logprobs(["the cat"], ["sees the"])[0] == pytest.approx(want, abs=1e-5)
    # an empty prefix: the continuation starts the line
    want0 = by_hand(tiny_model, [eos] + word_tokenizer.encode("the", add_special_tokens=False).ids, 1)
    assert scorer.continuation_logprobs([""], ["the"])[0] == pytest.approx(want0, abs=1e-5)
    with pytest.raises(ValueError, match="prefixes and continuations"):
        scorer.continuation_logprobs(["a"], [])


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread (and do not stall on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_only_the_asked_positions_are_decoded_each_once():
    outputs = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))  # (B, T, D); D = V: logits as they are
    rows, cols = torch.tensor([2, 0, 2, 1, 0]), torch.tensor([4, 1, 4, 0, 1])
    targets = torch.tensor([3, 1, 0, 2, 1])
    decoded = []

    def decoder(hidden, r, t):
        decoded.append(len(hidden))
        return hidden.log_softmax(-1)[r, t]

    got = at_positions(decoder, outputs, rows, cols, targets)
    assert torch.equal(got, outputs.log_softmax(-1)[rows, cols, targets])
    assert decoded == [3]  # (2, 4) twice, (0, 1) twice, (1, 0): three positions, one decoder call


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_batching_gives_the_numbers_of_one_at_a_time(word_tokenizer, cell, one_thread):
    model = tiny(word_tokenizer, cell)
    rng = np.random.default_rng(0)
    v = word_tokenizer.get_vocab_size()
    reqs = [
        Request(
            (0, *rng.integers(1, v, rng.integers(0, 6)).tolist()),
            tuple(rng.integers(0, v, rng.integers(1, 5)).tolist()),
            bool(rng.random() < 0.5),
        )
        for _ in range(25)
    ]
    reqs += reqs[:4]  # repeated contexts are shared
    alone = np.array([LogProbEngine(model, "fp32")([r])[0] for r in reqs])
    for max_tokens in (100_000, 9):
        together = LogProbEngine(model, "fp32", max_tokens=max_tokens)(reqs)
        assert np.abs(together - alone).max() < 1e-5
    hand = [by_hand(model, list(r.context + r.continuation), 1 if r.score_context else len(r.context)) for r in reqs]
    assert np.abs(alone - np.array(hand)).max() < 1e-5


def test_pairs_score_the_same_alone_and_in_a_batch(word_tokenizer, tiny_model):
    pairs = [
        Pair("the dogs see the cat .", ("the dogs sees the cat .",)),
        Pair("runs", ("run", "see"), "the dog"),
        Pair("sees the dog", ("see the dog",), "the cat"),
        Pair("a cat run .", ("a cat runs .",)),
    ] * 3
    scorer = Scorer(tiny_model, word_tokenizer, "fp32")
    together = scorer.score(pairs)
    for pair, s in zip(pairs, together):
        (one,) = scorer.score([pair])
        assert one.good == pytest.approx(s.good, abs=1e-5) and one.bad == pytest.approx(s.bad, abs=1e-5)
    # a sentence pair compares the parts after the shared start: the difference equals the whole sentences'
    whole = scorer.sentence_logprobs(["the dogs see the cat .", "the dogs sees the cat ."])
    assert together[0].good - together[0].bad[0] == pytest.approx(whole[0] - whole[1], abs=1e-5)
    assert together[1].correct == (together[1].good > max(together[1].bad))


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="no bf16 matmuls on this CPU")
def test_bf16_stays_close_to_fp32(word_tokenizer, tiny_model):
    pairs = [Pair("the dogs see the cat .", ("the dogs sees the cat .",)), Pair("runs", ("run",), "the dog")]
    a = Scorer(tiny_model, word_tokenizer, "fp32").score(pairs)
    b = Scorer(tiny_model, word_tokenizer, "bf16").score(pairs)
    assert all(abs(x.good - y.good) < 0.05 and abs(x.bad[0] - y.bad[0]) < 0.05 for x, y in zip(a, b))


# --- tokenizers -------------------------------------------------------------------------------------------------


def test_char_models_sum_the_characters_of_a_word_after_the_joining_space():
    tok = train_tokenizer("char", LINES)
    model = tiny(tok)
    eos = eos_id(tok)
    (enc,) = PairEncoder(tok).encode([Pair("dog", ("cat",), "the")])
    assert enc.context == (eos, *tok.encode("the ", add_special_tokens=False).ids) and enc.sides == (
        tuple(tok.encode("dog", add_special_tokens=False).ids),
        tuple(tok.encode("cat", add_special_tokens=False).ids),
    )
    got = Scorer(model, tok, "fp32").continuation_logprobs(["the"], ["dog"])[0]
    assert got == pytest.approx(
        by_hand(model, [eos] + tok.encode("the dog", add_special_tokens=False).ids, 5), abs=1e-5
    )


def test_bpe_continuations_carry_their_leading_space():
    tok = train_tokenizer("bpe", LINES * 5, vocab_size=300)
    model = tiny(tok)
    eos = eos_id(tok)
    (enc,) = PairEncoder(tok).encode([Pair("runs", ("run",), "the dog")])
    assert enc.context == (eos, *tok.encode("the dog", add_special_tokens=False).ids)
    assert tok.id_to_token(enc.sides[0][0]).startswith("Ġ") and tok.id_to_token(enc.sides[1][0]).startswith("Ġ")
    assert enc.context + enc.sides[0] == (eos, *tok.encode("the dog runs", add_special_tokens=False).ids)
    got = Scorer(model, tok, "fp32").continuation_logprobs(["the dog"], ["runs"])[0]
    n = len(enc.context)
    assert got == pytest.approx(by_hand(model, list(enc.context + enc.sides[0]), n), abs=1e-5)


def test_multi_token_words_sum_their_tokens():
    tok = train_tokenizer("bpe", LINES * 5, vocab_size=260)  # few merges: "zebra" splits into several tokens
    model = tiny(tok)
    (enc,) = PairEncoder(tok).encode([Pair("zebra", ("dog",), "the")])
    assert len(enc.sides[0]) > 1
    got = Scorer(model, tok, "fp32").continuation_logprobs(["the"], ["zebra"])[0]
    assert got == pytest.approx(by_hand(model, list(enc.context + enc.sides[0]), len(enc.context)), abs=1e-5)


def test_critical_words_are_where_the_sentences_differ():
    assert critical_words("the dog near the cars runs .", ("the dog near the cars run .",)) == {"runs", "run"}
    assert critical_words("a b c", ("a x y c", "a b z c")) == {"b", "x", "y", "z"}


def test_out_of_vocabulary_critical_words_are_reported_not_scored(word_tokenizer, tiny_model):
    pairs = [
        Pair("runs", ("zebras",), "the dog"),
        Pair("the dog runs", ("the dog gallops",)),
        Pair("the zebra runs", ("the zebra run",)),
        Pair("runs", ("run",), "the dog"),
    ]
    scores = Scorer(tiny_model, word_tokenizer, "fp32").score(pairs)
    assert [s.correct is None for s in scores] == [True, True, False, False]  # OOV outside the critical word: scored
    assert scores[0].oov == ("zebras",) and scores[1].oov == ("gallops",) and scores[2].oov == ()
    assert math.isnan(scores[0].good)


# --- a stub model with known preferences ----------------------------------------------------------------------


class Bigram(nn.Module):
    """p(next | current) from a table: features are the one-hot current token, the decoder is the table."""

    adaptive = False

    def __init__(self, table: torch.Tensor):
        super().__init__()
        v = table.shape[0]
        self.decoder = nn.Linear(v, v)
        with torch.no_grad():
            self.decoder.weight.copy_(table.T)
            self.decoder.bias.zero_()

    def features(self, tokens, state=None):
        out = nn.functional.one_hot(tokens, self.decoder.in_features).float()
        return out, torch.zeros(1, tokens.shape[0], 1)


def test_stub_model_gives_exact_accuracies_and_group_counts(word_tokenizer):
    from lm.probes.records import Suite
    from lm.probes.suite_scoring import score_suite

    tok = word_tokenizer
    i = tok.token_to_id
    table = torch.zeros(tok.get_vocab_size(), tok.get_vocab_size())
    table[i("dog"), i("runs")] = 5.0  # after "dog" the model prefers "runs"
    table[i("dogs"), i("runs")] = 5.0  # ... and wrongly after "dogs" too
    pairs = [
        Pair("runs", ("run",), "the dog", {"number": "sg"}),
        Pair("run", ("runs",), "the dogs", {"number": "pl"}),
        Pair("runs", ("run",), "a dog", {"number": "sg"}),
        Pair("run", ("runs",), "the big dogs", {"number": "pl"}),
        Pair("runs", ("zebra",), "the dog", {"number": "sg"}),
    ]
    rows, items, summary = score_suite(Scorer(Bigram(table), tok, "fp32"), Suite("s", pairs), ["number"])
    by = {(r["field"], r["value"]): r for r in rows}
    assert (by["all", "all"]["n"], by["all", "all"]["correct"], by["all", "all"]["n_oov"]) == (4, 2, 1)
    assert (by["number", "sg"]["n"], by["number", "sg"]["correct"], by["number", "sg"]["acc"]) == (2, 2, 1.0)
    assert (by["number", "pl"]["n"], by["number", "pl"]["correct"], by["number", "pl"]["acc"]) == (2, 0, 0.0)
    assert summary["n_oov"] == 1 and summary["oov_words"] == ["zebra"] and summary["scored"] == 4


def test_a_prefix_ending_a_line_is_followed_without_a_space():
    tok = train_tokenizer("bpe", LINES * 5, vocab_size=300)
    eos = eos_id(tok)
    (enc,) = PairEncoder(tok).encode([Pair("the", ("a",), "the dog runs .<eos>")])
    assert enc.context == (eos, *tok.encode("the dog runs .", add_special_tokens=False).ids, eos)
    assert enc.sides == (
        tuple(tok.encode("the", add_special_tokens=False).ids),
        tuple(tok.encode("a", add_special_tokens=False).ids),
    )  # no "Ġ": a line starts
