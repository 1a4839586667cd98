"""The phrases every line of the built-in corpus and every built-in probe item is made of, drawn from a `Lexicon`.

`Phrases` appends words to `self.w` and notes what the constructions (lm/data/constructions.py) need: noun heads
(`nouns`), matrix subjects (`subjects`) and dependencies (`deps`: ("agreement" | "anaphor" | "recall",
controller index, target index)). Every draw goes through `self.rnd` in a fixed order, so a seed gives the same
words; the draws of a full lexicon never depend on what a smaller one (lm/probes/vocab.py `restrict`) lacks.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping

from lm.data.grammar_config import GrammarConfig
from lm.data.lexicon import Lexicon
from lm.errors import UserError


class Phrases:
    def __init__(self, lex: Lexicon, cfg: GrammarConfig, split: str, rng: random.Random):
        self.lex, self.cfg, self.rnd, self.randint = lex, cfg, rng.random, rng.randint
        self.ranges = cfg.ranges(split)
        # per line: the probabilities that an intervening noun has the other number / gender (the probe suites
        # set them to 0 or 1 for an item whose intervening nouns all match or all differ)
        self.attractor_prob, self.other_gender_prob = cfg.attractor_prob, cfg.other_gender_prob
        self.the, self.that, self.and_ = lex.determiner, lex.relativizer, lex.conjunction
        gendered = [p for g in ("m", "f") for p in lex.gendered_nouns[g] if p[0] and p[1]]
        self.subject_nouns = lex.animate_nouns + tuple(gendered)  # agreement subjects, RC nouns, objects
        self.pp_nouns = self.subject_nouns + lex.inanimate_nouns  # objects of prepositions
        self.filler_nouns = lex.animate_nouns  # filler subjects (no gender, no names)
        self.filler_pp_nouns = lex.animate_nouns + lex.inanimate_nouns
        # gender -> number -> the forms that exist (a restricted English lexicon may lack some)
        self.gforms = {g: [[p[n] for p in lex.gendered_nouns[g] if p[n]] for n in (0, 1)] for g in ("m", "f")}
        self.names = lex.names
        self.v = lex.verbs
        self.adjs, self.preps = lex.adjectives, lex.prepositions
        self.things, self.thing_adjs = frozenset(lex.inanimate_nouns), lex.inanimate_adjectives
        self.pron, self.refl = lex.pronouns, lex.reflexives
        self.number_of = {w: (1 if f.number == "pl" else 0) for w, f in lex.words.items() if f.number}
        self.gender_of = {w: f.gender for w, f in lex.words.items() if f.gender in ("m", "f")}

    @staticmethod
    def choices(weights: Mapping[str, float]):
        items = [k for k, w in weights.items() if w > 0]
        if not items:
            raise UserError(f"no construction of {sorted(weights)} fits the grammar's phrase range")
        cum, total = [], 0.0
        for k in items:
            total += weights[k]
            cum.append(total)
        return items, cum

    def choose(self, choices) -> str:
        items, cum = choices
        return items[min(bisect.bisect(cum, self.rnd() * cum[-1]), len(items) - 1)]

    def pick(self, seq):
        return seq[int(self.rnd() * len(seq))]

    def start(self) -> None:
        self.w, self.nouns, self.subjects, self.deps = [], [], [], []

    def n_phrases(self, least: int = 0) -> int:
        lo, hi = self.ranges["phrases"]
        return self.randint(max(lo, least), hi)

    # -- noun phrases: each appends its words, notes its head in self.nouns and returns (head index, number)
    def np(self, pairs, num: int, adj: bool | None = None) -> tuple[int, int]:
        """ "the [adjective] noun"; adj forces the adjective (True) or its absence (False)."""
        w, pair = self.w, self.pick(pairs)
        w.append(self.the)
        if adj or (adj is None and self.rnd() < self.cfg.adjective_prob):
            fitting = self.thing_adjs if pair in self.things else self.adjs
            if fitting:  # a restricted lexicon may have no adjective for things
                w.append(self.pick(fitting))
        w.append(pair[num])
        self.nouns.append(len(w) - 1)
        return len(w) - 1, num

    def has_plural(self, gender: str) -> bool:
        return bool(self.gforms[gender][1])

    def gender_number(self, gender: str, prob: float) -> int:
        """1 (plural) with probability `prob` where the lexicon has a plural of that gender."""
        return int(self.rnd() < prob and self.has_plural(gender))

    def gdesc(self, gender: str, num: int) -> tuple[str, bool]:
        """A gendered noun phrase to say: (head word, is a name)."""
        names, forms = self.names.get(gender, ()), self.gforms[gender][num]
        if num == 0 and names and (not forms or self.rnd() < self.cfg.name_prob):
            return self.pick(names), True
        if not forms:
            raise ValueError(f"the {self.lex.name} vocabulary has no {('sg', 'pl')[num]} noun of gender {gender}")
        return self.pick(forms), False

    def emit(self, desc: tuple[str, bool]) -> int:
        w = self.w
        if not desc[1]:
            w.append(self.the)
            if self.rnd() < self.cfg.adjective_prob:
                w.append(self.pick(self.adjs))
        w.append(desc[0])
        self.nouns.append(len(w) - 1)
        return len(w) - 1

    def verb(self, cls: str, controller: int, num: int) -> int:
        self.w.append(self.pick(self.v[cls])[num])
        self.deps.append(("agreement", controller, len(self.w) - 1))
        return len(self.w) - 1

    def agreement_noun(self):
        """An intervening noun for an agreement line: the other number with probability attractor_prob."""
        num = self.subject_num ^ (self.rnd() < self.attractor_prob)
        return self.np(self.subject_nouns, num)

    def gender_noun(self):
        """An intervening noun for a gender line: the other gender with probability other_gender_prob."""
        g = self.other_g if self.rnd() < self.other_gender_prob else self.subject_g
        num = self.gender_number(g, self.cfg.plural_prob)
        head = self.emit(self.gdesc(g, num))
        return head, num

    def pps(self, n: int, noun, pp_nouns=None) -> None:
        for _ in range(n):
            self.w.append(self.pick(self.preps))
            if pp_nouns is None:
                noun()
            else:  # agreement lines: inanimate nouns too
                self.np(pp_nouns, self.subject_num ^ (self.rnd() < self.attractor_prob))

    def modifiers(self, head: int, num: int, rc: str | None, n: int, noun, pp_nouns=None) -> None:
        """n phrases after the noun at `head`: a relative clause first if rc says so, then PPs."""
        if n and rc == "subj_rc":
            self.w.append(self.that)
            self.verb("transitive", head, num)
            noun()
            self.pps(n - 1, noun, pp_nouns)
        elif n and rc == "obj_rc":
            self.w.append(self.that)
            rc_head, rc_num = noun()
            self.pps(n - 1, noun, pp_nouns)
            self.verb("transitive", rc_head, rc_num)
        else:
            self.pps(n, noun, pp_nouns)

    def vp(self, controller: int, num: int) -> int:
        """A main verb agreeing with the controller, then maybe an object or an adjective; returns the verb."""
        r = self.rnd()
        if r < 0.4:
            return self.verb("intransitive", controller, num)
        if r < 0.75:
            v = self.verb("transitive", controller, num)
            self.np(self.subject_nouns, int(self.rnd() < self.cfg.plural_prob))
            return v
        v = self.verb("copula", controller, num)
        self.w.append(self.pick(self.adjs))
        return v

    def filler_sentence(self, k: int) -> None:
        """A sentence of exactly k >= 4 words without names, pronouns or countries:
        the [adj] noun (prep the [adj] noun)* verb [adjective | the [adj] noun] ."""
        if k < 4:
            raise ValueError(f"a filler sentence has at least 4 words, got k={k}")
        e = k - 4
        tail = self.pick([t for t in (0, 1, 2, 3) if t <= e and e - t != 2])  # extra words after the verb
        e -= tail  # now made of: 1 (adjective on the subject) + 3 per PP (+1 for an adjective in one PP)
        n_pp, rest = divmod(e, 3)
        plural = self.cfg.plural_prob
        s, num = self.np(self.filler_nouns, int(self.rnd() < plural), adj=rest > 0)
        self.subjects.append(s)
        for i in range(n_pp):
            self.w.append(self.pick(self.preps))
            self.np(self.filler_pp_nouns, int(self.rnd() < plural), adj=(i == 0 and rest == 2))
        if tail == 1:
            self.verb("copula", s, num)
            self.w.append(self.pick(self.adjs))
        elif tail:
            self.verb("transitive", s, num)
            self.np(self.filler_nouns, int(self.rnd() < plural), adj=tail == 3)
        else:
            self.verb("intransitive", s, num)
        self.w.append(".")
