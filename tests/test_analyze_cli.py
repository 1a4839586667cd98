"""lm-analyze end to end: every analysis on two checkpoints, its files, W&B, and one line for bad input."""

import json

import pytest
from omegaconf import OmegaConf

from cli import ROOT, analyze_script, run_script
from conftest import write_checkpoint
from lm.cli.analyze import analyze, parse_analyses
from lm.errors import UserError
from test_analysis import small_model
from test_train_cli import wandb_env, wandb_summary


def test_unknown_analysis_name():
    assert parse_analyses("all") == (["agreement", "gradients", "gates", "probes", "ablation"], False)
    assert parse_analyses(["gates", "agreement"]) == (["agreement", "gates"], True)
    with pytest.raises(UserError, match="unknown analysis 'gate'"):
        parse_analyses("gate")


# -- the whole pipeline and the script -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory, grammar_tokenizer):
    """An RNN and an LSTM checkpoint (random weights) whose tokenizer covers the built-in grammar."""
    tmp = tmp_path_factory.mktemp("pair")
    config = {"data": {"source": "builtin", "grammar": {}}}
    return [
        write_checkpoint(
            tmp / f"{cell}.ckpt", small_model(grammar_tokenizer, cell, hidden=6), grammar_tokenizer, config
        )
        for cell in ("rnn", "lstm")
    ]


def analyze_in_process(tmp_path, ckpts, **overrides):
    """The script's work without its process start (the one-line error path is tested through the script)."""
    cfg = OmegaConf.load(ROOT / "conf" / "analyze.yaml")
    cfg.merge_with({"ckpt": [str(p) for p in ckpts], "output_dir": str(tmp_path / "out"), "wandb": False} | overrides)
    return analyze(cfg)


def test_analyze_runs_every_analysis_and_writes_its_files(pair, tmp_path, capsys):
    summary = analyze_in_process(
        tmp_path,
        pair,
        agreement={"n_items": 60},
        gradients={"n_items": 40},
        gates={"n_items": 20},
        probes={"n_items": 80, "min_items": 20, "max_offset": 2},
        ablation={"n_items": 40},
    )
    out = tmp_path / "out"
    for name in (
        "agreement.csv",
        "agreement.png",
        "gradients.csv",
        "gradients.png",
        "probes_rnn.csv",
        "probes_lstm.png",
        "ablation_lstm.csv",
        "ablation_rnn.png",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    assert not list(out.glob("gates_rnn*"))  # gates: LSTM only, skipped for the RNN under analysis=all
    assert (out / "gates_lstm.csv").is_file() and (out / "subject_change_lstm.png").is_file()
    assert "skipping analysis=gates for rnn" in capsys.readouterr().out
    saved = json.loads((out / "summary.json").read_text())
    assert set(saved["agreement"]) >= {"rnn", "lstm", "verdict"} and saved == json.loads(json.dumps(saved))
    assert summary["ablation"]["lstm"]["baseline"]["n"] > 0


@pytest.mark.slow
def test_analyze_script_writes_the_comparison_under_the_first_run(tmp_path, pair):
    agreement = ("analysis=[agreement,gradients]", "agreement.n_items=40", "gradients.n_items=20")
    res = analyze_script(f"[{pair[0]},{pair[1]}]", *agreement)
    out = pair[0].parent / "analysis"
    assert (out / "agreement.png").is_file() and (out / "gradients.png").is_file()
    assert "rnn acc" in res.stdout and "lstm acc" in res.stdout


@pytest.mark.slow
def test_analysis_goes_to_an_offline_wandb_run(tmp_path, pair):
    out = tmp_path / "out"
    res = run_script(
        "analyze.py",
        f"ckpt=[{pair[0]},{pair[1]}]",
        "analysis=agreement",
        "agreement.n_items=40",
        f"output_dir={out}",
        "threads=1",
        env=wandb_env(tmp_path),
        timeout=180,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "W&B: logged the analysis (offline:" in res.stdout
    (run_dir,) = (out / "wandb").glob("offline-run-*")
    run = wandb_summary(tmp_path, run_dir)
    saved = json.loads((out / "summary.json").read_text())
    assert run["name"] == "analysis-rnn-lstm" and run["config"]["analysis"] == ["agreement"]
    assert run["summary"]["agreement/lstm/acc"] == pytest.approx(saved["agreement"]["lstm"]["acc"])
    assert run["summary"]["agreement/agreement"]["_type"] == "table-file"  # the rows of agreement.csv
    assert run["summary"]["agreement/plot/agreement"]["_type"] == "image-file"  # agreement.png


def test_analyze_bad_input_is_one_line(pair):
    res = run_script("analyze.py", f"ckpt={pair[1]}", "wandb=false", "threads=1", "analysis=gatez", timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error: ") and "unknown analysis 'gatez'" in res.stderr
    assert "Traceback" not in res.stderr


def test_analyze_names_a_word_the_model_cannot_spell(pair, tmp_path):
    with pytest.raises(UserError, match="cannot cover 'zebras'"):
        analyze_in_process(tmp_path, [pair[1]], analysis="gates", gates={"sentences": ["the zebras run ."]})


def test_analyze_gates_of_a_gru_says_only_lstm(tmp_path, grammar_tokenizer):
    ckpt = write_checkpoint(tmp_path / "gru.ckpt", small_model(grammar_tokenizer, "gru"), grammar_tokenizer)
    with pytest.raises(UserError, match="^analysis=gates is defined for LSTM checkpoints only.*is a GRU"):
        analyze_in_process(tmp_path, [ckpt], analysis="gates")
