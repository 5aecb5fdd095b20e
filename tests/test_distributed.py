"""Training under torchrun (2 gloo processes on the CPU) and the trainer's single step seam."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from chromatize.checkpoint import load_model, read_checkpoint
from chromatize.data.synthetic import write_synthetic_folder
from chromatize.train import distributed
from chromatize.train.run import train
from chromatize.train.rundir import read_metrics

ROOT = Path(__file__).resolve().parent.parent
NO_AUG = ["augment.hflip=false", "augment.crop_scale=1.0", "augment.rotation=0"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    write_synthetic_folder(root, 16, 32, seed=1)  # 14 train / 2 val squares
    return root


def tiny(photos, tmp_path, *extra):
    return [f"data={photos}", f"cache_dir={tmp_path / 'cache'}", "image_size=32", "model.args.width=4", "progress=false",
            "samples=1", "threads=1", "optim.name=sgd", "optim.momentum=0", "optim.lr=0.5", *NO_AUG, *extra]


def weights(path):
    return {k: v.detach().clone() for k, v in load_model(path).state_dict().items()}


def torchrun(photos, tmp_path, *args, overrides=(), **popen):
    """``torchrun --standalone --nproc_per_node=2 -m chromatize train ...`` as a child process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), XDG_CACHE_HOME=str(tmp_path / "xdg"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "chromatize", "train",
           *args, *[a for kv in overrides for a in ("--set", kv)]]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def test_two_ranks_take_the_same_step_as_one_process_with_the_global_batch(photos, tmp_path):
    proc = torchrun(photos, tmp_path, str(ROOT / "configs" / "baseline.yaml"), "--run-dir", str(tmp_path / "ddp"),
                    overrides=tiny(photos, tmp_path, "batch_size=4", "max_steps=1"))
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out[-3000:]
    first = next(line for line in out.splitlines() if line.startswith("run "))
    assert "world size 2" in first and "1 steps per epoch on each rank" in first and "effective batch 8" in first
    assert "lr_scaling none" in first and out.count("done: 1 steps") == 1  # rank 0 alone reports
    single = train(overrides=tiny(photos, tmp_path, "batch_size=8", "max_steps=1"), run_dir=tmp_path / "one")
    accumulated = train(overrides=tiny(photos, tmp_path, "batch_size=4", "accumulate=2", "max_steps=1"), run_dir=tmp_path / "acc")
    assert single.step == accumulated.step == 1
    ddp, one, acc = (weights(tmp_path / name / "last.pt") for name in ("ddp", "one", "acc"))
    torch.manual_seed(0)
    from chromatize.registry import create_model

    init = create_model("baseline", width=4).state_dict()
    assert any(not torch.allclose(init[k], one[k]) for k in one)  # the step moved the weights
    for k in one:
        assert torch.allclose(ddp[k], one[k], atol=1e-6), k
        assert torch.allclose(acc[k], one[k], atol=1e-6), k
    assert read_metrics(tmp_path / "ddp")[0]["images_seen"] == 8
    assert not (tmp_path / "ddp" / "checkpoints").exists() and len(list((tmp_path / "ddp" / "samples").iterdir())) == 1


def test_sigkill_under_torchrun_then_resume_continues_at_the_saved_step(photos, tmp_path):
    run = tmp_path / "run"
    args = tiny(photos, tmp_path, "batch_size=4", "epochs=500", "checkpoint_every=1")
    proc = torchrun(photos, tmp_path, str(ROOT / "configs" / "baseline.yaml"), "--run-dir", str(run), overrides=args)
    deadline = time.time() + 180
    while not ((run / "last.pt").exists() and read_checkpoint(run / "last.pt")["training_state"]["step"] >= 3):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    ranks = descendants(proc.pid)  # torchrun starts each rank in its own session
    assert len(ranks) == 2
    for pid in [proc.pid, *ranks]:  # the launcher and both ranks, as a node failure or `scancel -s KILL` would
        os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    saved = read_checkpoint(run / "last.pt")["training_state"]["step"]
    load_model(run / "last.pt")
    resumed = torchrun(photos, tmp_path, "--resume", str(run), overrides=[f"epochs={saved + 2}"])
    out, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, out[-3000:]
    assert f"resuming {run} at step {saved} " in out and f"done: {saved + 2} steps" in out
    assert [r["epoch"] for r in read_metrics(run)] == list(range(1, saved + 3))
    assert not list(run.rglob(".*part*"))


def test_resume_with_another_world_size_is_refused(photos, tmp_path):
    train(overrides=tiny(photos, tmp_path, "batch_size=4", "max_steps=1"), run_dir=tmp_path / "run")
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    ckpt["training_state"]["world"] = 2
    torch.save(ckpt, tmp_path / "run" / "last.pt")
    with pytest.raises(ValueError, match="trained by 2 process.*not 1"):
        train(resume=tmp_path / "run", overrides=["epochs=2"])


def test_epoch_shards_are_disjoint_deterministic_and_reshuffled():
    shards = [distributed.epoch_shard(10, 4, seed=3, epoch=0, rank=r, world=2) for r in range(2)]
    assert not set(shards[0]) & set(shards[1]) and len(set(shards[0] + shards[1])) == 8
    single = distributed.epoch_shard(10, 8, seed=3, epoch=0)
    assert sorted(shards[0][:2] + shards[1][:2]) == sorted(single[:4])  # first batches = one process's first batch
    assert shards[0] == distributed.epoch_shard(10, 4, seed=3, epoch=0, rank=0, world=2)
    assert shards[0] != distributed.epoch_shard(10, 4, seed=3, epoch=1, rank=0, world=2)
    assert len(distributed.epoch_shard(3, 5, seed=0, epoch=0, rank=1, world=2)) == 5  # small data repeats


def test_amp_is_refused_on_cpu_and_checked(photos, tmp_path):
    with pytest.raises(ValueError, match="amp=bf16 needs a CUDA device; this run is on cpu"):
        train(overrides=tiny(photos, tmp_path, "amp=bf16", "device=cpu", "max_steps=1"), run_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="amp must be one of off, bf16, fp16"):
        train(overrides=tiny(photos, tmp_path, "amp=fp8"), run_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists()


def test_gradient_clipping_bounds_the_update(photos, tmp_path):
    train(overrides=tiny(photos, tmp_path, "batch_size=8", "max_steps=1", "optim.lr=1", "clip_grad_norm=0.001",
                         "val_fraction=0"), run_dir=tmp_path / "run")
    torch.manual_seed(0)
    from chromatize.registry import create_model

    init = create_model("baseline", width=4).state_dict()
    after = weights(tmp_path / "run" / "last.pt")
    moved = torch.sqrt(sum(((after[k] - init[k]) ** 2).sum() for k in init))
    assert 0 < moved <= 0.001 * 1.0001


def test_no_read_back_from_the_device_per_step(photos, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = torch.Tensor.item

    def counting(self):
        calls["n"] += 1
        return real(self)

    monkeypatch.setattr(torch.Tensor, "item", counting)
    counts = []
    for steps in (2, 8):
        calls["n"] = 0
        train(overrides=tiny(photos, tmp_path, "batch_size=2", f"max_steps={steps}", "val_fraction=0", "samples=0",
                             "log_every=100"), run_dir=tmp_path / f"r{steps}")
        counts.append(calls["n"])
    assert counts[0] == counts[1] <= 4


def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert distributed.resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert distributed.resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="distributed training runs on cpu .* not mps"):
        distributed.resolve_device("mps", distributed=True)
    with pytest.raises(ValueError, match="CUDA is not available"):
        distributed.resolve_device("cuda")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match=r"RANK=2 must be in \[0, WORLD_SIZE=2\)"):
        distributed.env_world()


def test_sigterm_to_one_rank_stops_both_at_the_same_step_and_rank_0_saves(photos, tmp_path):
    run = tmp_path / "run"
    proc = torchrun(photos, tmp_path, str(ROOT / "configs" / "baseline.yaml"), "--run-dir", str(run),
                    overrides=tiny(photos, tmp_path, "batch_size=4", "epochs=500"))
    deadline = time.time() + 180
    while not (run / "last.pt").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    os.kill(descendants(proc.pid)[-1], signal.SIGTERM)  # one rank only, as a preempted process would get
    out, _ = proc.communicate(timeout=120)
    step = read_checkpoint(run / "last.pt")["training_state"]["step"]
    assert f"interrupted at step {step}; saved" in out and 0 < step < 500
    assert len(read_metrics(run)) <= step


def test_max_minutes_under_torchrun_ends_every_rank_cleanly(photos, tmp_path):
    run = tmp_path / "run"
    proc = torchrun(photos, tmp_path, str(ROOT / "configs" / "baseline.yaml"), "--run-dir", str(run),
                    overrides=tiny(photos, tmp_path, "batch_size=4", "epochs=5000", "max_minutes=0.02", "samples=0"))
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out[-3000:]
    history = read_metrics(run)
    assert 0 < history[-1]["step"] < 5000 and history[-1]["train_seconds"] >= 1.0
    assert read_checkpoint(run / "last.pt")["training_state"]["step"] == history[-1]["step"]


def test_a_diverging_run_under_torchrun_stops_every_rank_and_keeps_finite_checkpoints(photos, tmp_path):
    run = tmp_path / "run"
    proc = torchrun(photos, tmp_path, str(ROOT / "configs" / "baseline.yaml"), "--run-dir", str(run),
                    overrides=tiny(photos, tmp_path, "batch_size=4", "epochs=20", "optim.lr=1e30"))
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode != 0
    assert re.search(r"error: training loss is (nan|inf) at step \d+ \(epoch \d+\); training stopped", out), out[-3000:]
    ckpt = read_checkpoint(run / "last.pt")
    assert 0 < ckpt["training_state"]["step"] < 20
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())
