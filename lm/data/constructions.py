"""The constructions, written once: the built-in corpus draws them (lm/data/grammar.py) and the built-in probe
suites force their choices to balance items (lm/probes/suites/), so the probes test what the corpus teaches.

`Constructions.line(kind, **forced)` builds one line of a kind (agreement, gender, recall) whose main dependency
spans a distance inside the split's range, or returns None after MAX_TRIES draws. What a suite may force:
    agreement  construction, number (0 sg / 1 pl)        with attractor_prob 0 or 1 for the intervening nouns
    gender     construction, gender ("m" / "f")          with other_gender_prob 0 or 1
    recall     filler (words between the fact and its recall)
Unforced choices are drawn exactly as the corpus draws them.
"""

from __future__ import annotations

import random

from lm.data.grammar_config import MAX_TRIES, MIN_PHRASES, NUMBER, GrammarConfig, Line
from lm.data.lexicon import Lexicon
from lm.data.phrases import Phrases
from lm.errors import UserError


class Constructions(Phrases):
    def __init__(self, lex: Lexicon, cfg: GrammarConfig, split: str, rng: random.Random):
        super().__init__(lex, cfg, split, rng)
        self.frames, self.countries = lex.fact_frames, tuple(lex.country_language.items())
        self.recall_frame = lex.recall_frames[0] if lex.recall_frames else ()
        self.frame_verb = [next((i for i, x in enumerate(f) if x in self.number_of), None) for f in self.frames]
        self.recall_verb = next((i for i, x in enumerate(self.recall_frame) if x in self.number_of), None)
        lo, hi = self.ranges["phrases"]
        self.agreement_kinds = self.choices(
            {
                k: w
                for k, w in cfg.agreement_weights.items()
                if (k != "simple" or lo == 0) and MIN_PHRASES.get(k, 0) <= hi
            }
        )
        self.gender_kinds = self.choices(cfg.gender_weights)
        flo, fhi = self.ranges["filler"]
        self.fillers = [n for n in range(flo, fhi + 1) if n == 0 or n >= 4]
        if cfg.kind_weights.get("recall") and not self.fillers:
            raise UserError(
                f"grammar filler range {[flo, fhi]} for split {split!r} holds no possible length "
                "(0, or 4 and more words)"
            )

    def line(self, kind: str, **forced) -> Line | None:
        lo, hi = self.ranges["distance"]
        for _ in range(MAX_TRIES):
            self.start()
            meta = getattr(self, kind)(**forced)
            if kind == "recall" or lo <= meta["distance"] <= hi:
                meta["kind"] = kind
                meta["subjects"], meta["deps"] = self.subjects, self.deps
                return Line(" ".join(self.w), meta)
        return None

    def _finish(self, meta: dict, controller: int, target: int, feature: str, value: str) -> dict:
        inside = [i for i in self.nouns if controller < i < target]
        table = self.number_of if feature == "number" else self.gender_of
        own = self.subject_num if feature == "number" else self.subject_g
        attractors = [i for i in inside if table.get(self.w[i], own) != own]
        meta.update(
            controller=controller,
            target=target,
            distance=target - controller,
            attractors=attractors,
            n_attractors=len(attractors),
            n_inside=len(inside),
        )
        meta[feature] = value
        return meta

    def agreement(self, construction: str | None = None, number: int | None = None) -> dict:
        construction = construction or self.choose(self.agreement_kinds)
        n = 0 if construction == "simple" else self.n_phrases(MIN_PHRASES.get(construction, 0))
        num = self.subject_num = int(self.rnd() < self.cfg.plural_prob) if number is None else number
        meta = {"construction": construction, "n_phrases": n}
        inner = construction
        if construction == "sent_comp":
            matrix_num = num ^ (self.rnd() < self.attractor_prob)
            ms, _ = self.np(self.subject_nouns, matrix_num)
            self.subjects.append(ms)
            self.verb("complement", ms, matrix_num)
            self.w.append(self.that)
            inner = "simple" if n == 0 else self.pick(("pp", "subj_rc", "obj_rc"))
            meta.update(inner=inner, matrix_subject=ms, matrix_number=NUMBER[matrix_num])
        s, _ = self.np(self.subject_nouns, num)
        if construction != "sent_comp":
            self.subjects.append(s)
        if construction == "vp_coord":
            if n:
                self.verb("transitive", s, num)
                self.agreement_noun()
                self.pps(n - 1, None, self.pp_nouns)
            else:
                self.verb("intransitive", s, num)
            self.w.append(self.and_)
        else:
            self.modifiers(s, num, inner, n, self.agreement_noun, self.pp_nouns)
        v = self.vp(s, num)
        self.w.append(".")
        return self._finish(meta, s, v, "number", NUMBER[num])

    def _gender_subject(self, desc=None) -> tuple[int, int, bool]:
        """A gender-line subject (its gender is self.subject_g): (index, number, is a name)."""
        if desc is None:
            num = self.gender_number(self.subject_g, self.cfg.gender_plural_prob)
            desc = self.gdesc(self.subject_g, num)
        s = self.emit(desc)
        self.subjects.append(s)
        return s, self.number_of[desc[0]], desc[1]

    def _gender_clause(self, variant: str, n: int, desc=None) -> tuple[int, int, int]:
        """A sentence whose subject is referred back to; returns (subject, number, pronoun or reflexive)."""
        s, num, is_name = self._gender_subject(desc)
        key = "pl" if num else self.subject_g
        rc = None if is_name or self.rnd() >= self.cfg.rc_prob else self.pick(("subj_rc", "obj_rc"))
        w = self.w
        if variant == "pronoun_next":
            k = self.randint(0, n)  # phrases on the subject; the rest go in the verb phrase
            self.modifiers(s, num, rc, k, self.gender_noun)
            if n - k:
                self.verb("transitive", s, num)
                self.gender_noun()
                self.pps(n - k - 1, self.gender_noun)
            else:
                self.verb("intransitive", s, num)
            w.append(".")
            t = len(w)
            w.append(self.pron[key])
            self.subjects.append(t)
            self.vp(t, num)
        else:
            self.modifiers(s, num, rc, n, self.gender_noun)
            if variant == "reflexive":
                self.verb("reflexive", s, num)
                t = len(w)
                w.append(self.refl[key])
            else:
                self.verb("complement", s, num)
                w.append(self.that)
                t = len(w)
                w.append(self.pron[key])
                self.vp(t, num)
        w.append(".")
        self.deps.append(("anaphor", s, t))
        return s, num, t

    def gender(self, construction: str | None = None, gender: str | None = None) -> dict:
        construction = construction or self.choose(self.gender_kinds)
        n = self.n_phrases()
        g = gender or self.pick(("m", "f"))
        meta = {"construction": construction, "n_phrases": n}
        variant = construction
        desc = None
        if construction == "subject_change":  # a first sentence about someone of the other gender
            self.subject_g, self.other_g = ("f", "m") if g == "m" else ("m", "f")
            prev, prev_num, _ = self._gender_subject()
            self.verb("transitive", prev, prev_num)
            desc = self.gdesc(g, self.gender_number(g, self.cfg.gender_plural_prob))
            if self.rnd() < 0.5:  # "mary sees john . john ..."
                self.emit(desc)
            else:
                self.gender_noun()
            self.w.append(".")
            variant = self.pick(("reflexive", "pronoun_comp", "pronoun_next"))
            meta.update(variant=variant, previous_subject=prev, previous_gender=self.subject_g)
        self.subject_g, self.other_g = g, ("f" if g == "m" else "m")
        s, num, t = self._gender_clause(variant, n, desc)
        self.subject_num = num
        meta["number"] = NUMBER[num]
        return self._finish(meta, s, t, "gender", g)

    def recall(self, filler: int | None = None) -> dict:
        w = self.w
        g = self.pick(("m", "f"))
        name = self.pick(self.names[g])
        frame_i = int(self.rnd() * len(self.frames))
        country, language = self.pick(self.countries)
        w.append(name)
        self.subjects.append(0)
        w.extend(self.frames[frame_i])
        if self.frame_verb[frame_i] is not None:
            self.deps.append(("agreement", 0, 1 + self.frame_verb[frame_i]))
        c = len(w)
        w.append(country)
        w.append(".")
        filler = self.pick(self.fillers) if filler is None else filler
        rest = filler
        while rest:
            k = rest if rest <= 12 else self.randint(4, min(12, rest - 4))
            self.filler_sentence(k)
            rest -= k
        name2 = len(w)
        w.append(name)
        self.subjects.append(name2)
        w.extend(self.recall_frame)
        if self.recall_verb is not None:
            self.deps.append(("agreement", name2, name2 + 1 + self.recall_verb))
        t = len(w)
        w.append(language)
        w.append(".")
        self.deps.append(("recall", c, t))
        return {
            "construction": "_".join(self.frames[frame_i]),
            "controller": c,
            "target": t,
            "distance": t - c,
            "n_phrases": 0,
            "attractors": [],
            "n_attractors": 0,
            "gender": g,
            "name": 0,
            "name2": name2,
            "country": country,
            "language": language,
            "filler": filler,
        }
