"""Surprisal in bits against hand computation from RNNLM.log_probs (word, BPE and character tokenizers), the
probes' own numbers, out-of-vocabulary words flagged and warned about, and the per-word TSV."""

import csv
import math
import warnings

import numpy as np
import pytest
import torch

from cli import run_script
from conftest import TINY_LINES
from lm.data.tokenizer import eos_id, token_owners, train_tokenizer, word_spans
from lm.errors import UserError
from lm.model.rnnlm import RNNLM
from lm.probes.encoding import OOVWarning
from lm.probes.engine import LogProbEngine, Request
from lm.probes.scoring import Scorer
from lm.probes.surprisal import SurprisalScorer
from lm.probes.word_table import read_sentences, word_rows, write_tsv

LINES = [line + " ." for line in TINY_LINES]


def tiny(tok, seed=0):
    torch.manual_seed(seed)
    return RNNLM(tok.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, dropout=0.0).eval()


def hand_word_bits(model, tok, text):
    """Each whitespace word's surprisal from one forward pass: -log2 p of the tokens whose first non-space
    character lies in the word, read after <eos> and everything before them."""
    enc = tok.encode(text, add_special_tokens=False)
    ids = [eos_id(tok)] + enc.ids
    with torch.no_grad():
        logp = model.log_probs(model.features(torch.tensor([ids[:-1]]))[0])[0].double()  # (T, V)
    bits = [-float(logp[t, ids[t + 1]]) / math.log(2) for t in range(len(enc.ids))]
    out = []
    for start, end in word_spans(text):
        mine = [
            b
            for b, (a, z) in zip(bits, enc.offsets)
            if text[a:z].strip() and start <= a + len(text[a:z]) - len(text[a:z].lstrip()) < end
        ]
        out.append((text[start:end], sum(mine), len(mine)))
    return out


@pytest.fixture(scope="module", params=["word", "bpe", "char"])
def tokenized(request):
    tok = train_tokenizer(request.param, LINES * 5, vocab_size=262 if request.param == "bpe" else None)
    return request.param, tok, tiny(tok)


def test_word_surprisal_is_minus_log2_p_by_hand(tokenized):
    kind, tok, model = tokenized
    texts = ["the dogs see the cat .", "a dog runs .", "the cat and the dog run ."]
    got = SurprisalScorer.from_model(model, tok, "fp32").word_surprisal(texts)
    for text, words in zip(texts, got):
        want = hand_word_bits(model, tok, text)
        assert [(w.word, w.n_tokens, w.oov) for w in words] == [(w, n, False) for w, _, n in want]
        assert [w.surprisal for w in words] == pytest.approx([b for _, b, _ in want], abs=1e-5)
    if kind != "word":  # several tokens to a word: the sums above are sums
        assert max(w.n_tokens for row in got for w in row) > 1


def test_a_words_surprisal_is_the_probes_continuation_score(tokenized):
    _, tok, model = tokenized
    s = SurprisalScorer.from_model(model, tok, "fp32")
    words = s.word_surprisal(["the dogs see the cat ."])[0]
    prefixes = [" ".join(w.word for w in words[:k]) for k in range(len(words))]
    conts = [w.word for w in words]
    assert s.continuation_surprisal(prefixes, conts) == pytest.approx([w.surprisal for w in words], abs=1e-6)
    nats = Scorer(model, tok, "fp32").continuation_logprobs(prefixes, conts)
    assert [-x / math.log(2) for x in nats] == pytest.approx([w.surprisal for w in words], abs=1e-6)
    mean = s.continuation_surprisal(prefixes, conts, reduction="mean")
    assert mean == pytest.approx([w.surprisal / w.n_tokens for w in words], abs=1e-6)


def test_sentence_surprisal_sums_every_token_and_the_closing_eos(tokenized):
    _, tok, model = tokenized
    s = SurprisalScorer.from_model(model, tok, "fp32")
    texts = ["the dog runs .", "a cat and a dog run ."]
    nats = Scorer(model, tok, "fp32").sentence_logprobs(texts)
    assert s.sentence_surprisal(texts) == pytest.approx([-x / math.log(2) for x in nats], abs=1e-6)
    tokens = s.token_surprisal(texts)
    assert [t.token for t in tokens[0]][-1] == "<eos>" and tokens[0][-1].word is None
    assert s.sentence_surprisal(texts, "mean") == pytest.approx(
        [sum(t.surprisal for t in row) / len(row) for row in tokens], abs=1e-6
    )
    first_word = sum(t.surprisal for t in tokens[0] if t.word == 0)
    assert first_word == pytest.approx(s.word_surprisal(texts[0])[0][0].surprisal, abs=1e-9)
    with pytest.raises(ValueError, match="reduction"):
        s.sentence_surprisal(texts, "max")


def test_batched_calls_give_the_numbers_of_one_at_a_time(tokenized):
    _, tok, model = tokenized
    s = SurprisalScorer.from_model(model, tok, "fp32", max_tokens=7)  # several chunks
    texts = ["the dog runs .", "a cat .", "the dogs see the cat and a dog ."]
    together = s.word_surprisal(texts)
    for text, row in zip(texts, together):
        assert [w.surprisal for w in s.word_surprisal(text)[0]] == pytest.approx([w.surprisal for w in row], abs=1e-6)


def test_out_of_vocabulary_words_are_flagged_nan_and_warned_once_per_call(word_tokenizer, tiny_model):
    s = SurprisalScorer.from_model(tiny_model, word_tokenizer, "fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (words,) = s.word_surprisal(["The Dogs run"])
        sentences = s.sentence_surprisal(["The Dogs run", "the dogs run"])
        conts = s.continuation_surprisal(["the Dogs", "the dogs"], ["run", "Run"])
    assert [(w.word, w.oov, math.isnan(w.surprisal)) for w in words] == [
        ("The", True, True),
        ("Dogs", True, True),
        ("run", False, False),
    ]
    assert math.isnan(sentences[0]) and not math.isnan(sentences[1])
    assert not math.isnan(conts[0]) and math.isnan(conts[1])  # a prefix's OOV word is read, the continuation's is not
    oov = [w for w in caught if issubclass(w.category, OOVWarning)]
    assert len(oov) == 3 and "'The', 'Dogs'" in str(oov[0].message) and "NaN" in str(oov[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = Scorer(tiny_model, word_tokenizer, "fp32").sentence_logprobs(["The Dogs run."])[0]
    assert math.isfinite(value) and len(caught) == 1 and "'The', 'Dogs', 'run.'" in str(caught[0].message)


def test_tokens_belong_to_the_word_they_overlap():
    text = "the  dogs run"
    assert word_spans(text) == [(0, 3), (5, 9), (10, 13)]
    # byte-level BPE: "Ġdogs" carries its space; char: a space is its own token and belongs to no word
    assert token_owners([(0, 3), (3, 4), (4, 9), (9, 13)], word_spans(text)) == [0, -1, 1, 2]
    assert token_owners([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)], [(0, 3), (5, 9)]) == [0, 0, 0, -1, -1, 1]


def test_engine_token_scores_are_the_terms_of_its_sums(word_tokenizer, tiny_model):
    rng = np.random.default_rng(1)
    v = word_tokenizer.get_vocab_size()
    reqs = [
        Request(
            (0, *rng.integers(1, v, rng.integers(0, 5)).tolist()),
            tuple(rng.integers(0, v, rng.integers(0, 5)).tolist()),
            bool(rng.random() < 0.5),
        )
        for _ in range(30)
    ]
    engine = LogProbEngine(tiny_model, "fp32", max_tokens=11)
    terms = engine.token_scores(reqs)
    assert [len(t) for t in terms] == [len(r.continuation) + (len(r.context) - 1) * r.score_context for r in reqs]
    np.testing.assert_allclose([t.sum() for t in terms], engine(reqs), atol=1e-9)


def test_the_word_table_keeps_line_numbers_and_marks_oov(tmp_path, word_tokenizer, tiny_model):
    path = tmp_path / "sentences.txt"
    path.write_text("the dog runs\n\n  a Zebra runs  \n")
    sentences = read_sentences(path)
    assert sentences == [(1, "the dog runs"), (3, "a Zebra runs")]
    rows = word_rows("tiny", SurprisalScorer.from_model(tiny_model, word_tokenizer, "fp32"), sentences)
    with open(write_tsv(rows, tmp_path / "s.tsv")) as f:
        back = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["sentence"], r["word_index"], r["word"], r["oov"]) for r in back] == [
        ("1", "1", "the", "false"),
        ("1", "2", "dog", "false"),
        ("1", "3", "runs", "false"),
        ("3", "1", "a", "false"),
        ("3", "2", "Zebra", "true"),
        ("3", "3", "runs", "false"),
    ]
    assert back[4]["surprisal"] == "NA" and float(back[0]["surprisal"]) == pytest.approx(rows[0]["surprisal"], abs=1e-6)
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(UserError, match="no sentences in it"):
        read_sentences(tmp_path / "blank.txt")
    with pytest.raises(UserError, match="task=surprisal needs file=PATH"):
        read_sentences(None)


def test_task_surprisal_writes_the_apis_numbers_one_row_per_word(tmp_path, tiny_checkpoint):
    text = tmp_path / "sentences.txt"
    text.write_text("the dog runs\n\nThe Dogs run\n")
    out = tmp_path / "eval"
    res = run_script(
        "evaluate.py", f"ckpt={tiny_checkpoint}", "task=surprisal", f"file={text}", "wandb=false", f"output_dir={out}"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    with open(out / "surprisal.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["ckpt"], r["sentence"], r["word"], r["oov"]) for r in rows] == [
        ("tiny", "1", "the", "false"),
        ("tiny", "1", "dog", "false"),
        ("tiny", "1", "runs", "false"),
        ("tiny", "3", "The", "true"),
        ("tiny", "3", "Dogs", "true"),
        ("tiny", "3", "run", "false"),
    ]
    assert "2 word(s) not in a model's vocabulary have surprisal NA" in res.stdout
    want = SurprisalScorer.load(tiny_checkpoint, precision="fp32").word_surprisal(["the dog runs"])[0]
    assert [float(r["surprisal"]) for r in rows[:3]] == pytest.approx([w.surprisal for w in want], abs=1e-5)
