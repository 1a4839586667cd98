from pathlib import Path

import pytest
from tokenizers import Tokenizer

from lm.data.tokenizer import EOS, UNK, decode, encode_lines, eos_id, kind_of, load_tokenizer, train_tokenizer

PTB = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb" / "train.txt"
LINES = ["the cat sat on the mat", "naïve café — déjà vu", "日本語 テキスト ✓", "a  b   c"]


def test_ptb_word_vocabulary_has_exactly_ten_thousand_contiguous_ids():
    if not PTB.is_file():
        pytest.skip("shared PTB copy not present")
    tok = train_tokenizer("word", PTB.read_text().splitlines())
    assert tok.get_vocab_size() == 10_000
    assert sorted(tok.get_vocab().values()) == list(range(10_000))  # no hole: one embedding row per type
    assert tok.token_to_id(UNK) is not None and tok.token_to_id(EOS) is not None


def test_word_round_trip_with_eos_and_unknown_words():
    tok = train_tokenizer("word", LINES)
    ids = [i for line in encode_lines(tok, ["the cat sat", "the zebra sat"]) for i in line]
    assert ids.count(eos_id(tok)) == 2
    assert decode(tok, ids) == "the cat sat\nthe <unk> sat\n"


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_byte_level_and_char_round_trip_keep_exact_text(kind):
    tok = train_tokenizer(kind, LINES * 20, vocab_size=300 if kind == "bpe" else None)
    for line in LINES:
        (ids,) = encode_lines(tok, [line])
        assert ids[-1] == eos_id(tok)
        assert decode(tok, ids) == line + "\n"


def test_bpe_encodes_unseen_characters_exactly():
    tok = train_tokenizer("bpe", ["plain ascii text only"] * 20, vocab_size=300)
    (ids,) = encode_lines(tok, ["Ω≈ç √ 🎉"])
    assert decode(tok, ids[:-1]) == "Ω≈ç √ 🎉"


@pytest.mark.parametrize("kind", ["word", "bpe", "char"])
def test_save_load_identity(kind, tmp_path):
    tok = train_tokenizer(kind, LINES * 20, vocab_size=300 if kind == "bpe" else None)
    tok.save(str(tmp_path / "tokenizer.json"))
    back = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert kind_of(back) == kind
    assert back.get_vocab() == tok.get_vocab()
    assert encode_lines(back, LINES) == encode_lines(tok, LINES)


def test_word_level_with_split_punctuation_keeps_raw_text_small():
    lines = ['"Come here," he said. She came.', "He saw himself; she saw herself!"]
    plain = train_tokenizer("word", lines)
    split = train_tokenizer("word", lines, split_punctuation=True)
    assert "said." in plain.get_vocab() and "said." not in split.get_vocab()
    assert split.encode('"Come here," he said.', add_special_tokens=False).tokens == [
        '"',
        "Come",
        "here",
        ",",
        '"',
        "he",
        "said",
        ".",
    ]
    varied = [f"{w}{p}" for w in ("he", "she", "said", "came", "here") for p in (".", ",", "!", ";", "")]
    assert train_tokenizer("word", varied, split_punctuation=True).get_vocab_size() == 2 + 5 + 4
    assert train_tokenizer("word", varied).get_vocab_size() == 2 + 25
    # the probes read "." as a word of its own and the case off the vocabulary
    from lm.probes.vocab import detect_style

    style = detect_style(split)
    assert style.period == "sep" and not style.lower


def test_word_level_lowercase_merges_cases_when_training_and_encoding(tmp_path):
    lines = ["She said. she came.", "He saw her; he left."]
    tok = train_tokenizer("word", lines, split_punctuation=True, lowercase=True)
    assert "She" not in tok.get_vocab() and "she" in tok.get_vocab()
    tok.save(str(tmp_path / "t.json"))
    back = Tokenizer.from_file(str(tmp_path / "t.json"))
    assert back.encode("SHE Said.", add_special_tokens=False).tokens == ["she", "said", "."]
    assert UNK not in back.encode("He saw her.", add_special_tokens=False).tokens
    from lm.probes.vocab import detect_style

    assert detect_style(back).lower


@pytest.mark.parametrize("kind", ["word", "bpe", "char"])
def test_the_post_processor_ends_a_line_with_eos_and_older_tokenizers_get_it_on_load(kind):
    tok = train_tokenizer(kind, LINES)
    eos = eos_id(tok)
    line, fragment = tok.encode("the cat"), tok.encode("the cat", add_special_tokens=False)
    assert line.ids == fragment.ids + [eos] and encode_lines(tok, ["the cat"]) == [line.ids]
    saved_before = Tokenizer.from_str(tok.to_str())
    saved_before.post_processor = None  # as tokenizer.json files written before the post-processor
    old = saved_before.to_str()
    assert Tokenizer.from_str(old).encode("the cat").ids == fragment.ids  # no <eos> without the post-processor
    assert load_tokenizer(old).to_str() == tok.to_str()  # the same tokenizer to the resume check
    assert encode_lines(Tokenizer.from_str(old), ["the cat"]) == [line.ids]
