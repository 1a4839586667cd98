"""The field's test-set formats read as they come: SyntaxGym suites, Linzen .text/.gold pairs, Gulordava's
generated.tab; the reader chosen by shape or prefix; one clear line for each malformed file."""

import json
import re

import pytest

from lm.errors import UserError
from lm.probes.catalog import file_suites
from lm.probes.readers import detect, read_suites, split_prefix
from lm.probes.readers.gulordava import restore_unk
from lm.probes.records import Pair
from lm.probes.regions import RegionSuite, layout


def region(n, content):
    return {"region_number": n, "content": content}


def condition(name, subject, modifier, verb):
    return {"condition_name": name, "regions": [region(1, subject), region(2, modifier), region(3, verb)]}


def gym_suite(predictions=None):
    """Two items of four conditions; region 2 is empty in item 1; one formula uses & and one uses -."""
    items = []
    for number, (subject, modifier) in enumerate([("the dog", ""), ("the dog", "and a cat")], 1):
        items.append(
            {
                "item_number": number,
                "conditions": [
                    condition("sg", subject, modifier, "runs"),
                    condition("sg_bad", subject, modifier, "run"),
                    condition("pl", subject + "s", modifier, "run"),
                    condition("pl_bad", subject + "s", modifier, "runs"),
                ],
            }
        )
    return {
        "meta": {"name": "tiny_agreement", "metric": "sum"},
        "region_meta": {"1": "subject", "2": "modifier", "3": "verb"},
        "predictions": predictions
        or [
            {"type": "formula", "formula": "[(3;%sg%) < (3;%sg_bad%)] & [(3;%pl%) < (3;%pl_bad%)]"},
            {"type": "formula", "formula": "((3;%sg_bad%) - (3;%sg%)) > ((3;%pl_bad%) - (3;%pl%))"},
        ],
        "items": items,
    }


def write_gym(tmp_path, suite=None, name="suite.json"):
    path = tmp_path / name
    path.write_text(json.dumps(suite or gym_suite()))
    return path


TEXT = "the dog runs . <eos>\nthe dogs and the cat run . <eos>\n"
GOLD = "2\truns\trun\t0\n5\trun\truns\t1\textra\tcolumns\n"
HEADER = (
    "pattern\tconstr_id\tsent_id\tcorrect_number\tform\tclass\ttype\tprefix\tn_attr\tpunct\tfreq\tlen_context\t"
    "len_prefix\tsent"
)
TAB_ROWS = [
    "NOUN_VERB\t1\t0\tsing\truns\tcorrect\toriginal\tthe dog\t0\tFalse\t100\t1\t2\tthe dog runs . <eos>",
    "NOUN_VERB\t1\t0\tsing\trun\twrong\toriginal\tthe dog\t0\tFalse\t50\t1\t2\tthe dog runs . <eos>",
    "NOUN_CC_VERB\t2\t1\tplur\trun\tcorrect\tgenerated\tthe dogs and the cat\t1\tTrue\t10\t4\t5\t"
    '"the dogs and the cat run "" quoted "" . <eos>"',
    "NOUN_CC_VERB\t2\t1\tplur\truns\twrong\tgenerated\tthe dogs and the cat\t1\tTrue\t12\t4\t5\t"
    '"the dogs and the cat run "" quoted "" . <eos>"',
    "NOUN_VERB\t1\t3\tsing\truns\tcorrect\tgenerated\t<unk> dog\t0\tFalse\t100\t1\t2\ta dog runs . <eos>",
    "NOUN_VERB\t1\t3\tsing\trun\twrong\tgenerated\t<unk> dog\t0\tFalse\t50\t1\t2\ta dog runs . <eos>",
]


def write_linzen(tmp_path, text=TEXT, gold=GOLD):
    (tmp_path / "agr.text").write_text(text)
    (tmp_path / "agr.gold").write_text(gold)
    return tmp_path / "agr"


def write_tab(tmp_path, header=HEADER, rows=TAB_ROWS):
    path = tmp_path / "English" / "generated.tab"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


# --- SyntaxGym --------------------------------------------------------------------------------------------------


def test_a_syntaxgym_suite_reads_items_conditions_regions_and_predictions(tmp_path):
    (suite,) = read_suites(str(write_gym(tmp_path)))
    assert isinstance(suite, RegionSuite) and suite.name == "tiny_agreement" and suite.metric == "sum"
    assert suite.region_names == {1: "subject", 2: "modifier", 3: "verb"}
    assert [p.text for p in suite.predictions][1] == "((3;%sg_bad%) - (3;%sg%)) > ((3;%pl_bad%) - (3;%pl%))"
    first = suite.items[0]
    assert first.number == 1 and [c.name for c in first.conditions] == ["sg", "sg_bad", "pl", "pl_bad"]
    assert first.conditions[0].regions == ((1, "the dog"), (2, ""), (3, "runs"))
    assert layout(first.conditions[0].regions) == ("the dog runs", [(0, 7), None, (8, 12)])
    assert layout(suite.items[1].conditions[3].regions) == ("the dogs and a cat runs", [(0, 8), (9, 18), (19, 23)])
    assert len(read_suites(str(write_gym(tmp_path)), limit=1)[0].items) == 1


@pytest.mark.parametrize(
    "formula, message",
    [
        (
            "(3;%sg%) < (3;%sg_typo%)",
            "prediction 0 '(3;%sg%) < (3;%sg_typo%)': unknown condition 'sg_typo' "
            "(the items have: pl, pl_bad, sg, sg_bad)",
        ),
        (
            "(9;%sg%) < (3;%sg_bad%)",
            "prediction 0 '(9;%sg%) < (3;%sg_bad%)': unknown region 9 of 'sg' (region_meta numbers: 1, 2, 3)",
        ),
        ("(3;%sg%) < ", "prediction 0 '(3;%sg%) < ': expected a region"),
    ],
)
def test_a_formula_naming_what_the_suite_lacks_is_one_line(tmp_path, formula, message):
    path = write_gym(tmp_path, gym_suite([{"type": "formula", "formula": formula}]))
    with pytest.raises(UserError, match="^" + re.escape(f"{path}: {message}")):
        read_suites(str(path))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("items"), 'not a SyntaxGym suite, which needs "items" (a list) and "predictions"'),
        (lambda s: s["meta"].update(metric="logprob"), "meta.metric 'logprob' is not a SyntaxGym metric"),
        (
            lambda s: s["items"][1]["conditions"][0]["regions"].append(region(3, "x")),
            "item 2, condition 'sg': region numbers repeat",
        ),
        (
            lambda s: s["items"][0]["conditions"][0]["regions"][0].pop("content"),
            "item 1, condition 'sg': each region needs an integer",
        ),
        (lambda s: s["predictions"].__setitem__(0, {"type": "prose", "formula": "x"}), "prediction 0 must be"),
    ],
)
def test_malformed_suites_are_one_line(tmp_path, edit, message):
    suite = gym_suite()
    edit(suite)
    with pytest.raises(UserError, match=re.escape(message)):
        read_suites(str(write_gym(tmp_path, suite)))


def test_a_suite_that_is_not_json_names_the_place(tmp_path):
    (tmp_path / "broken.json").write_text('{"items": [}')
    with pytest.raises(UserError, match=r"broken\.json: not valid JSON \(Expecting value at line 1 column 12\)"):
        read_suites(str(tmp_path / "broken.json"))


def test_a_region_missing_from_one_item_is_named(tmp_path):
    suite = gym_suite()
    suite["region_meta"] = {}
    suite["items"][1]["conditions"][1]["regions"].pop()
    with pytest.raises(UserError, match=r"unknown region 3 of 'sg_bad' in item 2 \(its regions: 1, 2\)"):
        read_suites(str(write_gym(tmp_path, suite)))


# --- Linzen .text / .gold ---------------------------------------------------------------------------------------


def test_a_text_gold_pair_reads_as_prefix_pairs_by_its_stem_or_either_file(tmp_path):
    stem = write_linzen(tmp_path)
    for spec in (f"linzen:{stem}", str(stem), str(stem) + ".text", str(stem) + ".gold", f"linzen:{stem}.gold"):
        (suite,) = file_suites(spec)
        assert suite.name == "agr" and suite.group_by == ("n_attractors",)
        assert suite.pairs == [
            Pair("runs", ("run",), "the dog", {"n_attractors": 0, "line": 1}, f"{stem}.gold:1"),
            Pair("run", ("runs",), "the dogs and the cat", {"n_attractors": 1, "line": 2}, f"{stem}.gold:2"),
        ]
    assert len(file_suites(str(stem) + ".text", limit=1)[0].pairs) == 1


@pytest.mark.parametrize(
    "gold, message",
    [
        ("2\truns\trun\t0\n9\trun\truns\t1\n", r"agr\.gold:2: target index 9 is outside its sentence of 7 words"),
        (
            "2\truns\trun\t0\n4\trun\truns\t1\n",
            r"agr\.gold:2: word 4 of its sentence is 'cat', neither 'run' nor 'runs'",
        ),
        ("two\truns\trun\t0\n5\trun\truns\t1\n", r"agr\.gold:1: columns 1 and 4 must be whole numbers .* got 'two'"),
        ("2\truns\trun\n5\trun\truns\t1\n", r"agr\.gold:1: a gold line needs 4 tab-separated columns"),
        ("2\truns\trun\t0\n", r"agr\.gold: 1 lines for the 2 sentences of agr\.text"),
    ],
)
def test_a_bad_gold_line_is_one_line(tmp_path, gold, message):
    stem = write_linzen(tmp_path, gold=gold)
    with pytest.raises(UserError, match=message):
        file_suites(f"linzen:{stem}")


def test_a_gold_without_its_text_names_the_missing_file(tmp_path):
    (tmp_path / "lone.gold").write_text(GOLD)
    with pytest.raises(UserError, match=r"lone\.text not found: a Linzen-style set is a \.text file"):
        file_suites(str(tmp_path / "lone.gold"))


# --- Gulordava generated.tab ------------------------------------------------------------------------------------


def test_generated_tab_reads_two_rows_per_item_with_quoted_sentences(tmp_path):
    path = write_tab(tmp_path)
    (suite,) = file_suites(str(path))
    assert suite.name == "generated_English" and suite.group_by == ("n_attractors", "pattern", "type")
    a, b, c = suite.pairs
    assert (a.good, a.bad, a.prefix, a.where) == ("runs", ("run",), "the dog", f"{path}:2")
    assert a.meta == {
        "pattern": "NOUN_VERB",
        "constr_id": 1,
        "sent_id": 0,
        "type": "original",
        "n_attractors": 0,
        "correct_number": "sing",
        "punct": False,
        "len_context": 1,
        "len_prefix": 2,
    }
    assert (b.good, b.bad, b.prefix, b.meta["n_attractors"], b.meta["punct"]) == (
        "run",
        ("runs",),
        "the dogs and the cat",
        1,
        True,
    )
    assert c.prefix == "a dog"  # the file's <unk> put back from its sentence
    assert len(file_suites(f"gulordava:{path}", limit=2)[0].pairs) == 2


def test_unk_is_restored_only_where_the_sentence_agrees():
    assert restore_unk("<unk> I do", "Whie I do n't") == "Whie I do"
    assert restore_unk("<unk> I do", "Whie you do n't") == "<unk> I do"
    assert restore_unk("the dog", "a cat") == "the dog"


@pytest.mark.parametrize(
    "header, rows, message",
    [
        (
            HEADER.replace("\tn_attr", ""),
            [r.replace("\t0\tFalse", "\tFalse", 1) for r in TAB_ROWS],
            r"generated\.tab: the header lacks column\(s\) n_attr; generated\.tab starts with",
        ),
        (
            HEADER,
            TAB_ROWS[:1] + TAB_ROWS[2:],
            r"generated\.tab:2: item NOUN_VERB/1/0 has rows of class correct; it needs",
        ),
        (HEADER, [TAB_ROWS[0].replace("\t0\tFalse", "\tnone\tFalse", 1), TAB_ROWS[1]], r":2: n_attr must be a whole"),
        (HEADER, [], r"generated\.tab: empty suite"),
    ],
)
def test_a_malformed_tab_is_one_line(tmp_path, header, rows, message):
    with pytest.raises(UserError, match=message):
        file_suites(str(write_tab(tmp_path, header, rows)))


# --- choosing the reader ----------------------------------------------------------------------------------------


def test_the_reader_follows_the_prefix_or_the_files_shape(tmp_path):
    assert split_prefix("syntaxgym:a/b.json") == ("syntaxgym", "a/b.json")
    assert split_prefix("C:/data/b.json") == (None, "C:/data/b.json")
    gym = write_gym(tmp_path, name="suite.txt")  # no telling suffix: read from its first line
    assert detect(gym) == "syntaxgym" and isinstance(read_suites(str(gym))[0], RegionSuite)
    tab = write_tab(tmp_path)
    tsv = tab.with_name("agreement.tsv")
    tsv.write_text(tab.read_text())
    assert detect(tsv) == "gulordava" and detect(tmp_path / "pairs.jsonl") == "jsonl"
    assert read_suites(str(tmp_path / "nothing_here")) is None


def test_a_directory_holds_a_suite_per_file_of_a_known_shape(tmp_path):
    write_gym(tmp_path)
    write_linzen(tmp_path)
    (tmp_path / "colorless.tab").write_text(write_tab(tmp_path).read_text())
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"prefix": "the dog", "good": "runs", "bad": "run"}) + "\n")
    (tmp_path / "config.json").write_text('{"not": "a suite"}')
    (tmp_path / "notes.txt").write_text("ignored")
    assert [s.name for s in file_suites(str(tmp_path))] == ["agr", "colorless", "pairs", "tiny_agreement"]
    with pytest.raises(UserError, match=r"config\.json: not a SyntaxGym suite"):  # a named reader reads every file
        file_suites(f"syntaxgym:{tmp_path}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty suite directory, no suite files \(\*\.jsonl, SyntaxGym"):
        file_suites(str(tmp_path / "empty"))
