"""Subject-gender tracking: which pronoun or reflexive refers back to the subject?

    reflexive       the king near the girls sees [himself | herself]
    pronoun_comp    mary that the boys like says that [she | he]
    pronoun_next    the queen sees the prince near the house . [she | he]
    subject_change  mary sees john . john near the girls thinks that [he | she]   (drop the old subject's gender)

The pronoun rule is the built-in corpus's (lm/data/grammar.py): a pronoun refers to the most recent main-clause
noun-phrase subject. The intervening nouns of an item all have one gender, "distractor_gender": the other one
(each a distractor), or the subject's own (a control); plural subjects take they / themselves, against the
singular form of the other gender. Fields: construction, gender (the subject's m / f), number, distractor_gender
(m / f / none), n_distractors, n_phrases, distance (words from the subject's head to the pronoun), distance_bin,
range; subject_change adds variant (the second sentence's construction) and previous_gender.
rival_antecedent: the bad side is a pronoun (not a reflexive, which its own clause's subject binds) and a singular
noun or name of its gender comes before it, so English lets the bad pronoun refer to that one ("the king near
mary says that [he | she]"); only the corpus's rule makes such an item's bad side wrong. So only the grammar
vocabulary draws them: in any other (English) an item with a rival is drawn again, and every item has one
grammatical answer, as in BLiMP and Marvin & Linzen (2018). A 2x256 fiction LSTM scored 0.34-0.49 on such items
(BENCHMARKS.md, "What the fiction text says about a pronoun's antecedent").
The lines are the corpus's own gender lines (lm/data/constructions.py), cut before the pronoun.
"""

from __future__ import annotations

from lm.data.constructions import Constructions
from lm.data.grammar import GENDER_CONSTRUCTIONS as CONSTRUCTIONS
from lm.probes.sensitivity import Contrast
from lm.probes.suites import common
from lm.probes.suites.common import WordPair, cut, draw, group_by, item_meta

GROUP_BY = group_by("gender", "number", "distractor_gender", "n_distractors", "rival_antecedent")
# singular subjects only: a plural one's bad side is a singular pronoun, not the other gender's
CONTRAST = Contrast("gender", ("m", "f"), {"number": "sg"}, shown=("n_distractors", "rival_antecedent"))
SAME_GENDER_PROB = 0.25  # an item's intervening nouns all have the subject's gender (a control), else the other
CORPUS_RULE_VOCAB = "grammar"  # the one vocabulary whose text follows the subject rule on open items
MAX_DRAWS = 10_000  # a line without a rival, its nouns of the other gender all plural: rare for 4 nouns
KEPT = ("n_distractors", "distractor_gender", "number")  # what a line drawn again keeps


def item(i: int, c: Constructions, max_distance: int) -> WordPair:
    """Item i: balanced over construction x gender. Outside the grammar vocabulary one English decides: a line
    with a rival is drawn again until one without has the same conditions (control, subject's number, count of
    other-gender nouns). After a subject change that is mostly a reflexive, the one form English decides there."""
    construction, g = CONSTRUCTIONS[i % 4], ("m", "f")[(i // 4) % 2]
    same = c.rnd() < SAME_GENDER_PROB
    first = draw_item(c, max_distance, construction, g, same)
    if c.lex.name == CORPUS_RULE_VOCAB or not first.meta["rival_antecedent"]:
        return first
    for _ in range(MAX_DRAWS):
        it = draw_item(c, max_distance, construction, g, same)
        if not it.meta["rival_antecedent"] and all(it.meta.get(k) == first.meta.get(k) for k in KEPT):
            return it
    raise ValueError(f"no {construction} item without a rival antecedent in {MAX_DRAWS} draws")


def draw_item(c: Constructions, max_distance: int, construction: str, g: str, same: bool) -> WordPair:
    other = "f" if g == "m" else "m"
    c.other_gender_prob = 0.0 if same else 1.0
    line = draw(c, "gender", max_distance, construction=construction, gender=g)
    m = line.meta
    meta = item_meta(
        line,
        ("variant", "previous_gender") if construction == "subject_change" else (),
        gender=g,
        number=m["number"],
        distractor_gender=(g if same else other) if m["n_inside"] else "none",
        n_distractors=m["n_attractors"],
    )
    words = line.text.split()
    bad = c.lex.other_form("gender", words[m["target"]], g)
    nouns = [c.lex.features(w) for w in words[: m["target"]]]
    nouns = [w for w in nouns if w and w.pos in ("noun", "name")]
    meta["rival_antecedent"] = c.lex.features(bad).pos == "pronoun" and any(
        w.gender == other and w.number == "sg" for w in nouns
    )
    return cut(line, (bad,), meta)


def generate(vocab, n_items: int, seed: int = 0, **limits) -> list[WordPair]:
    """n_items items (limits: max_phrases, max_distance, config; see common.generate)."""
    for g in ("m", "f"):
        if not any(p[0] for p in vocab.gendered_nouns[g]) and not vocab.names[g]:
            raise ValueError(f"the {vocab.name} vocabulary has no noun or name of gender {g}")
    return common.generate("gender", item, vocab, n_items, seed, **limits)
