"""Crash safety: real processes killed with SIGKILL at random moments, including in the middle of a file write.

Training is killed several times and resumed each time: the run directory is never corrupt and the step
count goes on from the last checkpoint. A batch colorization killed midway leaves no partial output where
a user would see it, and a rerun finishes the rest (and removes the dead writer's hidden temporary file).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import load_model, read_checkpoint, save_checkpoint
from chromatize.data.synthetic import write_synthetic_folder
from chromatize.registry import create_model
from chromatize.train.run import train
from chromatize.train.rundir import read_metrics

SRC = Path(__file__).resolve().parents[1] / "src"
RECIPE = Path(__file__).resolve().parents[1] / "configs" / "baseline.yaml"
#: SIGKILLs per test (more for a long local run).
KILLS = int(os.environ.get("CHROMATIZE_CRASH_KILLS", "6"))

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(SRC), XDG_CACHE_HOME=str(tmp_path / "xdg"), OMP_NUM_THREADS="1")


def _popen(args: list[str], tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chromatize", *args], env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.part*")]


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (polled about every millisecond)."""
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before it could be killed: {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError("the process made no progress")
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


_STEPS: dict[tuple, int] = {}


def _saved_step(run: Path) -> int:
    """The step in ``run/last.pt`` (-1 before the first); re-read only when the file was replaced."""
    try:
        st = (run / "last.pt").stat()
    except FileNotFoundError:
        return -1
    key = (str(run), st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _STEPS:
        try:
            _STEPS[key] = read_checkpoint(run / "last.pt")["training_state"]["step"]
        except (FileNotFoundError, ValueError, KeyError):
            return -1
    return _STEPS[key]


def _check_run_dir(run: Path) -> int:
    """Everything a user sees in the run directory is whole; returns the saved step."""
    ckpt = read_checkpoint(run / "last.pt")  # raises on a corrupt file
    load_model(run / "last.pt")
    state = ckpt["training_state"]
    metrics = read_metrics(run)  # every line parses
    assert [r["epoch"] for r in metrics] == [r["epoch"] for r in state["history"]]
    assert (run / "config.yaml").read_text().strip()
    for step_file in (run / "checkpoints").glob("step_*.pt"):
        assert read_checkpoint(step_file)["training_state"]["step"] == int(step_file.stem[5:])
    if (run / "best.pt").exists():
        load_model(run / "best.pt")
    return state["step"]


def test_training_killed_again_and_again_resumes_each_time(tmp_path):
    photos = tmp_path / "photos"
    write_synthetic_folder(photos, 24, 24, seed=1)
    run = tmp_path / "run"
    overrides = [f"data={photos}", f"cache_dir={tmp_path / 'cache'}", "image_size=16", "batch_size=8", "val_fraction=0.2",
                 "model.args.width=8", "progress=false", "samples=1", "epochs=400", "checkpoint_every=1", "threads=1"]
    start = ["train", str(RECIPE), "--run-dir", str(run), *[a for kv in overrides for a in ("--set", kv)]]
    rng = random.Random(16)
    saved, during_write = [], 0
    for kill in range(KILLS):
        proc = _popen(start if kill == 0 else ["train", "--resume", str(run)], tmp_path)
        before = max(saved, default=-1)
        if kill % 2:  # in the middle of a checkpoint write: a temporary file exists, the rename has not happened
            _kill_when(proc, lambda: _saved_step(run) > before and bool(_parts(run)))
            during_write += bool(_parts(run))  # the dead writer's temporary file is still there: it was mid-write
        else:  # at a random moment after some progress
            target = before + rng.randint(1, 6)
            _kill_when(proc, lambda: _saved_step(run) >= target)
            time.sleep(rng.uniform(0, 0.05))
        step = _check_run_dir(run)
        assert step >= before, f"kill {kill}: step went back from {before} to {step}"
        saved.append(step)
    assert during_write >= 1, "no kill landed in the middle of a checkpoint write"
    assert saved == sorted(saved) and saved[-1] > saved[0]
    result = train(resume=run, overrides=["epochs=30", "progress=false"])  # 19 train squares // 8: 2 steps an epoch
    assert result.step == 60 > saved[-1]
    assert [r["epoch"] for r in read_metrics(run)] == list(range(1, 31))
    assert [r["step"] for r in read_metrics(run)] == list(range(2, 61, 2))
    assert not _parts(run)
    _check_run_dir(run)
    print(f"\ntraining: {KILLS} SIGKILLs survived ({during_write} in the middle of a checkpoint write), saved steps {saved}")


def _gray_folder(folder: Path, n: int) -> dict[Path, tuple[int, int]]:
    rng = np.random.default_rng(3)
    sizes = {}
    for i in range(n):
        w, h = int(rng.integers(16, 48)), int(rng.integers(16, 48))
        path = folder / f"sub{i % 3}" / f"photo_{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L").save(path)
        sizes[path.relative_to(folder)] = (w, h)
    return sizes


def _whole_outputs(out: Path, sizes: dict[Path, tuple[int, int]]) -> set[Path]:
    """Every visible output decodes completely at its input's size; returns them."""
    seen = set()
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            rel = path.relative_to(out)
            with Image.open(path) as im:
                im.load()  # a partial PNG fails here
                assert im.size == sizes[rel], rel
            seen.add(rel)
    return seen


@pytest.mark.parametrize("during_write", [False, True], ids=["random-moment", "during-a-write"])
def test_batch_colorize_killed_midway_leaves_no_partial_output_and_a_rerun_finishes(tmp_path, during_write):
    src, out = tmp_path / "in", tmp_path / "out"
    sizes = _gray_folder(src, 150)
    model = save_checkpoint(tmp_path / "tiny.safetensors", create_model("baseline", width=4))
    args = ["colorize", str(src), "-o", str(out), "--model", str(model), "--render-size", "32", "-q"]
    done_before = set()
    for _ in range(3):
        proc = _popen(args, tmp_path)
        already = len(done_before)
        outputs = lambda: sum(1 for p in out.rglob("*.png") if not p.name.startswith(".")) if out.exists() else 0  # noqa: E731
        if during_write:
            _kill_when(proc, lambda: outputs() >= already + 3 and bool(_parts(out)))
        else:
            _kill_when(proc, lambda: outputs() >= already + 3 + random.Random(len(done_before)).randint(0, 10))
        done = _whole_outputs(out, sizes)
        assert done >= done_before and len(done) < len(sizes)
        done_before = done
        if during_write:
            assert _parts(out), "the kill was meant to land in the middle of a write"
    rerun = subprocess.run([sys.executable, "-m", "chromatize", *args], env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = (rerun.stdout + rerun.stderr).strip().splitlines()[-1]
    assert summary == f"{len(sizes) - len(done_before)} done, {len(done_before)} skipped (output exists; --overwrite replaces), 0 failed"
    assert _whole_outputs(out, sizes) == set(sizes)
    assert not _parts(out), "a killed writer's temporary file was left behind"
    assert "Traceback" not in rerun.stderr
    print(f"\nbatch: 3 SIGKILLs survived ({'each in the middle of a write' if during_write else 'at random moments'}), "
          f"{len(done_before)} of {len(sizes)} done before the rerun")
