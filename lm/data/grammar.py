"""The built-in corpus: a seeded generator of English-like lines from a small probabilistic grammar.

Every line is one item of one of three kinds, each built around a long-range dependency:

agreement  a subject and the verb that agrees with it in number, across intervening phrases whose nouns
           ("attractors") have the other number with probability `attractor_prob`. Constructions:
           simple        the dogs run .
           pp            the dog near the cars behind the house runs .
           subj_rc       the dog that sees the cats runs .
           obj_rc        the dog that the cats see is happy .
           sent_comp     the boys say that the girl near the houses sleeps .   (the embedded subject and verb;
                         the matrix subject before them has the other number with probability attractor_prob)
           vp_coord      the boys see the king near the house and run .         (the second verb)
gender     a subject of known gender (a name, or a kinship or role noun) and a pronoun or reflexive that
           refers back to it across phrases holding nouns of the other gender. Constructions:
           reflexive       the king near the girls sees himself .
           pronoun_comp    mary that the boys like says that she is happy .
           pronoun_next    the queens see john . they smile .
           subject_change  mary sees john . john near the girls thinks that he sings .
recall     a fact and its recall: "X grew up in france . <filler> X speaks fluent french ." where the filler is
           a run of unrelated sentences of a chosen length in words and the language is fixed by the country.

The pronoun rule (so that the right pronoun is always determined by the grammar): every he / she / they /
himself / herself / themselves refers to the most recent matrix (main-clause) subject that is a noun phrase,
not a pronoun, and comes before it on the line. Within a sentence that is the sentence's own subject (never a
noun inside a relative clause, prepositional phrase or object); a pronoun that opens a sentence refers to the
previous sentence's subject; a new noun-phrase subject changes the referent ("mary sees john . john waits .
he smiles ." -> he = john; "mary sees john . she smiles ." -> she = mary). Plural subjects take they/themselves.
Pronouns appear only as subjects and reflexives only as objects, so no other reading is possible.

Distances are counted in words (whitespace tokens, "." included) from the controller (subject, antecedent or
country) to the target (verb, pronoun or language). Per split knobs: `phrases_*` (intervening phrases: PPs,
relative clauses, objects), `distance_*` (agreement and gender distances, enforced by resampling) and
`filler_*` (recall filler length; recall distance = filler + 5). "valid" uses the train knobs, "test" the test
ones, which reach longer distances.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Mapping

from lm.data.grammar_config import (  # noqa: F401 (re-exported: the grammar's public names)
    AGREEMENT_CONSTRUCTIONS,
    GENDER_CONSTRUCTIONS,
    KINDS,
    MAX_TRIES,
    MIN_PHRASES,
    NUMBER,
    RECALL_OVERHEAD,
    SPLITS,
    GrammarConfig,
    Line,
)
from lm.data.lexicon import Lexicon, load_lexicon
from lm.errors import UserError


class _Builder:
    """Appends the words of one line to `self.w`, noting noun heads, matrix subjects and dependencies."""

    def __init__(self, lex: Lexicon, cfg: GrammarConfig, split: str, rng: random.Random):
        self.cfg, self.rnd, self.randint = cfg, rng.random, rng.randint
        self.ranges = cfg.ranges(split)
        self.the, self.that, self.and_ = lex.determiner, lex.relativizer, lex.conjunction
        gendered = [p for g in ("m", "f") for p in lex.gendered_nouns[g]]
        self.subject_nouns = lex.animate_nouns + tuple(gendered)  # agreement subjects, RC nouns, objects
        self.pp_nouns = self.subject_nouns + lex.inanimate_nouns  # objects of prepositions
        self.filler_nouns = lex.animate_nouns  # filler subjects (no gender, no names)
        self.filler_pp_nouns = lex.animate_nouns + lex.inanimate_nouns
        self.gnouns, self.names = lex.gendered_nouns, lex.names
        self.v = lex.verbs
        self.adjs, self.preps = lex.adjectives, lex.prepositions
        self.things, self.thing_adjs = frozenset(lex.inanimate_nouns), lex.inanimate_adjectives
        self.pron, self.refl = lex.pronouns, lex.reflexives
        self.frames, self.recall_frame = lex.fact_frames, lex.recall_frame
        self.countries = tuple(lex.country_language.items())
        self.number_of = {w: (1 if f.number == "pl" else 0) for w, f in lex.words.items() if f.number}
        self.gender_of = {w: f.gender for w, f in lex.words.items() if f.gender in ("m", "f")}
        self.frame_verb = [next((i for i, x in enumerate(f) if x in self.number_of), None) for f in self.frames]
        self.recall_verb = next(i for i, x in enumerate(self.recall_frame) if x in self.number_of)
        lo, hi = self.ranges["phrases"]
        self.agreement_kinds = self._choices(
            {
                k: w
                for k, w in cfg.agreement_weights.items()
                if (k != "simple" or lo == 0) and MIN_PHRASES.get(k, 0) <= hi
            }
        )
        self.gender_kinds = self._choices(cfg.gender_weights)
        self.kinds = self._choices(cfg.kind_weights)
        flo, fhi = self.ranges["filler"]
        self.fillers = [n for n in range(flo, fhi + 1) if n == 0 or n >= 4]
        if cfg.kind_weights.get("recall") and not self.fillers:
            raise UserError(
                f"grammar filler range {[flo, fhi]} for split {split!r} holds no possible length "
                "(0, or 4 and more words)"
            )

    @staticmethod
    def _choices(weights: Mapping[str, float]):
        items = [k for k, w in weights.items() if w > 0]
        if not items:
            raise UserError(f"no construction of {sorted(weights)} fits the grammar's phrase range")
        cum, total = [], 0.0
        for k in items:
            total += weights[k]
            cum.append(total)
        return items, cum

    def _choose(self, choices) -> str:
        items, cum = choices
        return items[min(bisect.bisect(cum, self.rnd() * cum[-1]), len(items) - 1)]

    def _pick(self, seq):
        return seq[int(self.rnd() * len(seq))]

    # -- noun phrases: each appends its words, notes its head in self.nouns and returns (head index, number)
    def _np(self, pairs, num: int, adj: bool | None = None) -> tuple[int, int]:
        """ "the [adjective] noun"; adj forces the adjective (True) or its absence (False)."""
        w, pair = self.w, self._pick(pairs)
        w.append(self.the)
        if adj or (adj is None and self.rnd() < self.cfg.adjective_prob):
            w.append(self._pick(self.thing_adjs if pair in self.things else self.adjs))
        w.append(pair[num])
        self.nouns.append(len(w) - 1)
        return len(w) - 1, num

    def _gdesc(self, gender: str, num: int) -> tuple[str, bool]:
        """A gendered noun phrase to say: (head word, is a name)."""
        if num == 0 and self.rnd() < self.cfg.name_prob:
            return self._pick(self.names[gender]), True
        return self._pick(self.gnouns[gender])[num], False

    def _emit(self, desc: tuple[str, bool]) -> int:
        w = self.w
        if not desc[1]:
            w.append(self.the)
            if self.rnd() < self.cfg.adjective_prob:
                w.append(self._pick(self.adjs))
        w.append(desc[0])
        self.nouns.append(len(w) - 1)
        return len(w) - 1

    def _verb(self, cls: str, controller: int, num: int) -> int:
        self.w.append(self._pick(self.v[cls])[num])
        self.deps.append(("agreement", controller, len(self.w) - 1))
        return len(self.w) - 1

    def _agreement_noun(self):
        """An intervening noun for an agreement line: the other number with probability attractor_prob."""
        num = self.subject_num ^ (self.rnd() < self.cfg.attractor_prob)
        return self._np(self.subject_nouns, num)

    def _gender_noun(self):
        """An intervening noun for a gender line: the other gender with probability other_gender_prob."""
        g = self.other_g if self.rnd() < self.cfg.other_gender_prob else self.subject_g
        num = int(self.rnd() < self.cfg.plural_prob)
        head = self._emit(self._gdesc(g, num))
        return head, num

    def _pps(self, n: int, noun, pp_nouns=None) -> None:
        for _ in range(n):
            self.w.append(self._pick(self.preps))
            if pp_nouns is None:
                noun()
            else:  # agreement lines: inanimate nouns too
                self._np(pp_nouns, self.subject_num ^ (self.rnd() < self.cfg.attractor_prob))

    def _modifiers(self, head: int, num: int, rc: str | None, n: int, noun, pp_nouns=None) -> None:
        """n phrases after the noun at `head`: a relative clause first if rc says so, then PPs."""
        if n and rc == "subj_rc":
            self.w.append(self.that)
            self._verb("transitive", head, num)
            noun()
            self._pps(n - 1, noun, pp_nouns)
        elif n and rc == "obj_rc":
            self.w.append(self.that)
            rc_head, rc_num = noun()
            self._pps(n - 1, noun, pp_nouns)
            self._verb("transitive", rc_head, rc_num)
        else:
            self._pps(n, noun, pp_nouns)

    def _vp(self, controller: int, num: int) -> int:
        """A main verb agreeing with the controller, then maybe an object or an adjective; returns the verb."""
        r = self.rnd()
        if r < 0.4:
            return self._verb("intransitive", controller, num)
        if r < 0.75:
            v = self._verb("transitive", controller, num)
            self._np(self.subject_nouns, int(self.rnd() < self.cfg.plural_prob))
            return v
        v = self._verb("copula", controller, num)
        self.w.append(self._pick(self.adjs))
        return v

    # -- lines ------------------------------------------------------------------------------------------
    def line(self) -> Line:
        kind = self._choose(self.kinds)
        lo, hi = self.ranges["distance"]
        for _ in range(MAX_TRIES):
            self.w, self.nouns, self.subjects, self.deps = [], [], [], []
            meta = getattr(self, kind)()
            if kind == "recall" or lo <= meta["distance"] <= hi:
                break
        else:
            raise UserError(
                f"the grammar cannot reach distances {[lo, hi]} with phrases "
                f"{list(self.ranges['phrases'])}: widen grammar.distance_* or grammar.phrases_*"
            )
        meta["kind"] = kind
        meta["subjects"], meta["deps"] = self.subjects, self.deps
        return Line(" ".join(self.w), meta)

    def _n_phrases(self, least: int = 0) -> int:
        lo, hi = self.ranges["phrases"]
        return self.randint(max(lo, least), hi)

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
        )
        meta[feature] = value
        return meta

    def agreement(self) -> dict:
        construction = self._choose(self.agreement_kinds)
        n = 0 if construction == "simple" else self._n_phrases(MIN_PHRASES.get(construction, 0))
        num = self.subject_num = int(self.rnd() < self.cfg.plural_prob)
        meta = {"construction": construction, "n_phrases": n}
        inner = construction
        if construction == "sent_comp":
            matrix_num = num ^ (self.rnd() < self.cfg.attractor_prob)
            ms, _ = self._np(self.subject_nouns, matrix_num)
            self.subjects.append(ms)
            self._verb("complement", ms, matrix_num)
            self.w.append(self.that)
            inner = "simple" if n == 0 else self._pick(("pp", "subj_rc", "obj_rc"))
            meta.update(inner=inner, matrix_subject=ms, matrix_number=NUMBER[matrix_num])
        s, _ = self._np(self.subject_nouns, num)
        if construction != "sent_comp":
            self.subjects.append(s)
        if construction == "vp_coord":
            if n:
                self._verb("transitive", s, num)
                self._agreement_noun()
                self._pps(n - 1, None, self.pp_nouns)
            else:
                self._verb("intransitive", s, num)
            self.w.append(self.and_)
        else:
            self._modifiers(s, num, inner, n, self._agreement_noun, self.pp_nouns)
        v = self._vp(s, num)
        self.w.append(".")
        return self._finish(meta, s, v, "number", NUMBER[num])

    def _gender_subject(self, desc=None) -> tuple[int, int, bool]:
        """A gender-line subject (its gender is self.subject_g): (index, number, is a name)."""
        if desc is None:
            num = int(self.rnd() < self.cfg.gender_plural_prob)
            desc = self._gdesc(self.subject_g, num)
        s = self._emit(desc)
        self.subjects.append(s)
        return s, self.number_of[desc[0]], desc[1]

    def _gender_clause(self, variant: str, n: int, desc=None) -> tuple[int, int, int]:
        """A sentence whose subject is referred back to; returns (subject, number, pronoun or reflexive)."""
        s, num, is_name = self._gender_subject(desc)
        key = "pl" if num else self.subject_g
        rc = None if is_name or self.rnd() >= self.cfg.rc_prob else self._pick(("subj_rc", "obj_rc"))
        w = self.w
        if variant == "pronoun_next":
            k = self.randint(0, n)  # phrases on the subject; the rest go in the verb phrase
            self._modifiers(s, num, rc, k, self._gender_noun)
            if n - k:
                self._verb("transitive", s, num)
                self._gender_noun()
                self._pps(n - k - 1, self._gender_noun)
            else:
                self._verb("intransitive", s, num)
            w.append(".")
            t = len(w)
            w.append(self.pron[key])
            self.subjects.append(t)
            self._vp(t, num)
        else:
            self._modifiers(s, num, rc, n, self._gender_noun)
            if variant == "reflexive":
                self._verb("reflexive", s, num)
                t = len(w)
                w.append(self.refl[key])
            else:
                self._verb("complement", s, num)
                w.append(self.that)
                t = len(w)
                w.append(self.pron[key])
                self._vp(t, num)
        w.append(".")
        self.deps.append(("anaphor", s, t))
        return s, num, t

    def gender(self) -> dict:
        construction = self._choose(self.gender_kinds)
        n = self._n_phrases()
        g = self._pick(("m", "f"))
        meta = {"construction": construction, "n_phrases": n}
        variant = construction
        desc = None
        if construction == "subject_change":  # a first sentence about someone of the other gender
            self.subject_g, self.other_g = ("f", "m") if g == "m" else ("m", "f")
            prev, prev_num, _ = self._gender_subject()
            self._verb("transitive", prev, prev_num)
            desc = self._gdesc(g, int(self.rnd() < self.cfg.gender_plural_prob))
            if self.rnd() < 0.5:  # "mary sees john . john ..."
                self._emit(desc)
            else:
                self._gender_noun()
            self.w.append(".")
            variant = self._pick(("reflexive", "pronoun_comp", "pronoun_next"))
            meta.update(variant=variant, previous_subject=prev, previous_gender=self.subject_g)
        self.subject_g, self.other_g = g, ("f" if g == "m" else "m")
        s, num, t = self._gender_clause(variant, n, desc)
        self.subject_num = num
        meta["number"] = NUMBER[num]
        return self._finish(meta, s, t, "gender", g)

    def _filler_sentence(self, k: int) -> None:
        """A sentence of exactly k >= 4 words without names, pronouns or countries:
        the [adj] noun (prep the [adj] noun)* verb [adjective | the [adj] noun] ."""
        e = k - 4
        tail = self._pick([t for t in (0, 1, 2, 3) if t <= e and e - t != 2])  # extra words after the verb
        e -= tail  # now made of: 1 (adjective on the subject) + 3 per PP (+1 for an adjective in one PP)
        n_pp, rest = divmod(e, 3)
        plural = self.cfg.plural_prob
        s, num = self._np(self.filler_nouns, int(self.rnd() < plural), adj=rest > 0)
        self.subjects.append(s)
        for i in range(n_pp):
            self.w.append(self._pick(self.preps))
            self._np(self.filler_pp_nouns, int(self.rnd() < plural), adj=(i == 0 and rest == 2))
        if tail == 1:
            self._verb("copula", s, num)
            self.w.append(self._pick(self.adjs))
        elif tail:
            self._verb("transitive", s, num)
            self._np(self.filler_nouns, int(self.rnd() < plural), adj=tail == 3)
        else:
            self._verb("intransitive", s, num)
        self.w.append(".")

    def recall(self) -> dict:
        w = self.w
        g = self._pick(("m", "f"))
        name = self._pick(self.names[g])
        frame_i = int(self.rnd() * len(self.frames))
        country, language = self._pick(self.countries)
        w.append(name)
        self.subjects.append(0)
        w.extend(self.frames[frame_i])
        if self.frame_verb[frame_i] is not None:
            self.deps.append(("agreement", 0, 1 + self.frame_verb[frame_i]))
        c = len(w)
        w.append(country)
        w.append(".")
        filler = self._pick(self.fillers)
        rest = filler
        while rest:
            k = rest if rest <= 12 else self.randint(4, min(12, rest - 4))
            self._filler_sentence(k)
            rest -= k
        name2 = len(w)
        w.append(name)
        self.subjects.append(name2)
        w.extend(self.recall_frame)
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


def _stream_seed(seed: int, split: str) -> int:
    return int.from_bytes(hashlib.sha256(f"lm.grammar/{int(seed)}/{split}".encode()).digest()[:8], "big")


def generate(n_lines: int, split: str = "train", seed: int = 0, config: GrammarConfig | None = None) -> list[Line]:
    """n_lines lines of the built-in corpus; the same (n_lines, split, seed, config) always gives the same lines,
    and each split draws from its own random stream."""
    cfg = config if config is not None else GrammarConfig()
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    builder = _Builder(load_lexicon(), cfg, split, random.Random(_stream_seed(seed, split)))
    return [builder.line() for _ in range(int(n_lines))]


def generate_text(n_lines: int, split: str = "train", seed: int = 0, config: GrammarConfig | None = None) -> list[str]:
    """The text of `generate(...)`: one line per item, lowercase words and " . " separated by single spaces."""
    return [line.text for line in generate(n_lines, split, seed, config)]


_CODE_VERSION = 1  # bump whenever the same (seed, split, config) would give different text


def version() -> str:
    """Part of the token-cache key: changes with the generator code or the lexicon."""
    return f"{_CODE_VERSION}-{load_lexicon().digest}"
