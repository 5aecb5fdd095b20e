import math
import os
import signal

import pytest
import torch

from chromatize.checkpoint import load_model, read_checkpoint
from chromatize.cli import main
from chromatize.data.synthetic import write_synthetic_folder
from chromatize.registry import list_models
from chromatize.train import tasks as tasks_module
from chromatize.train.config import TrainConfig, config_to_dict, load_config
from chromatize.train.export import export_weights
from chromatize.train.optim import lr_factor
from chromatize.train.run import train
from chromatize.train.rundir import read_metrics
from chromatize.train.trainer import TrainingDiverged

NO_AUG = ["augment.hflip=false", "augment.crop_scale=1.0", "augment.rotation=0"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    write_synthetic_folder(root, 24, 24, seed=1)
    return root


def small(photos, tmp_path, *extra):
    return [f"data={photos}", f"cache_dir={tmp_path / 'cache'}", "image_size=16", "batch_size=8",
            "val_fraction=0.2", "model.args.width=8", "progress=false", "samples=2", *extra]


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("target,lr", [("lab", 3e-3), ("rgb", 1e-2)])
def test_a_few_epochs_decrease_the_loss(photos, tmp_path, target, lr):
    result = train(overrides=small(photos, tmp_path, f"target={target}", "epochs=6", f"optim.lr={lr}"), run_dir=tmp_path / "run")
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert result.step == 6 * 2  # 19 train images // 8 per batch
    run = tmp_path / "run"
    for name in ["config.yaml", "metrics.jsonl", "loss_curve.png", "last.pt", "best.pt", "samples/epoch_006.png"]:
        assert (run / name).is_file(), name
    assert [r["epoch"] for r in read_metrics(run)] == list(range(1, 7))
    assert all(r["images_per_s"] > 0 and r["val_loss"] is not None for r in read_metrics(run))
    model = load_model(run / "best.pt")
    assert model.chromatize_info.target == target
    assert model.chromatize_checkpoint["config"]["target"] == target
    assert model.chromatize_checkpoint["metrics"]["best_val_loss"] == result.best_val


def _interrupt_at(monkeypatch, step, how):
    original = tasks_module.RegressionTask.train_step
    calls = {"n": 0}

    def step_fn(self, rgb, optimizers):
        calls["n"] += 1
        if calls["n"] == step:
            if how == "signal":
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the step finishes, then the trainer saves and stops
            else:
                raise how
        return original(self, rgb, optimizers)

    monkeypatch.setattr(tasks_module.RegressionTask, "train_step", step_fn)


def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(photos, tmp_path, monkeypatch):
    args = small(photos, tmp_path, "epochs=4", *NO_AUG)
    reference = train(overrides=args, run_dir=tmp_path / "ref")
    _interrupt_at(monkeypatch, 5, "signal")
    with pytest.raises(KeyboardInterrupt):
        train(overrides=args, run_dir=tmp_path / "run")
    state = read_checkpoint(tmp_path / "run" / "last.pt")["training_state"]
    assert state["step"] == 5 and state["epoch"] == 2 and state["step_in_epoch"] == 1
    assert len(read_metrics(tmp_path / "run")) == 2
    monkeypatch.undo()
    resumed = train(resume=tmp_path / "run")
    assert resumed.step == reference.step == 8
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(resumed.history, reference.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    ref_w, res_w = weights(load_model(tmp_path / "ref" / "last.pt")), weights(load_model(tmp_path / "run" / "last.pt"))
    assert all(torch.allclose(ref_w[k], res_w[k], atol=1e-5) for k in ref_w)


def test_crash_mid_epoch_leaves_a_valid_resumable_checkpoint(photos, tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 6, RuntimeError("simulated kill"))
    with pytest.raises(RuntimeError, match="simulated kill"):
        train(overrides=small(photos, tmp_path, "epochs=4", "checkpoint_every=3"), run_dir=tmp_path / "run")
    run = tmp_path / "run"
    # 19 train images: 2 steps per epoch; steps 1-5 ran, so the newest checkpoint is the epoch-2 end (step 4)
    assert read_checkpoint(run / "last.pt")["training_state"]["step"] == 4
    assert (run / "checkpoints" / "step_00000003.pt").is_file()
    load_model(run / "last.pt")
    monkeypatch.undo()
    result = train(resume=run)
    assert result.step == 8 and [r["epoch"] for r in read_metrics(run)] == [1, 2, 3, 4]


def test_kill_during_a_checkpoint_write_keeps_the_old_file(photos, tmp_path, monkeypatch):
    train(overrides=small(photos, tmp_path, "epochs=1"), run_dir=tmp_path / "run")
    before = (tmp_path / "run" / "last.pt").read_bytes()
    real_save = torch.save

    def dying_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        with open(f, "r+b") as fh:
            fh.truncate(100)  # half-written file
        raise SystemExit("killed while writing")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(SystemExit):
        train(resume=tmp_path / "run", overrides=["epochs=2"])
    monkeypatch.undo()
    assert (tmp_path / "run" / "last.pt").read_bytes() == before
    assert not list((tmp_path / "run").glob(".*part*"))
    assert train(resume=tmp_path / "run", overrides=["epochs=2"]).step == 4


def test_nan_loss_stops_cleanly_and_keeps_last_good_checkpoint(photos, tmp_path, monkeypatch):
    real = tasks_module.regression_loss

    def poisoned(name, delta):
        criterion, calls = real(name, delta), {"n": 0}

        def loss(pred, target):
            calls["n"] += 1
            value = criterion(pred, target)
            return value * float("nan") if calls["n"] >= 6 else value

        return loss

    monkeypatch.setattr(tasks_module, "regression_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="nan at step"):
        train(overrides=small(photos, tmp_path, "epochs=4", "val_fraction=0"), run_dir=tmp_path / "run")
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["training_state"]["step"] == 3  # 24 images: 3 steps/epoch; step 6 failed, epoch 1 was the last good
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())


@pytest.mark.skipif("patchgan" not in list_models(kind=None), reason="needs the models branch")
@pytest.mark.parametrize("gan", ["vanilla", "lsgan"])
def test_pix2pix_trains_generator_and_discriminator(photos, tmp_path, gan, monkeypatch):
    from chromatize.train import trainer as trainer_module

    initial = {}

    def recording_create_task(cfg, device):
        task = tasks_module.create_task(cfg, device)
        initial.update({k: weights(m) for k, m in task.modules.items()})
        return task

    monkeypatch.setattr(trainer_module, "create_task", recording_create_task)
    args = [f"data={photos}", f"cache_dir={tmp_path / 'c'}", "image_size=32", "batch_size=4", "progress=false",
            "task=pix2pix", "model.name=pix2pix", "model.args={depth: 5, base: 4}", "discriminator.args={base: 4, n_layers: 2}",
            f"loss.gan={gan}", "max_steps=3", "samples=1"]
    result = train(overrides=args, run_dir=tmp_path / "run")
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    assert result.step == 3 and ckpt["extra_models"]["discriminator"]["arch"]["name"] == "patchgan"
    assert ckpt["extra_models"]["discriminator"]["arch"]["kwargs"]["in_channels"] == 3  # L + ab
    for key, state in [("model", ckpt["model_state"]), ("discriminator", ckpt["extra_models"]["discriminator"]["state"])]:
        changed = [k for k, v in initial[key].items() if v.is_floating_point() and not torch.equal(v, state[k])]
        assert len(changed) > len(initial[key]) // 3, key
    assert load_model(tmp_path / "run" / "best.pt").chromatize_info.name == "pix2pix"


def test_freeze_then_unfreeze(photos, tmp_path):
    args = small(photos, tmp_path, "freeze=[conv]", "freeze_epochs=1", "unfreeze_lr_scale=0.1", "epochs=1")
    torch.manual_seed(0)
    from chromatize.registry import create_model

    init = weights(create_model("baseline", width=8))
    train(overrides=args, run_dir=tmp_path / "run")
    after1 = weights(load_model(tmp_path / "run" / "last.pt"))
    assert torch.equal(after1["conv.weight"], init["conv.weight"]) and torch.equal(after1["conv.bias"], init["conv.bias"])
    assert not torch.equal(after1["up.weight"], init["up.weight"])
    train(resume=tmp_path / "run", overrides=["epochs=2"])
    after2 = weights(load_model(tmp_path / "run" / "last.pt"))
    assert not torch.equal(after2["conv.weight"], after1["conv.weight"])
    groups = read_checkpoint(tmp_path / "run" / "last.pt")["training_state"]["optimizers"]["model"]["param_groups"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-4])
    with pytest.raises(ValueError, match="match no parameter"):
        train(overrides=small(photos, tmp_path, "freeze=[encoder]"), run_dir=tmp_path / "bad")


def test_config_overrides_are_typed_and_checked(tmp_path):
    cfg = load_config(None, ["optim.lr=3e-4", "augment.hflip=false", "model.args.width=32", "freeze=encoder", "epochs=2"])
    assert cfg.optim.lr == 3e-4 and cfg.augment.hflip is False and cfg.model.args == {"width": 32}
    assert cfg.freeze == ["encoder"] and cfg.epochs == 2
    assert load_config(None, []) == TrainConfig()
    with pytest.raises(ValueError, match="unknown config key.*optim.lrr"):
        load_config(None, ["optim.lrr=1"])
    with pytest.raises(ValueError, match="epochs must be an integer"):
        load_config(None, ["epochs=1.5"])
    with pytest.raises(ValueError, match="optim.name must be one of"):
        load_config(None, ["optim.name=lbfgs"])
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["epochs"])


def test_every_recipe_loads():
    from pathlib import Path

    recipes = sorted(Path(__file__).resolve().parent.parent.glob("configs/*.yaml"))
    assert {p.stem for p in recipes} >= {"baseline", "unet", "unet_bn", "autoencoder", "resnet18", "pix2pix"}
    for path in recipes:
        cfg = load_config(path)
        assert config_to_dict(cfg)["model"]["name"]


def test_schedules():
    cfg = load_config(None, ["optim.schedule=cosine"])
    f = lr_factor(cfg, steps_per_epoch=10, total_steps=100)
    assert f(0) == 1.0 and f(50) == pytest.approx(0.5) and f(100) == pytest.approx(0.0, abs=1e-12)
    cfg = load_config(None, ["optim.schedule=step", "optim.step_epochs=2", "optim.gamma=0.1"])
    f = lr_factor(cfg, steps_per_epoch=10, total_steps=100)
    assert f(19) == 1.0 and f(20) == pytest.approx(0.1) and f(45) == pytest.approx(0.01)


@pytest.mark.parametrize("optim", ["adamax", "rmsprop", "sgd"])
def test_other_optimizers_and_losses_run(photos, tmp_path, optim):
    loss = {"adamax": "l1", "rmsprop": "huber", "sgd": "mse"}[optim]
    result = train(overrides=small(photos, tmp_path, f"optim.name={optim}", f"loss.name={loss}", "max_steps=2"), run_dir=tmp_path / "r")
    assert result.step == 2 and math.isfinite(result.history[-1]["train_loss"])


def test_init_from_a_checkpoint_and_custom_tasks(photos, tmp_path, monkeypatch):
    first = train(overrides=small(photos, tmp_path, "max_steps=2"), run_dir=tmp_path / "a")
    assert first.history[-1]["images_seen"] == 16 and first.history[-1]["train_seconds"] > 0

    @tasks_module.register_task("l1_only")
    class L1Task(tasks_module.RegressionTask):
        def __init__(self, cfg, device):
            super().__init__(cfg, device)
            self.criterion = torch.nn.L1Loss()

    monkeypatch.setitem(tasks_module.TASKS, "l1_only", L1Task)
    seen = {}
    original = L1Task.train_step

    def spy(self, rgb, optimizers):
        seen.setdefault("w", weights(self.model))  # the weights at the first step
        return original(self, rgb, optimizers)

    monkeypatch.setattr(L1Task, "train_step", spy)
    train(overrides=small(photos, tmp_path, "max_steps=1", "task=l1_only", f"init_from={tmp_path / 'a' / 'last.pt'}"),
          run_dir=tmp_path / "b")
    loaded = weights(load_model(tmp_path / "a" / "last.pt"))
    assert all(torch.equal(seen["w"][k], loaded[k]) for k in loaded)
    with pytest.raises(ValueError, match="init_from .* holds baseline"):
        train(overrides=small(photos, tmp_path, "model.args.width=4", f"init_from={tmp_path / 'a' / 'last.pt'}"),
              run_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="unknown task 'nope'; registered tasks: .*regression"):
        train(overrides=small(photos, tmp_path, "task=nope"), run_dir=tmp_path / "d")


def test_epoch_size_repeats_small_data(photos, tmp_path):
    result = train(overrides=small(photos, tmp_path, "epoch_size=40", "epochs=2"), run_dir=tmp_path / "r")
    assert result.step == 2 * 5 and result.history[-1]["images_seen"] == 80


def test_dataloader_workers(photos, tmp_path):
    result = train(overrides=small(photos, tmp_path, "num_workers=2", "max_steps=3"), run_dir=tmp_path / "r")
    assert result.step == 3 and math.isfinite(result.history[-1]["train_loss"])


def test_resume_refuses_changing_the_model(photos, tmp_path):
    train(overrides=small(photos, tmp_path, "max_steps=1"), run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="cannot change model.args.width"):
        train(resume=tmp_path / "run", overrides=["model.args.width=16"])
    with pytest.raises(FileExistsError, match="already holds a run"):
        train(overrides=small(photos, tmp_path, "max_steps=1"), run_dir=tmp_path / "run")


def test_cli_train_and_export_round_trip(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    recipe = os.path.join(os.path.dirname(__file__), "..", "configs", "baseline.yaml")
    code = main(["train", recipe, "--set", f"data={photos}", "--set", "epochs=1", "--set", "image_size=16",
                 "--set", "progress=false"])
    assert code == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("baseline-")
    for name in ["config.yaml", "metrics.jsonl", "loss_curve.png", "last.pt", "best.pt", "samples/epoch_001.png"]:
        assert (run / name).is_file(), name
    assert (tmp_path / "xdg" / "chromatize" / "datasets").is_dir()

    assert main(["export", str(run / "last.pt"), "full.safetensors"]) == 0
    assert main(["export", str(run / "last.pt"), "half.safetensors", "--half"]) == 0
    ref = load_model(run / "last.pt")
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    for name, atol in [("full", 0.0), ("half", 2e-2)]:
        model = load_model(f"{name}.safetensors")
        with torch.no_grad():
            assert torch.allclose(model(x), ref(x), atol=atol)
        assert model.chromatize_checkpoint["config"]["data"] == str(photos)
        assert model.chromatize_checkpoint["metrics"]["step"] == ref.chromatize_checkpoint["metrics"]["step"]
    from safetensors import safe_open

    with safe_open("half.safetensors", framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert main(["train", "--resume", str(run)]) == 0  # already complete: nothing to do, still fine
    assert main(["train"]) == 2
    assert main(["train", recipe, "--set", f"data={tmp_path / 'missing'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", recipe, "--set", f"data={photos}", "--set", "model.name=nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def _start_cli_run(photos, tmp_path, run, *extra):
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    recipe = os.path.join(os.path.dirname(__file__), "..", "configs", "baseline.yaml")
    cmd = [sys.executable, "-m", "chromatize", "train", recipe, "--run-dir", str(run),
           *[a for kv in small(photos, tmp_path, "epochs=200", "checkpoint_every=1", "threads=1", *extra) for a in ("--set", kv)]]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_step(proc, run, step, timeout=120.0):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        if (run / "last.pt").exists() and read_checkpoint(run / "last.pt")["training_state"]["step"] >= step:
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the training process made no progress")


@pytest.mark.parametrize("sig,workers", [(signal.SIGKILL, 0), (signal.SIGINT, 0), (signal.SIGINT, 2)])
def test_real_process_killed_or_interrupted_then_resumed(photos, tmp_path, sig, workers):
    run = tmp_path / "run"
    proc = _start_cli_run(photos, tmp_path, run, f"num_workers={workers}")
    _wait_for_step(proc, run, 3)
    if workers:  # Ctrl-C in a terminal reaches the whole process group, DataLoader workers included
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "chromatize train --resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    saved = read_checkpoint(run / "last.pt")["training_state"]["step"]
    assert saved >= 3
    load_model(run / "last.pt")  # never a corrupt file
    result = train(resume=run, overrides=["epochs=6", "progress=false"])
    assert result.step == 12 and result.step > saved
    assert [r["epoch"] for r in read_metrics(run)] == list(range(1, 7))
    assert not list(run.rglob(".*part*"))


RECIPES = sorted(p.stem for p in (__import__("pathlib").Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("recipe,target", [(r, "lab") for r in RECIPES] + [("unet", "rgb"), ("unet_bn", "rgb")])
def test_every_recipe_trains(photos, tmp_path, recipe, target):
    import yaml

    from chromatize.registry import create_model
    from test_models import SMALL

    path = os.path.join(os.path.dirname(__file__), "..", "configs", f"{recipe}.yaml")
    name = load_config(path).model.name
    args = dict(SMALL.get(name, {}), **({"width": 8} if name == "baseline" else {}))
    probe = create_model(name, **args)
    size = max(32, probe.chromatize_info.size_multiple)
    overrides = [f"data={photos}", f"cache_dir={tmp_path / 'c'}", f"image_size={size}", "batch_size=2", "max_steps=2",
                 "progress=false", "samples=1", f"target={target}", f"model.args={yaml.safe_dump(args, default_flow_style=True).strip()}",
                 "discriminator.args={base: 4}", "threads=1",
                 "val_data=", "cache_size=0", "init_from="]  # corpus paths / L1 checkpoint (see test_classification) unset
    result = train(path, overrides=overrides, run_dir=tmp_path / "run")
    assert result.step == 2 and math.isfinite(result.history[-1]["train_loss"])
    model = load_model(tmp_path / "run" / "best.pt")
    assert model.chromatize_info.name == name and model.chromatize_info.target == target
    assert (tmp_path / "run" / "samples" / "epoch_001.png").is_file()


def test_max_minutes_stops_at_the_time_budget_and_saves(photos, tmp_path, monkeypatch):
    import chromatize.train.trainer as trainer_module

    clock = iter(range(0, 10_000, 30))  # every perf_counter call advances 30 s
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: float(next(clock)))
    result = train(overrides=small(photos, tmp_path, "epochs=50", "max_minutes=2"), run_dir=tmp_path / "r")
    assert 0 < result.step < 50 and result.history[-1]["train_seconds"] >= 120
    assert (tmp_path / "r" / "last.pt").is_file() and (tmp_path / "r" / "best.pt").is_file()
