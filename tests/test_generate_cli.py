"""lm-generate's command line: options checked in one line, text streamed, prompt files to JSONL."""

import json

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from cli import run_script
from lm.cli import CONF_DIR
from lm.cli.generate import quote_text_overrides
from lm.cli.generate import run as generate_command
from lm.errors import UserError
from lm.generation.generator import generate


def assert_one_line_error(proc, *words):
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(w in last for w in words), proc.stderr
    assert "Traceback" not in proc.stderr


BAD = [
    (["ckpt=missing.ckpt"], ["no checkpoint", "missing.ckpt"]),
    (["ckpt=notes.txt"], ["not a checkpoint", "notes.txt"]),
    (["temperature=0"], ["temperature"]),
    (["top_p=0"], ["top_p"]),
    (["top_p=1.5"], ["top_p"]),
    (["top_k=0"], ["top_k"]),
    (["max_new_tokens=-1"], ["max_new_tokens"]),
    (["prompt_file=empty.txt"], ["empty.txt", "empty"]),
]


def generate_config(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("generate", overrides=list(overrides))


@pytest.mark.parametrize("args, words", BAD)
def test_bad_input_is_refused_with_a_message_naming_it(tmp_path, tiny_checkpoint, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(UserError) as refused:
        generate_command(generate_config(f"ckpt={tiny_checkpoint}", *args))
    assert all(w in str(refused.value) for w in words), refused.value


def test_script_bad_input_gives_one_line(tmp_path, tiny_checkpoint):  # the form of the message, in one process
    assert_one_line_error(run_script("generate.py", f"ckpt={tiny_checkpoint}", "top_k=0", cwd=tmp_path), "top_k")


def test_script_streams_text_and_warns_about_unknown_words(tmp_path, tiny_checkpoint, tiny_model, word_tokenizer):
    prompt = "the zebra, the café"  # a comma and a non-ASCII letter: Hydra needs them quoted, the script does it
    proc = run_script(
        "generate.py", f"ckpt={tiny_checkpoint}", f"prompt={prompt}", "max_new_tokens=12", "seed=3", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    with pytest.warns(UserWarning):
        (s,) = generate(tiny_model, word_tokenizer, prompt, max_new_tokens=12, seed=3)
    assert proc.stdout.rstrip("\n") == (prompt + s.text).rstrip("\n") and len(s.ids) == 12
    assert "warning:" in proc.stderr and "'zebra,', 'café'" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.ckpt"]  # no outputs/ or .hydra/ left behind


@pytest.mark.parametrize("text", ["café, crème", "it's", "back\\slash", "end\\", "a\\'b", "q''q", "日本 🙂"])
def test_text_overrides_reach_hydra_verbatim(text):
    (arg,) = quote_text_overrides([f"prompt={text}"])
    assert OverridesParser.create().parse_override(arg).value() == text
    assert quote_text_overrides(["prompt='a, b'", "prompt=null", "top_k=5"]) == [
        "prompt='a, b'",
        "prompt=null",
        "top_k=5",
    ]


def test_script_writes_jsonl_for_a_prompt_file(tmp_path, tiny_checkpoint, tiny_model, word_tokenizer):
    (tmp_path / "prompts.txt").write_text("the cat\n\na dog\n")
    proc = run_script(
        "generate.py",
        f"ckpt={tiny_checkpoint}",
        "prompt_file=prompts.txt",
        "num_samples=2",
        "max_new_tokens=8",
        "top_p=0.9",
        "seed=5",
        "output=out/s.jsonl",
        "engine=reference",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "out" / "s.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["seed"]) for r in records] == [("the cat", 5), ("the cat", 6), ("a dog", 5), ("a dog", 6)]
    assert set(records[0]) >= {"prompt", "sample", "tokens", "mean_logprob"} and len(records[0]["tokens"]) == 8
    again = generate(tiny_model, word_tokenizer, "a dog", max_new_tokens=8, top_p=0.9, seed=6, engine="reference")
    assert records[3]["sample"] == again[0].text
    assert records[3]["mean_logprob"] == pytest.approx(again[0].mean_logprob, abs=1e-5)
