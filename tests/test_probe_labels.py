"""Checkpoints side by side: named by their training runs, scored at one precision."""

from pathlib import Path

import pytest

from conftest import write_checkpoint
from lm.errors import UserError
from lm.model.rnnlm import RNNLM
from lm.probes import engine
from lm.probes.engine import common_precision
from lm.results.checkpoints import load_labelled
from lm.results.labels import RunInfo, path_labels, run_info, run_labels


def runs(*specs):
    return [
        RunInfo(Path(f"/o/{name}/{run}/checkpoints/{stem}.ckpt"), name, Path(f"/o/{name}/{run}"), tuple(over))
        for name, run, stem, over in specs
    ]


def test_runs_are_named_by_name_then_differing_overrides_then_directory_then_file():
    assert run_labels(runs(("ptb_medium", "t1", "best", ()), ("ptb_large", "t2", "best", ()))) == [
        "ptb_medium",
        "ptb_large",
    ]
    sweep = runs(
        ("rnn_vs_lstm", "multirun_t/0", "best", ("experiment=rnn_vs_lstm", "model.cell=rnn")),
        ("rnn_vs_lstm", "multirun_t/1", "best", ("experiment=rnn_vs_lstm", "model.cell=lstm")),
    )
    assert run_labels(sweep) == ["rnn_vs_lstm[model.cell=rnn]", "rnn_vs_lstm[model.cell=lstm]"]
    again = runs(("ptb", "t1", "best", ()), ("ptb", "t2", "best", ()), ("books", "t3", "best", ()))
    assert run_labels(again) == ["ptb/t1", "ptb/t2", "books"]
    assert run_labels(runs(("ptb", "t1", "best", ()), ("ptb", "t1", "last", ()))) == ["ptb/t1/best", "ptb/t1/last"]
    twice = runs(("sweep", "multirun_a/0", "best", ("x=1",)), ("sweep", "multirun_b/0", "best", ("x=1",)))
    assert run_labels(twice) == ["sweep/multirun_a/0", "sweep/multirun_b/0"]


def test_checkpoints_without_a_run_name_keep_their_path_endings():
    unnamed = [RunInfo(Path("/x/a.ckpt")), RunInfo(Path("/y/b.ckpt"))]
    assert run_labels(unnamed) == ["a", "b"] == path_labels([r.path for r in unnamed])
    assert path_labels([Path("/r/0/checkpoints/best.ckpt"), Path("/r/1/checkpoints/best.ckpt")]) == ["0/best", "1/best"]


def test_run_info_reads_the_run_directory_and_its_overrides(tmp_path):
    run = tmp_path / "outputs" / "sweep" / "multirun_t" / "0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- experiment=rnn_vs_lstm\n- model.cell=rnn\n- ckpt_path=last\n")
    info = run_info(run / "checkpoints" / "best.ckpt", {"name": "sweep"})
    overrides = ("experiment=rnn_vs_lstm", "model.cell=rnn")
    assert info == RunInfo(run / "checkpoints" / "best.ckpt", "sweep", run, overrides)
    elsewhere = run_info(tmp_path / "copy.ckpt", {"name": "sweep", "paths": {"run_dir": str(run)}})
    assert elsewhere.run_dir == run and elsewhere.overrides == info.overrides
    assert run_info(tmp_path / "copy.ckpt", {}) == RunInfo(tmp_path / "copy.ckpt")


def test_side_by_side_checkpoints_share_the_most_exact_precision(monkeypatch):
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(engine.torch.backends.mkldnn, "is_available", lambda: True)
    small, big = RNNLM(16, 8, 8, 1), RNNLM(5000, 100, 100, 1)  # auto: fp32 below 1M parameters, bf16 above
    assert [engine.resolve_precision("auto", m, engine.torch.device("cpu")) for m in (small, big)] == ["fp32", "bf16"]
    assert common_precision("auto", [small, big]) == "fp32"
    assert common_precision("auto", [big, big]) == "bf16"
    assert common_precision("fp32", [big]) == "fp32" and common_precision("bf16", [small, big]) == "bf16"
    with pytest.raises(ValueError, match="precision"):
        common_precision("fp16", [small])


def test_a_sweep_folder_loads_every_run_in_job_order_named_by_its_overrides(tmp_path, tiny_model, word_tokenizer):
    sweep = tmp_path / "rnn_vs_lstm" / "multirun_t"
    for job, cell in ((10, "lstm"), (2, "gru"), (0, "rnn")):
        run = sweep / str(job)
        (run / "checkpoints").mkdir(parents=True)
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text(f"- experiment=rnn_vs_lstm\n- model.cell={cell}\n")
        write_checkpoint(run / "checkpoints" / "best.ckpt", tiny_model, word_tokenizer, {"name": "rnn_vs_lstm"})
    loaded = load_labelled([str(sweep)])
    assert [x.path.parent.parent.name for x in loaded] == ["0", "2", "10"]  # numbers sort as numbers
    assert [x.label for x in loaded] == [f"rnn_vs_lstm[model.cell={c}]" for c in ("rnn", "gru", "lstm")]
    with pytest.raises(UserError, match="distinct names"):
        load_labelled([str(sweep)], labels=["a", "b", "a"])
