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
"""

from __future__ import annotations

from lm.data.grammar import GrammarConfig
from lm.probes.suites.common import NUMBER, Builder, Item, fitting, suite_rng
from lm.probes.vocab import ProbeVocab

CONSTRUCTIONS = ("reflexive", "pronoun_comp", "pronoun_next", "subject_change")
GROUP_BY = (
    "construction",
    "gender",
    "number",
    "distractor_gender",
    "n_distractors",
    "distance_bin",
    "range",
    "construction+range",
)


def _other(g: str) -> str:
    return "f" if g == "m" else "m"


def _clause(b: Builder, variant: str, subject: list[str], g: str, num: int, n: int, noun, rc_prob: float):
    """The sentence whose subject the pronoun refers to; returns (subject index, pronoun table)."""
    v = b.v
    s = b.emit(subject, num, g)
    is_name = len(subject) == 1
    rc = None if is_name or b.rng.random() >= rc_prob else b.pick(("subj_rc", "obj_rc"))
    if variant == "pronoun_next":
        k = b.rng.randint(0, n)  # phrases on the subject; the rest go in the verb phrase
        b.modifiers(rc, k, num, noun)
        if n - k:
            b.verb("transitive", num)
            noun()
            b.pps(n - k - 1, noun)
        else:
            b.verb("intransitive", num)
        b.word(".")
        return s, v.pronouns
    b.modifiers(rc, n, num, noun)
    if variant == "reflexive":
        b.verb("reflexive", num)
        return s, v.reflexives
    b.verb("complement", num)
    b.word(v.that)
    return s, v.pronouns


def build(b: Builder, construction: str, g: str, num: int, distractor: str, n: int, rc_prob: float = 0.4) -> Item:
    other = _other(g)
    dg = other if distractor == "other" else g

    def noun():
        nn = int(b.rng.random() < b.plural_prob and b.has_plural(dg))
        b.gendered(dg, nn)
        return nn

    meta = {"construction": construction}
    variant = construction
    subject = b.gendered_words(g, num)
    if construction == "subject_change":  # "mary sees john . john ...": the old subject has the other gender
        b.gendered(other, 0)
        b.verb("transitive", 0)
        if b.rng.random() < 0.5:
            b.emit(subject, num, g)
        else:
            b.gendered(g, 0)
        b.word(".")
        variant = b.pick(("reflexive", "pronoun_comp", "pronoun_next"))
        meta.update(variant=variant, previous_gender=other)
    s, table = _clause(b, variant, subject, g, num, n, noun, rc_prob)
    target = len(b.w)
    inside = b.between(s, target)
    meta.update(
        gender=g,
        number=NUMBER[num],
        distractor_gender=dg if inside else "none",
        n_distractors=sum(x[2] == other for x in inside),
        n_phrases=n,
        distance=target - s,
    )
    return Item(list(b.w), table["pl" if num else g], (table[other],), meta)


def generate(
    vocab: ProbeVocab,
    n_items: int,
    seed: int = 0,
    max_phrases: int = 4,
    max_distance: int = 24,
    config: GrammarConfig | None = None,
    plural_prob: float = 0.2,
    same_gender_prob: float = 0.25,
    adjective_prob: float = 0.15,
) -> list[Item]:
    """n_items items, balanced over construction x gender; same seed, same items."""
    if n_items < 0 or max_phrases < 1 or max_distance < 1:
        raise ValueError(
            f"n_items >= 0, max_phrases >= 1 and max_distance >= 1 needed, got {n_items}, {max_phrases}, {max_distance}"
        )
    for g in ("m", "f"):
        if not vocab.gendered[g] and not vocab.names[g]:
            raise ValueError(f"the {vocab.name} vocabulary has no noun or name of gender {g}")
    config = config or GrammarConfig()
    rng = suite_rng("gender", vocab.name, seed)
    items: list[Item] = []
    while len(items) < n_items:
        i = len(items)
        construction, g = CONSTRUCTIONS[i % 4], ("m", "f")[(i // 4) % 2]

        def make():
            b = Builder(vocab, rng, adjective_prob)
            num = int(rng.random() < plural_prob and b.has_plural(g))
            distractor = "same" if rng.random() < same_gender_prob else "other"
            return build(b, construction, g, num, distractor, rng.randint(0, max_phrases))

        items.append(fitting(make, max_distance, construction, config))
    return items
