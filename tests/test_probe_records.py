"""Minimal-pair files: BLiMP's shape and the prefix shape load; every malformed input is one clear error."""

import json

import pytest

from lm.errors import UserError
from lm.probes.catalog import file_suites
from lm.probes.records import Pair, parse_record, read_dir, read_jsonl

BLIMP = {
    "sentence_good": "Who should Derek hug after shocking Richard?",
    "sentence_bad": "Who should Derek hug Richard after shocking?",
    "field": "syntax",
    "linguistics_term": "island_effects",
    "UID": "adjunct_island",
    "simple_LM_method": True,
    "one_prefix_method": False,
    "two_prefix_method": False,
    "lexically_identical": True,
    "pairID": "0",
}


def write(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_blimp_records_load_as_they_are(tmp_path):
    suite = read_jsonl(write(tmp_path / "adjunct_island.jsonl", [BLIMP, "", BLIMP | {"pairID": "1"}]))
    assert suite.name == "adjunct_island" and len(suite.pairs) == 2  # the blank line is skipped
    p = suite.pairs[0]
    assert p.kind == "sentence" and p.prefix is None and p.good == BLIMP["sentence_good"]
    assert p.bad == (BLIMP["sentence_bad"],) and p.meta["UID"] == "adjunct_island" and "sentence_good" not in p.meta
    assert p.where.endswith("adjunct_island.jsonl:1") and suite.pairs[1].where.endswith(":3")


def test_prefix_records_keep_every_other_field_as_metadata(tmp_path):
    rec = {"prefix": "the dogs near the car", "good": "run", "bad": "runs", "n_attractors": 1, "construction": "pp"}
    (p,) = read_jsonl(write(tmp_path / "agr.jsonl", [rec])).pairs
    assert (p.kind, p.prefix, p.good, p.bad) == ("prefix", "the dogs near the car", "run", ("runs",))
    assert p.meta == {"n_attractors": 1, "construction": "pp"}
    many = parse_record({"prefix": "x", "good": "a", "bad": ["b", "c"]}, "f:1")
    assert many.bad == ("b", "c")


def test_pairs_write_and_read_back(tmp_path):
    pairs = [Pair("run", ("runs",), "the dogs", {"distance": 1}), Pair("a b", ("b a", "a a"), None, {"k": "v"})]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(p.record()) + "\n" for p in pairs), encoding="utf-8")
    back = read_jsonl(path).pairs
    assert [(p.good, p.bad, p.prefix, p.meta) for p in back] == [(p.good, p.bad, p.prefix, p.meta) for p in pairs]


def test_a_directory_is_one_suite_per_file(tmp_path):
    write(tmp_path / "b.jsonl", [BLIMP])
    write(tmp_path / "a.jsonl", [{"prefix": "the dog", "good": "runs", "bad": "run"}])
    (tmp_path / "notes.txt").write_text("ignored")
    assert [s.name for s in read_dir(tmp_path)] == ["a", "b"]
    assert [s.name for s in file_suites(str(tmp_path))] == ["a", "b"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"bad\.jsonl:2: not valid JSON"),
        ('{"sentence_good": "a b"}', r"bad\.jsonl:2: a record needs the fields .* \(found: sentence_good\)"),
        ('{"prefix": "a", "good": "b"}', r"bad\.jsonl:2: a record needs the fields"),
        ('["a", "b"]', r"bad\.jsonl:2: a record must be a JSON object"),
        ('{"prefix": "a", "good": "b", "bad": 3}', r"bad\.jsonl:2: field 'bad' must be a string"),
        ('{"prefix": "a", "good": "", "bad": "c"}', r"bad\.jsonl:2: field 'good' is empty"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", [BLIMP, line])
    with pytest.raises(UserError, match=message):
        read_jsonl(path)


def test_empty_suites_and_unknown_names_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="empty suite"):
        read_jsonl(write(tmp_path / "empty.jsonl", ["", "  "]))
    (tmp_path / "none").mkdir()
    with pytest.raises(UserError, match="empty suite directory"):
        read_dir(tmp_path / "none")
    with pytest.raises(UserError, match="unknown suite 'agreemnt'"):
        file_suites("agreemnt")
    with pytest.raises(UserError, match="not UTF-8"):
        (tmp_path / "latin.jsonl").write_bytes(b'{"prefix": "caf\xe9", "good": "a", "bad": "b"}\n')
        read_jsonl(tmp_path / "latin.jsonl")


def test_limit_reads_the_first_pairs(tmp_path):
    path = write(tmp_path / "s.jsonl", [BLIMP | {"pairID": str(i)} for i in range(5)])
    assert [p.meta["pairID"] for p in read_jsonl(path, limit=2).pairs] == ["0", "1"]


def test_blimp_from_the_hub_without_a_network_names_the_offline_way(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="could not load BLiMP/adjunct_island .*offline: download BLiMP"):
        file_suites("blimp/adjunct_island")
