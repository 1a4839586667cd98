"""The built-in corpus (lm/data/grammar.py): every dependency holds, distances follow the config, seeds repeat."""

import collections
import hashlib
import os
import subprocess
import sys
import time

import pytest

from lm.data.grammar import AGREEMENT_CONSTRUCTIONS, GENDER_CONSTRUCTIONS, GrammarConfig, Line, generate, generate_text
from lm.data.lexicon import load_lexicon
from lm.errors import UserError

N = 3000
LEX = load_lexicon()
W = LEX.words
NOUNISH = ("noun", "name")


def pos(word):
    return W[word].pos


@pytest.fixture(scope="module")
def train():
    return generate(N, "train", seed=0)


@pytest.fixture(scope="module")
def test_split():
    return generate(N, "test", seed=0)


@pytest.fixture(scope="module", params=["train", "test"])
def lines(request, train, test_split):
    return train if request.param == "train" else test_split


def of_kind(lines, kind):
    return [(line.text.split(), line.meta) for line in lines if line.meta["kind"] == kind]


def test_format_and_vocabulary(lines):
    for line in lines:
        assert isinstance(line, Line)
        toks = line.text.split(" ")
        assert all(toks), line.text  # single spaces, no leading or trailing space
        assert line.text == line.text.lower() and "<eos>" not in line.text and "\n" not in line.text
        assert toks[-1] == "."
        assert set(toks) <= set(W), line.text


def test_vocabulary_is_small_and_used(train):
    assert 150 <= len(LEX.vocab) <= 300
    seen = {t for line in train for t in line.text.split()}
    assert len(seen) >= 0.9 * len(LEX.vocab)  # the grammar uses (nearly) the whole lexicon


def test_every_verb_agrees_with_its_subject(lines):
    n_checked = 0
    for line in lines:
        toks, meta = line.text.split(), line.meta
        agreement = [(c, t) for kind, c, t in meta["deps"] if kind == "agreement"]
        targets = collections.Counter(t for _, t in agreement)
        verbs = [i for i, x in enumerate(toks) if pos(x) == "verb" and W[x].number]
        assert sorted(targets) == verbs and max(targets.values()) == 1, line.text  # each verb: one controller
        for c, t in agreement:
            assert c < t and pos(toks[c]) in NOUNISH + ("pronoun",), line.text
            assert W[toks[c]].number == W[toks[t]].number, f"{toks[c]} ... {toks[t]}: {line.text}"
            n_checked += 1
        if meta["kind"] == "agreement":
            c, t = meta["controller"], meta["target"]
            assert ("agreement", c, t) in meta["deps"]
            assert W[toks[c]].number == W[toks[t]].number == meta["number"]
    assert n_checked > 2 * len(lines)


def test_attractors_are_where_meta_says(lines):
    for toks, meta in of_kind(lines, "agreement"):
        c, t, num = meta["controller"], meta["target"], meta["number"]
        between = [i for i in range(c + 1, t) if pos(toks[i]) in NOUNISH]
        assert meta["attractors"] == [i for i in between if W[toks[i]].number != num], " ".join(toks)
        assert meta["n_attractors"] == len(meta["attractors"])
        assert all(W[toks[i]].number != num for i in meta["attractors"])
    for toks, meta in of_kind(lines, "gender"):
        c, t, g = meta["controller"], meta["target"], meta["gender"]
        between = [i for i in range(c + 1, t) if pos(toks[i]) in NOUNISH]
        assert meta["attractors"] == [i for i in between if W[toks[i]].gender in ("m", "f") and W[toks[i]].gender != g]
    counts = collections.Counter(m["n_attractors"] for _, m in of_kind(lines, "agreement"))
    assert counts[0] and counts[1] and counts[2]  # zero, one and several attractors all occur


def test_attractor_probability_is_a_knob():
    for p, expect in ((0.0, "none"), (1.0, "all")):
        for line in generate(500, "train", 0, GrammarConfig(attractor_prob=p)):
            toks, meta = line.text.split(), line.meta
            if meta["kind"] != "agreement":
                continue
            between = [i for i in range(meta["controller"] + 1, meta["target"]) if pos(toks[i]) in NOUNISH]
            assert meta["attractors"] == ([] if expect == "none" else between), line.text


def test_constructions_are_built_as_named(lines):
    for toks, meta in of_kind(lines, "agreement"):
        c, t, kind, n = meta["controller"], meta["target"], meta["construction"], meta["n_phrases"]
        inner = meta.get("inner", kind)
        if kind == "sent_comp":
            m = meta["matrix_subject"]
            assert m < c and pos(toks[m + 1]) == "verb" and "complement" in W[toks[m + 1]].classes
            assert toks[m + 2] == "that" and W[toks[m]].number == meta["matrix_number"]
        if kind == "simple" or inner == "simple":
            assert t == c + 1 and n == 0
        elif kind == "vp_coord":
            assert toks[t - 1] == "and" and pos(toks[c + 1]) == "verb"
        elif inner == "pp":
            assert pos(toks[c + 1]) == "preposition"
            assert sum(pos(x) == "preposition" for x in toks[c:t]) == n
        elif inner == "subj_rc":
            assert toks[c + 1] == "that" and ("agreement", c, c + 2) in meta["deps"]
        elif inner == "obj_rc":
            assert toks[c + 1] == "that" and toks[c + 2] == "the" and pos(toks[t - 1]) == "verb"
            rc_subject = next(i for i in range(c + 2, t) if pos(toks[i]) in NOUNISH)
            assert ("agreement", rc_subject, t - 1) in meta["deps"]  # the RC verb agrees with the RC subject
    counts = collections.Counter(m["construction"] for _, m in of_kind(lines, "agreement"))
    total = sum(counts.values())
    assert all(counts[k] / total > 0.05 for k in AGREEMENT_CONSTRUCTIONS), counts
    counts = collections.Counter(m["construction"] for _, m in of_kind(lines, "gender"))
    assert all(counts[k] / sum(counts.values()) > 0.15 for k in GENDER_CONSTRUCTIONS), counts
    kinds = collections.Counter(
        m["kind"] for _, m in of_kind(lines, "agreement") + of_kind(lines, "gender") + of_kind(lines, "recall")
    )
    assert kinds["agreement"] > kinds["gender"] > kinds["recall"] > 0.1 * len(lines)


def test_every_pronoun_refers_to_the_latest_noun_subject(lines):
    """The rule: a pronoun or reflexive refers to the most recent matrix subject before it that is not a pronoun,
    and takes that subject's gender (they / themselves when plural)."""
    n_change = 0
    for line in lines:
        toks, meta = line.text.split(), line.meta
        anaphors = [(c, t) for kind, c, t in meta["deps"] if kind == "anaphor"]
        assert sorted(t for _, t in anaphors) == [i for i, x in enumerate(toks) if pos(x) in ("pronoun", "reflexive")]
        subjects = meta["subjects"]
        assert subjects == sorted(subjects) and len(subjects) == toks.count(".")
        for c, t in anaphors:
            assert c == max(s for s in subjects if s < t and pos(toks[s]) != "pronoun"), line.text
            ante = W[toks[c]]
            assert ante.gender in ("m", "f") and pos(toks[c]) in NOUNISH
            expected = LEX.pronoun(ante.gender, ante.number, reflexive=pos(toks[t]) == "reflexive")
            assert toks[t] == expected, f"{toks[c]} ... {toks[t]}: {line.text}"
            if pos(toks[t]) == "reflexive":
                assert pos(toks[t - 1]) == "verb" and ("agreement", c, t - 1) in meta["deps"]
        if meta["kind"] == "gender":
            assert anaphors[-1] == (meta["controller"], meta["target"])
            assert W[toks[meta["controller"]]].gender == meta["gender"]
        if meta.get("construction") == "subject_change":
            p, c = meta["previous_subject"], meta["controller"]
            assert p < toks.index(".") < c and W[toks[p]].gender == meta["previous_gender"] != meta["gender"]
            n_change += 1
    assert n_change > 0.05 * len(lines)
    gender = [m for _, m in of_kind(lines, "gender") if m["n_phrases"]]
    assert sum(m["n_attractors"] > 0 for m in gender) > 0.6 * len(gender)  # material holds the other gender


def test_recall_names_the_language_of_the_country(lines):
    recall = of_kind(lines, "recall")
    assert len(recall) > 0.1 * len(lines)
    for toks, meta in recall:
        c, t = meta["controller"], meta["target"]
        countries = [i for i, x in enumerate(toks) if pos(x) == "country"]
        languages = [i for i, x in enumerate(toks) if pos(x) == "language"]
        assert countries == [c] and languages == [t] and toks[c] == meta["country"]
        assert toks[t] == LEX.country_language[toks[c]] == meta["language"]
        assert toks[t - 3 : t] == [toks[0], "speaks", "fluent"] and toks[c + 1] == "."
        filler = toks[c + 2 : t - 3]
        assert len(filler) == meta["filler"] == meta["name2"] - c - 2
        assert not any(pos(x) in ("name", "pronoun", "reflexive") for x in filler)
        assert not any(W[x].gender in ("m", "f") for x in filler)


def test_distances_follow_the_config(train, test_split):
    cfg = GrammarConfig()
    longest = {}
    for split, lines in (("train", train), ("test", test_split)):
        r = cfg.ranges(split)
        for line in lines:
            m = line.meta
            assert m["distance"] == m["target"] - m["controller"] > 0
            if m["kind"] == "recall":
                assert r["filler"][0] <= m["filler"] <= r["filler"][1] and m["distance"] == m["filler"] + 5
            else:
                assert r["distance"][0] <= m["distance"] <= r["distance"][1]
                assert r["phrases"][0] <= m["n_phrases"] <= r["phrases"][1]
            key = (split, m["kind"])
            longest[key] = max(longest.get(key, 0), m["distance"])
    for kind in ("agreement", "gender", "recall"):
        assert longest["test", kind] > longest["train", kind], longest
    assert longest["test", "agreement"] > cfg.distance_train[1]


def test_distance_knobs_change_the_corpus():
    cfg = GrammarConfig(phrases_train=(3, 3), distance_train=(6, 14), filler_train=(7, 9))
    lines = generate(600, "train", 1, cfg)
    for line in lines:
        m = line.meta
        if m["kind"] == "recall":
            assert 7 <= m["filler"] <= 9
        else:
            assert m["n_phrases"] == 3 and 6 <= m["distance"] <= 14, line.text
    assert {m.meta["construction"] for m in lines} >= set(AGREEMENT_CONSTRUCTIONS) - {"simple"}
    with pytest.raises(UserError, match="distance"):
        generate(50, "train", 0, GrammarConfig(phrases_train=(0, 0), distance_train=(20, 30)))
    with pytest.raises(UserError, match="filler"):
        generate(5, "train", 0, GrammarConfig(filler_train=(1, 3)))


def test_same_seed_same_text_and_streams_differ():
    a = generate_text(400, "train", seed=3)
    assert a == generate_text(400, "train", seed=3) == [line.text for line in generate(400, "train", seed=3)]
    assert a != generate_text(400, "train", seed=4)
    splits = [generate_text(400, split, seed=3) for split in ("train", "valid", "test")]
    assert len({tuple(s) for s in splits}) == 3
    assert len(set(splits[0]) & set(splits[1])) < 0.5 * len(a)  # not the same stream shifted
    assert a != generate_text(400, "train", seed=3, config=GrammarConfig(adjective_prob=0.5))


def test_same_text_in_another_process():
    code = (
        "import hashlib; from lm.data.grammar import generate_text; "
        "print(hashlib.sha256('\\n'.join(generate_text(300, 'test', 7)).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256("\n".join(generate_text(300, "test", 7)).encode()).hexdigest()


def test_config_from_yaml_like_dict():
    cfg = GrammarConfig(
        **{"phrases_test": [1, 5], "kind_weights": {"agreement": 1, "recall": 1}, "attractor_prob": "0.3"}
    )
    assert cfg.phrases_test == (1, 5) and cfg.attractor_prob == 0.3
    kinds = {line.meta["kind"] for line in generate(200, "test", 0, cfg)}
    assert kinds == {"agreement", "recall"}
    assert GrammarConfig(**GrammarConfig().__dict__) == GrammarConfig()
    for bad in (
        {"phrases_train": [3, 1]},
        {"attractor_prob": 1.5},
        {"kind_weights": {"poems": 1}},
        {"gender_weights": {"reflexive": 0}},
    ):
        with pytest.raises(UserError):
            GrammarConfig(**bad)
    with pytest.raises(UserError, match="split"):
        generate(1, "dev")


def test_lexicon_features():
    assert (W["dogs"].pos, W["dogs"].number, W["dogs"].sg, W["dogs"].gender) == ("noun", "pl", "dog", "none")
    assert (W["queen"].gender, W["mary"].gender, W["john"].number) == ("f", "f", "sg")
    assert LEX.other_number("sees") == "see" and LEX.other_number("are") == "is" and LEX.other_number("men") == "man"
    assert LEX.pronoun("m", "sg") == "he" and LEX.pronoun("f", "pl", reflexive=True) == "themselves"
    assert set(LEX.country_language.values()) == set(LEX.languages)
    assert {"transitive", "complement"} <= set(W["knows"].classes)


def test_a_million_tokens_in_seconds():
    start = time.perf_counter()
    text = generate_text(7000, "train", 0)
    elapsed = time.perf_counter() - start
    tokens = sum(len(line.split()) for line in text)
    assert tokens > 80_000 and tokens / elapsed > 30_000  # about 700k tokens/s on one idle core; room for a busy one
