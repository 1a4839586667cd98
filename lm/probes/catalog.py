"""What `probes=[...]` may name, turned into suites.

agreement, gender, recall      a built-in suite (lm/probes/suites), in the vocabulary `vocab` says
path/to/file.jsonl             one suite of minimal pairs
path/to/suite.json             a SyntaxGym test suite
path/to/set.text (or .gold)    a Linzen et al. (2016) agreement set
path/to/generated.tab          Gulordava et al. (2018)'s colorless green set
path/to/dir                    one suite per file of those shapes in it (BLiMP's data/ folder: 67 suites)
syntaxgym:PATH, linzen:PATH,   the same, the reader named rather than told by the file's shape
  gulordava:PATH, jsonl:PATH     (lm/probes/readers)
blimp, blimp/<paradigm>        BLiMP from the Hugging Face hub (needs a network the first time)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from lm.data.grammar_config import GrammarConfig
from lm.data.lexicon import Lexicon
from lm.errors import UserError
from lm.probes.readers import read_suites, split_prefix
from lm.probes.records import Suite, parse_record
from lm.probes.suites import BUILTIN_SUITES, builtin_suite
from lm.probes.vocab import (
    CORPUS_STYLE,
    PERIODS,
    TextStyle,
    detect_style,
    in_vocabulary,
    load_vocab,
    restrict,
)

BLIMP_HUB = "nyu-mll/blimp"
OFFLINE_BLIMP = (
    "offline: download BLiMP's data/*.jsonl (github.com/alexwarstadt/blimp) and pass the folder, "
    "probes=[path/to/blimp/data]"
)


@dataclass(frozen=True)
class BuiltinOptions:
    n_items: int = 1000
    seed: int = 0
    max_phrases: int = 4
    max_distance: int = 24


def is_builtin(spec: str) -> bool:
    return spec in BUILTIN_SUITES


def file_suites(spec: str, limit: int | None = None) -> list:
    """Suites (records.Suite, or regions.RegionSuite for SyntaxGym) from a file, a directory or the hub;
    UserError for anything else."""
    if spec == "blimp" or spec.startswith("blimp/"):
        return hub_blimp(spec.partition("/")[2] or None, limit)
    suites = read_suites(spec, limit)
    if suites is not None:
        return suites
    p = Path(split_prefix(spec)[1]).expanduser()
    raise UserError(
        f"unknown suite {spec!r}: not a built-in suite ({', '.join(BUILTIN_SUITES)}), not blimp or "
        f"blimp/<paradigm>, and no file or directory at {p.resolve()}"
    )


def hub_blimp(paradigm: str | None, limit: int | None = None) -> list[Suite]:
    try:
        import datasets

        datasets.disable_progress_bars()
        names = [paradigm] if paradigm else datasets.get_dataset_config_names(BLIMP_HUB)
        suites = []
        for name in names:
            ds = datasets.load_dataset(BLIMP_HUB, name, split="train")
            rows = ds if limit is None else ds.select(range(min(limit, len(ds))))
            pairs = [parse_record(dict(r), f"hub:{BLIMP_HUB}/{name}:{i}") for i, r in enumerate(rows, 1)]
            suites.append(Suite(name, pairs, f"hub:{BLIMP_HUB}/{name}"))
        return suites
    except UserError:
        raise
    except Exception as e:  # no network, unknown paradigm, hub down: datasets raises many types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise UserError(
            f"could not load BLiMP{'/' + paradigm if paradigm else ''} from the Hugging Face hub "
            f"({first}); {OFFLINE_BLIMP}"
        ) from None


def choose_vocab(vocab: str, config: dict) -> str:
    """auto: the grammar's words for a model trained on the built-in corpus, English otherwise."""
    if vocab != "auto":
        return vocab
    data = (config or {}).get("data") or {}
    local = data.get("dir") or any(data.get(s) for s in ("train", "valid", "test"))
    return "grammar" if data.get("source", "builtin") == "builtin" and not local and data else "english"


def corpus_grammar(config: dict | None) -> dict:
    """The grammar overrides (`data.grammar`) of a model trained on the built-in corpus, {} otherwise: the
    built-in suites label an item train / test / beyond against the distances that model's corpus had."""
    data = (config or {}).get("data") or {}
    return dict(data.get("grammar") or {}) if data.get("source") == "builtin" else {}


def english_for(tokenizers: list[Tokenizer]) -> Lexicon:
    """The English vocabulary cut to the words every model spells without <unk>, so all see the same items."""
    checks = [in_vocabulary(t) for t in tokenizers]
    return restrict(load_vocab("english"), lambda w: all(ok(w) for ok in checks))


def english_style(tokenizer: Tokenizer, case: str = "auto", period: str = "auto") -> TextStyle:
    """detect_style, with `case` (lower | cased) and `period` (sep | attached | eos) overriding what it reads."""
    if case not in ("auto", "lower", "cased") or period not in ("auto", *PERIODS):
        raise UserError(
            f"style.case must be auto, lower or cased and style.period auto or one of "
            f"{', '.join(PERIODS)} (got {case!r}, {period!r})"
        )
    found = detect_style(tokenizer)
    return TextStyle(found.lower if case == "auto" else case == "lower", found.period if period == "auto" else period)


def builtin_for(
    name: str,
    vocab: Lexicon,
    tokenizer: Tokenizer,
    options: BuiltinOptions,
    style: TextStyle | None = None,
    config: dict | None = None,
) -> Suite:
    """A built-in suite for one model (`config`: its run config): grammar words as the corpus writes them,
    English ones in `style` (default: read off the tokenizer)."""
    if vocab.name == "grammar":
        style = CORPUS_STYLE
    style = style or detect_style(tokenizer)
    grammar = GrammarConfig(**corpus_grammar(config))
    suite = builtin_suite(
        name, vocab, options.n_items, options.seed, style, options.max_phrases, options.max_distance, grammar
    )
    suite.notes["style"] = {"lower": style.lower, "period": style.period}
    return suite
