"""The console commands from a wheel installed in a fresh virtual environment, run outside the checkout."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cli import ROOT

pytestmark = pytest.mark.slow


def _run(cmd, cwd, timeout=300):
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv holding only the wheel of this checkout; the dependencies come from the test's own environment."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"  # built from a copy: setuptools writes build/ next to the sources
    for name in ("lm", "conf", "data/grammar", "data/probes"):  # lm/conf and lm/_data are links to these
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(src)],
        cwd=tmp,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp.glob("lstm_lm-*.whl")
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = Path(
        _run(
            [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp
        ).stdout.strip()
    )
    # torch and the rest from here; a .pth line adds a path without running this environment's own .pth files,
    # so the checkout's editable install of lm stays out
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        cwd=tmp,
    )
    assert installed.returncode == 0, installed.stderr
    where = _run([str(env / "bin" / "python"), "-c", "import lm; print(lm.__file__)"], cwd=tmp).stdout
    assert str(site) in where and str(ROOT) not in where
    return env / "bin"


def test_console_commands_train_generate_and_evaluate_from_a_wheel(venv, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    train = _run(
        [
            str(venv / "lm-train"),
            "model.emb_size=16",
            "model.hidden_size=16",
            "model.num_layers=1",
            "data.batch_size=4",
            "data.bptt=8",
            "trainer.max_steps=5",
            "trainer.limit_val_batches=2",
            "trainer.limit_test_batches=2",
            "trainer.enable_progress_bar=false",
            "logger=csv",
            "callbacks.samples.every_n_epochs=0",
            "callbacks.probes.n_items=0",
            "hydra.run.dir=outputs/run",
        ],
        cwd=work,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    run = work / "outputs" / "run"
    assert (run / "checkpoints" / "best.ckpt").is_file() and (work / "data" / "cache").is_dir()
    assert "lm-generate ckpt=" in train.stdout  # the summary prints the installed command

    gen = _run([str(venv / "lm-generate"), f"ckpt={run}", "prompt=the", "max_new_tokens=5", "seed=1"], cwd=work)
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert gen.stdout.startswith("the") and len(gen.stdout.split()) > 1

    options = "probes=[agreement] n_items=20 wandb=false plots=false output_dir=eval".split()
    ev = _run([str(venv / "lm-evaluate"), f"ckpt={run}", *options], cwd=work)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert (work / "eval" / "results.csv").is_file() and "agreement" in (work / "eval" / "results.csv").read_text()


@pytest.mark.parametrize("command", ["lm-evaluate", "lm-analyze"])
def test_a_missing_checkpoint_is_one_line_and_leaves_no_folder(venv, tmp_path, command):
    out = _run([str(venv / command)], cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: no checkpoint given: add ckpt=<checkpoint file or run directory>"
    ]
    assert list(tmp_path.iterdir()) == []


def test_help_shows_the_commands_own_options(venv, tmp_path):
    out = _run([str(venv / "lm-evaluate"), "--help"], cwd=tmp_path)
    assert out.returncode == 0 and "n_items:" in out.stdout and "probes:" in out.stdout
    assert "model:" not in out.stdout and "optim" not in out.stdout  # training's groups are not evaluate's
