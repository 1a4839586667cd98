"""Built-in suites: pairs differ only in the critical word, conditions and distances are as stated, a seed fixes
the suite, and the English vocabulary is cut to and written for the model at hand."""

import pytest

from lm.data.grammar import GrammarConfig, generate_text
from lm.data.lexicon import load_lexicon
from lm.data.tokenizer import train_tokenizer
from lm.errors import UserError
from lm.probes.catalog import choose_vocab, english_for
from lm.probes.suites import builtin_suite
from lm.probes.vocab import TextStyle, coverage, detect_style, load_vocab

LEX = load_lexicon()
N = 240


@pytest.fixture(scope="module")
def grammar():
    return load_vocab("grammar")


def default_recall_range(filler: int, cfg=GrammarConfig()) -> str:
    """The range a recall item of this filler length has against the default corpus."""
    return "train" if filler <= cfg.filler_train[1] else "test" if filler <= cfg.filler_test[1] else "beyond"


def words_of(pair):
    return pair.prefix.split()


def nouns_between(words, start, lex=LEX):
    return [w for w in words[start + 1 :] if (f := lex.features(w)) and f.pos in ("noun", "name")]


def test_agreement_pairs_are_verb_forms_that_agree_with_the_subject(grammar):
    suite = builtin_suite("agreement", grammar, N, seed=3, max_phrases=5, max_distance=30)
    assert {p.meta["construction"] for p in suite.pairs} == {
        "simple",
        "pp",
        "subj_rc",
        "obj_rc",
        "sent_comp",
        "vp_coord",
    }
    for p in suite.pairs:
        w, m = words_of(p), p.meta
        s = len(w) - m["distance"]  # the subject's head, `distance` words before the verb
        assert LEX.features(w[s]).pos == "noun" and LEX.number(w[s]) == m["subject_number"]
        assert LEX.features(p.good).pos == "verb" and LEX.number(p.good) == m["subject_number"]
        assert p.bad == (LEX.other_number(p.good),)  # only the critical word differs
        assert (m["verb"] == "copula") == (p.good in {"is", "are", "was", "were"}) != (m["verb"] == "lexical")
        between = nouns_between(w, s)
        assert m["n_attractors"] == sum(LEX.number(x) != m["subject_number"] for x in between)
        assert m["attractor_number"] == ({LEX.number(x) for x in between}.pop() if between else "none")
        assert m["n_phrases"] <= 5 and 1 <= m["distance"] <= 30
        train = m["n_phrases"] <= 2 and m["distance"] <= 12
        assert (m["range"] == "train") == train
        assert m["range"] == "train" or m["range"] == (
            "test" if m["n_phrases"] <= 4 and m["distance"] <= 24 else "beyond"
        )
        shape = {
            "simple": lambda: len(w) == s + 1,
            "pp": lambda: LEX.features(w[s + 1]).pos == "preposition",
            "subj_rc": lambda: w[s + 1] == "that" and LEX.features(w[s + 2]).pos == "verb",
            "obj_rc": lambda: w[s + 1 : s + 3] == ["that", "the"],
            "vp_coord": lambda: w[-1] == "and",
            "sent_comp": lambda: "that" in w[:s] and LEX.features(w[w.index("that") - 1]).pos == "verb",
        }
        assert shape[m["construction"]](), (m["construction"], p.prefix)


def test_agreement_is_balanced_and_reaches_attractors(grammar):
    pairs = builtin_suite("agreement", grammar, N, seed=0).pairs
    assert sum(p.meta["subject_number"] == "sg" for p in pairs) == N // 2
    assert {p.meta["n_attractors"] for p in pairs} >= {0, 1, 2, 3}
    assert {p.meta["range"] for p in pairs} == {"train", "test"}


def test_gender_pairs_follow_the_pronoun_rule(grammar):
    suite = builtin_suite("gender", grammar, N, seed=5)
    seen, rivals = set(), set()
    for p in suite.pairs:
        w, m = words_of(p), p.meta
        seen.add(m["construction"])
        s = len(w) - m["distance"]
        assert LEX.gender(w[s]) == m["gender"] and LEX.number(w[s]) == m["number"]
        other = "f" if m["gender"] == "m" else "m"
        reflexive = LEX.features(p.good).pos == "reflexive"
        assert p.good == LEX.pronoun(m["gender"], m["number"], reflexive)
        assert p.bad == (LEX.pronoun(other, "sg", reflexive),)
        between = nouns_between(w, s)
        assert m["n_distractors"] == sum(LEX.gender(x) == other for x in between)
        assert m["distractor_gender"] == ({LEX.gender(x) for x in between}.pop() if between else "none")
        variant = m.get("variant", m["construction"])
        if variant == "pronoun_next":
            assert w[-1] == "." and "." not in w[s:-1]  # the pronoun opens the sentence after the subject's
        elif variant == "pronoun_comp":
            assert w[-1] == "that"
        else:
            assert reflexive and LEX.number(w[-1]) == m["number"]
        if m["construction"] == "subject_change":  # the first sentence's subject has the other gender
            first = next(x for x in w if LEX.features(x).pos in ("noun", "name"))
            assert LEX.gender(first) == other == m["previous_gender"] and "." in w[:s]
        assert m["rival_antecedent"] == has_rival(w, reflexive, other)
        rivals.add((reflexive, m["rival_antecedent"]))
    assert seen == {"reflexive", "pronoun_comp", "pronoun_next", "subject_change"}
    assert rivals == {(True, False), (False, False), (False, True)}  # a reflexive is never open


def has_rival(words, reflexive, other, lex=LEX):
    """A singular noun or name of the bad pronoun's gender anywhere before it: a referent English allows."""
    sg = [x for x in words if (f := lex.features(x)) and f.pos in ("noun", "name") and lex.number(x) == "sg"]
    return not reflexive and any(lex.gender(x) == other for x in sg)


def test_english_gender_items_have_one_grammatical_answer_and_keep_their_conditions(grammar):
    english = load_vocab("english")
    pairs = builtin_suite("gender", english, N, seed=5).pairs
    corpus = builtin_suite("gender", grammar, N, seed=5).pairs
    for p in pairs:
        m, other = p.meta, "f" if p.meta["gender"] == "m" else "m"
        assert not m["rival_antecedent"]
        assert not has_rival(words_of(p), english.features(p.good).pos == "reflexive", other, english)

    def share(ps, key):
        return sum(key(p.meta) for p in ps) / len(ps)

    # drawn again, a line keeps its item's control, number and count of other-gender nouns: the English suite is
    # no easier than the corpus's by those conditions, only without the open items
    for key in (
        lambda m: m["distractor_gender"] == "none",
        lambda m: m["number"] == "pl",
        lambda m: m["n_distractors"] >= 3,
    ):
        assert abs(share(pairs, key) - share(corpus, key)) < 0.1
    assert {p.meta["construction"] for p in pairs} == {"reflexive", "pronoun_comp", "pronoun_next", "subject_change"}
    assert sum(p.meta["rival_antecedent"] for p in corpus) > N // 4  # the corpus's rule scores open items too


def test_recall_pairs_score_the_language_against_all_others(grammar):
    suite = builtin_suite("recall", grammar, 30, seed=1)
    languages = set(LEX.country_language.values())
    for p in suite.pairs:
        w, m = words_of(p), p.meta
        country = w[len(w) - m["distance"]]
        assert p.good == LEX.country_language[country]
        assert set(p.bad) == languages - {p.good}
        assert (
            m["distance"] == m["filler"] + 5
            and w[-2:] == ["speaks", "fluent"]
            and w[0] == w[w.index(".") + 1 + m["filler"]]
        )
        assert m["range"] == default_recall_range(m["filler"])
    assert {p.meta["filler"] for p in suite.pairs} == {0, 4, 8, 12, 16, 24, 32, 40, 48, 64}
    assert {p.meta["range"] for p in suite.pairs} == {"train", "test", "beyond"}


def _class_trigrams(texts):
    """Trigrams of word classes (noun, name, preposition, ...; a verb with its classes, "verb/transitive";
    "." and <s> as themselves)."""

    def tag(w):
        f = LEX.features(w)
        return w if w == "." else "/".join((f.pos, *f.classes)) if f.pos == "verb" else f.pos

    out = set()
    for text in texts:
        tags = ["<s>", *map(tag, text.split())]
        out.update(zip(tags, tags[1:], tags[2:]))
    return out


def test_the_suites_build_what_the_corpus_teaches(grammar):
    # One builder: every sequence of word classes an in-range item holds, up to and including its critical
    # word, occurs in the corpus's training lines; items beyond the range may hold more phrases, never new shapes.
    taught = _class_trigrams(generate_text(20000, "train", 0))
    for name in ("agreement", "gender", "recall"):
        suite = builtin_suite(name, grammar, 1000, seed=5)
        shown = _class_trigrams(p.prefix + " " + p.good for p in suite.pairs if p.meta["range"] == "train")
        assert shown <= taught, (name, sorted(shown - taught)[:5])


@pytest.mark.parametrize("name", ["agreement", "gender", "recall"])
def test_same_seed_same_suite(grammar, name):
    a = [p.record() for p in builtin_suite(name, grammar, 50, seed=7).pairs]
    assert a == [p.record() for p in builtin_suite(name, grammar, 50, seed=7).pairs]
    assert a != [p.record() for p in builtin_suite(name, grammar, 50, seed=8).pairs]


def test_suite_errors_are_user_errors(grammar):
    with pytest.raises(UserError, match="unknown suite 'agreemnt'"):
        builtin_suite("agreemnt", grammar, 5)
    with pytest.raises(UserError, match="max_distance"):
        builtin_suite("agreement", grammar, 20, max_phrases=4, max_distance=1)


def test_text_styles():
    words = ["mary", "sees", "john", ".", "he"]
    proper = frozenset(["mary", "john"])
    assert TextStyle().join(TextStyle().forms(words, proper)) == "mary sees john . he"
    cased = TextStyle(lower=False, period="attached")
    assert cased.join(cased.forms(words, proper)) == "Mary sees John. He"
    eos = TextStyle(lower=True, period="eos")
    assert eos.join(eos.forms(words, proper)) == "mary sees john<eos>he"


def test_style_is_read_off_the_tokenizer():
    ptb = train_tokenizer("word", ["the company said it will grow", "he expects N shares"] * 3)
    assert detect_style(ptb) == TextStyle(lower=True, period="eos")
    wiki = train_tokenizer("word", ["The company said it will grow .", "He expects shares ."] * 3)
    assert detect_style(wiki) == TextStyle(lower=False, period="sep")
    books = train_tokenizer("bpe", ["The company said it will grow. He expects shares."] * 20, vocab_size=300)
    assert detect_style(books) == TextStyle(lower=False, period="attached")


def test_english_vocabulary_is_cut_to_what_every_model_spells():
    lines = [
        "the man sees the woman",
        "john knows mary",
        "the men see the women",
        "he likes himself",
        "she likes herself",
        "they like themselves",
        "the executive says that he works in the city near the bank",
        "the executives say that they work",
        "john grew up in france",
        "john speaks french",
        "mary lives in japan and speaks japanese",
        "the old dog is happy",
        "the dogs are happy",
    ]
    tok = train_tokenizer("word", lines)
    vocab = english_for([tok])
    assert vocab.gendered_nouns["m"] == (("man", "men"),) and vocab.names == {"m": ("john",), "f": ("mary",)}
    assert vocab.recall_frames == (("speaks",),)  # "speaks fluent" is missing "fluent": the alternative
    assert dict(vocab.country_language) == {"france": "french", "japan": "japanese"}
    cov = coverage(load_vocab("english"), tok)
    assert 0 < cov["covered"] < cov["words"] and "fluent" in cov["missing"]
    pairs = builtin_suite("gender", vocab, 20, style=detect_style(tok)).pairs
    assert all(set(p.prefix.replace("<eos>", " ").split()) <= set(tok.get_vocab()) for p in pairs)


def test_auto_vocabulary_follows_the_training_corpus():
    assert choose_vocab("auto", {"data": {"source": "builtin", "lines": {}}}) == "grammar"
    assert choose_vocab("auto", {"data": {"source": "hub", "path": "ptb"}}) == "english"
    assert choose_vocab("auto", {"data": {"source": "builtin", "dir": "../shared/data/ptb"}}) == "english"
    assert choose_vocab("grammar", {}) == "grammar"


def test_ranges_follow_the_distances_of_the_models_own_corpus(grammar, word_tokenizer):
    from lm.probes.catalog import BuiltinOptions, builtin_for

    def ranges(config):
        suite = builtin_for("recall", grammar, word_tokenizer, BuiltinOptions(40, 0, 4, 24), config=config)
        return {p.meta["filler"]: p.meta["range"] for p in suite.pairs}

    builtin = {"source": "builtin", "lines": {}}
    short = ranges({"data": builtin | {"grammar": {"filler_train": [0, 8], "filler_test": [0, 16]}}})
    assert (short[8], short[12], short[16], short[24]) == ("train", "test", "test", "beyond")
    expected = {f: default_recall_range(f) for f in short}
    assert ranges({"data": builtin}) == ranges({}) == expected


def test_a_vocabulary_too_small_for_a_suite_says_what_it_lacks(word_tokenizer):
    vocab = english_for([word_tokenizer])
    with pytest.raises(UserError, match="no words of .*prepositions.*use vocab=grammar"):
        builtin_suite("agreement", vocab, 5)


def test_style_overrides():
    from lm.probes.catalog import english_style

    ptb = train_tokenizer("word", ["the company said it will grow", "he expects N shares"] * 3)
    assert english_style(ptb) == TextStyle(lower=True, period="eos")
    assert english_style(ptb, "cased", "attached") == TextStyle(lower=False, period="attached")
    with pytest.raises(UserError, match="style.case"):
        english_style(ptb, "upper")
