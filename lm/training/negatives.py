"""Explicit negative examples (after Noji & Takamura, ACL 2020): at each training token whose word has a
minimal-pair partner ("is" / "are", "sees" / "see", "himself" / "herself"), a hinge asks log p(word) to beat
log p(partner) by a margin. The language-model loss spreads its gradient over the whole vocabulary; the hinge
spends it on the one contrast a probe asks about, wherever the word occurs, attractors or not.

Pairs come from the vocabulary and the training text, never from a parser or the probe suites:
- `agreement`: the copulas and auxiliaries below, and lexical verbs found in the text. A word that is a stem plus
  -s / -es / -ies, both in the vocabulary, is a verb pair when it often follows he / she / it and the stem often
  follows "to" (nouns do neither: "he dogs", "to dog"). A stem that itself often follows he / she / it is left out:
  its past tense is the bare form ("he put", "he read"), where the -s form would be no error.
- `gender`: he / she, himself / herself; his and him against her, which has no partner of its own (it stands for
  either). This group is the project's own: the paper contrasts number.
Capitalised forms ("He" / "She") are paired too when a cased vocabulary has them.
Each group has a scale (`negatives.groups: {agreement: 1.0, gender: 1.0}`) that multiplies its hinge terms; 0 leaves
the group out: the pronouns' hinge at 3 cost gender, the verbs' did not (BENCHMARKS.md, "A scale per group").
With `finite_only` (the default) the verbs' hinge skips a word right after an infinitive or auxiliary cue ("to say",
"will have", "did not know", "can ' t see"): there the verb is not a present-tense form and has no number, and the
paper's positions are present-tense verbs only (VBZ / VBP). The pronouns' hinge is kept there ("to him").
With `person_cues` it also skips a verb right after "i" or "you": there the form follows the person, not the
number ("i see", "you are" beside "he sees", "it is"), so the hinge would tie the bare form to a singular subject.
With `balance` both words of a pair carry the same total weight over the training text (`balance_sides`).
"""

from __future__ import annotations

import numpy as np
import torch

from lm.errors import UserError

AGREEMENT = [  # (singular, plural); with split_punctuation "isn't" is "isn" "'" "t"
    ("is", "are"), ("was", "were"), ("has", "have"), ("does", "do"),
    ("isn", "aren"), ("wasn", "weren"), ("hasn", "haven"), ("doesn", "don"),
]  # fmt: skip
GENDER = [("he", "she"), ("himself", "herself")]
ONE_WAY = [("his", "her"), ("him", "her")]  # at his / him, her is the negative; at her, nothing is
# a verb right after one of these is bare for a reason other than number; "t", "ll", "d": split "don't", "he'll", "i'd"
NONFINITE_CUES = [
    "to", "not", "will", "would", "shall", "should", "can", "could", "may", "might", "must", "do", "does", "did",
    "t", "ll", "d", "don't", "doesn't", "didn't", "won't", "can't", "couldn't", "wouldn't", "shouldn't", "mustn't",
]  # fmt: skip
PERSON_CUES = ["i", "you"]  # a verb after these is bare for their person, whatever their number
GROUPS = ("agreement", "gender")
SUBJECTS = ("he", "she", "it")


def check_groups(groups) -> dict[str, float]:
    """{group: scale} of the groups in use: from a mapping (`{agreement: 3, gender: 1}`, a scale of 0 leaves the group
    out) or a list (each scale 1)."""
    scales = dict(groups) if hasattr(groups, "keys") else dict.fromkeys(groups, 1.0)
    unknown = [g for g in scales if g not in GROUPS]
    if unknown:
        raise UserError(f"unknown negatives.groups {unknown}: use any of {list(GROUPS)}")
    bad = {g: s for g, s in scales.items() if not isinstance(s, (int, float)) or s < 0}
    if bad:
        raise UserError(f"negatives.groups {bad}: each group's scale is a number >= 0, e.g. negatives.groups.gender=0")
    return {g: float(s) for g, s in scales.items() if s > 0}


def third_person_form(stem: str) -> str:
    """The 3rd-person-singular spelling of a bare verb: see -> sees, watch -> watches, go -> goes, carry -> carries."""
    if stem.endswith(("ss", "x", "z", "ch", "sh", "o")):  # not "us": uses is use's
        return stem + "es"
    if len(stem) > 2 and stem.endswith("y") and stem[-2] not in "aeiou":
        return stem[:-1] + "ies"
    return stem + "s"


def variants(word: str) -> tuple[str, str]:
    """The word and its capitalised form: a cased vocabulary has both ("he", "He")."""
    return word, word.capitalize()


def cased(vocab: dict[str, int], words) -> list[int]:
    return [vocab[w] for word in words for w in variants(word) if w in vocab]


def verb_pairs(
    vocab: dict[str, int],
    ids: np.ndarray,
    min_count: int = 20,
    min_after_subject: float = 0.2,
    min_after_to: float = 0.05,
    max_bare_after_subject: float = 0.025,
) -> list[tuple[str, str]]:
    """(3rd singular, bare) lexical verb pairs in the token stream `ids` (1-D): the -s form follows he / she / it
    in at least `min_after_subject` of its occurrences, the bare form follows "to" in at least `min_after_to` and
    he / she / it in less than `max_bare_after_subject` of its own, and both occur `min_count` times."""
    to, subjects = cased(vocab, ["to"]), cased(vocab, SUBJECTS)
    if not to or not subjects:
        return []
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    size = max(vocab.values()) + 1
    count = torch.bincount(ids, minlength=size)
    prev, nxt = ids[:-1], ids[1:]
    after_subject = torch.bincount(nxt[torch.isin(prev, torch.tensor(subjects))], minlength=size)
    after_to = torch.bincount(nxt[torch.isin(prev, torch.tensor(to))], minlength=size)
    closed = {w for pair in AGREEMENT + GENDER + ONE_WAY for w in pair}
    stems: dict[str, str] = {}  # form -> its most frequent stem ("loses": lose, not "los")
    for stem, b in vocab.items():
        if len(stem) < 2 or not stem.isalpha() or stem in closed or count[b] < min_count:
            continue
        if after_to[b] < min_after_to * count[b] or after_subject[b] >= max_bare_after_subject * count[b]:
            continue
        form = third_person_form(stem)
        s = vocab.get(form)
        if s is None or form in closed or count[s] < min_count or after_subject[s] < min_after_subject * count[s]:
            continue
        if form not in stems or count[b] > count[vocab[stems[form]]]:
            stems[form] = stem
    return sorted(stems.items())


def partner_table(
    vocab: dict[str, int],
    groups,
    ids: np.ndarray | None = None,
    finite_only: bool = True,
    balance: bool = False,
    person_cues: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """The tables of the hinge: the id of each word's partner (V,), -1 where it has none; the scale of its group's
    hinge (2, V), 0 where it has none, row 1 for a word right after a cue of `NONFINITE_CUES` (the verbs' 0 there
    with `finite_only`); the row for each previous word (V,), 1 for a cue (and for "i" / "you" with `person_cues`);
    and the (word, partner) pairs used.
    Pairs with a word outside the vocabulary are left out. `balance` (needs `ids`): see `balance_sides`."""
    scales = check_groups(groups)
    lexical = verb_pairs(vocab, ids) if ids is not None and "agreement" in scales else []  # a pass over the text
    pairs = {  # group -> [(pair, both ways)]
        "agreement": [(p, True) for p in AGREEMENT + lexical],
        "gender": [(p, True) for p in GENDER] + [(p, False) for p in ONE_WAY],
    }
    size = max(vocab.values()) + 1
    table, scale = torch.full((size,), -1, dtype=torch.long), torch.zeros(2, size)
    used, two_way = [], []
    for group, group_scale in scales.items():
        after_cue = 0.0 if finite_only and group == "agreement" else group_scale
        for pair, both in pairs[group]:
            for a, b in zip(*map(variants, pair)):
                if a in vocab and b in vocab:
                    for word, partner in [(a, b), (b, a)] if both else [(a, b)]:
                        table[vocab[word]] = vocab[partner]
                        scale[:, vocab[word]] = torch.tensor([group_scale, after_cue])
                    used.append((a, b))
                    two_way += [(vocab[a], vocab[b])] if both else []
    row = torch.zeros(size, dtype=torch.long)
    row[cased(vocab, NONFINITE_CUES + (PERSON_CUES if person_cues else []))] = 1
    if balance and ids is not None:
        scale = scale * balance_sides(scale, row, ids, two_way)
    return table, scale, row, used


def balance_sides(scale: torch.Tensor, row: torch.Tensor, ids: np.ndarray, pairs: list) -> torch.Tensor:
    """(V,) factors that give both words of each pair (ids a, b) the same total hinge weight over the text `ids`:
    (n_a + n_b) / (2 n_a) for a, n_a its tokens with a hinge (0.5 to 13.5 in the fiction text). There "he"
    outnumbers "she" 1.8 to 1 and "see" "sees" 14 to 1 ("they see", "i see"): unbalanced, the hinge also teaches
    which side is the more frequent, and an item whose subject is far away falls to that side."""
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    prev, word = ids[:-1], ids[1:]
    n = torch.bincount(word[scale[row[prev], word] > 0], minlength=scale.shape[1]).double()
    factor = torch.ones(scale.shape[1], dtype=torch.float64)
    for a, b in pairs:
        if n[a] and n[b]:
            factor[[a, b]] = (n[a] + n[b]) / (2 * n[[a, b]])
    return factor.float()


def hinge(good: torch.Tensor, bad: torch.Tensor, margin: float) -> torch.Tensor:
    """max(0, margin - (log p(good) - log p(bad))), element-wise."""
    return torch.relu(margin - (good - bad))
