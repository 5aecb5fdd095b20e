"""select.metric: best.pt is the checkpoint ``chromatize evaluate`` ranks best, not the lowest loss."""

import json

import pytest
import torch

from chromatize.checkpoint import read_checkpoint
from chromatize.data.synthetic import write_synthetic_folder
from chromatize.evaluate import evaluate_folder
from chromatize.train.config import load_config
from chromatize.train.run import train
from chromatize.train.selection import Selector, best_record, selection_key


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("select")
    write_synthetic_folder(root / "train", 16, 24, seed=1)
    write_synthetic_folder(root / "val", 3, 24, seed=2)
    return root


def overrides(folders, tmp_path, *extra):
    return [f"data={folders / 'train'}", f"val_data={folders / 'val'}", f"cache_dir={tmp_path / 'cache'}",
            "image_size=16", "batch_size=8", "model.name=baseline", "model.args.width=4", "progress=false",
            "samples=0", "optim.lr=3e-3", "augment.hflip=false", "augment.crop_scale=1.0", "augment.rotation=0",
            "select.metric=psnr", "select.size=16", "select.render_size=16", "select.calibrate_photos=4", *extra]


def test_ranking_prefers_colourful_enough_then_the_metric():
    a = {"psnr": 20.0, "mse": 0.02, "cf_ratio": 0.90}
    b = {"psnr": 25.0, "mse": 0.01, "cf_ratio": 0.50}  # best PSNR but too dull
    c = {"psnr": 22.0, "mse": 0.03, "cf_ratio": 0.85}
    assert best_record([a, b, c], "psnr", 0.8) is c
    assert best_record([a, b, c], "mse", 0.8) is a  # lower is better
    assert best_record([a, b, c], "psnr", 0.0) is b
    assert best_record([a, b, c], "psnr", 0.95) is a  # none colourful enough: the most colourful
    assert selection_key(b, "psnr", 0.8) < selection_key(a, "psnr", 0.8)
    assert best_record([], "psnr", 0.8) is None
    first, same = {"psnr": 1.0, "cf_ratio": 1.0}, {"psnr": 1.0, "cf_ratio": 1.0}
    assert best_record([first, same], "psnr", 0.8) is first


def test_selection_options_are_checked(folders):
    assert not load_config(None, []).select.active
    with pytest.raises(ValueError, match="select.metric"):
        load_config(None, ["select.metric=loss"])
    with pytest.raises(ValueError, match="select.degrade"):
        load_config(None, ["select.degrade=3"])
    with pytest.raises(ValueError, match="val_data"):
        Selector(load_config(None, ["select.metric=psnr"]).select, "", str(folders / "train"), torch.device("cpu"))


def test_best_pt_holds_the_best_evaluated_checkpoint_with_its_real_metrics(folders, tmp_path):
    run = tmp_path / "run"
    result = train(overrides=overrides(folders, tmp_path, "epochs=3", "select.every=2"), run_dir=run)
    records = [json.loads(line) for line in (run / "selection.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]  # every 2 steps; 16 photos / 8 = 2 steps per epoch
    best = read_checkpoint(run / "best.pt")
    chosen = best["metrics"]["selection"]
    assert chosen == best_record(records, "psnr", 0.8)
    assert best["readout"]["chroma_gain"] == chosen["chroma_gain"] and 1.0 <= chosen["chroma_gain"] <= 2.0
    assert (run / "best_loss.pt").is_file() and result.best_val is not None
    # chromatize evaluate on best.pt (stored gain, same sizes) gives the numbers the selection recorded
    again = evaluate_folder([run / "best.pt"], folders / "val", out=tmp_path / "eval", size=16, render_size=16,
                            best_worst=0, progress=False)["models"][str(run / "best.pt")]["summary"]
    assert again["psnr"]["mean"] == pytest.approx(chosen["psnr"], abs=1e-9)
    assert again["cf_pred"]["mean"] / again["cf_orig"]["mean"] == pytest.approx(chosen["cf_ratio"], abs=1e-9)


def test_metric_best_is_kept_even_when_the_loss_keeps_falling(folders, tmp_path, monkeypatch):
    """Scripted evaluations: the metric peaks at step 2 while training (and the loss) goes on."""
    scores = {2: 30.0, 4: 20.0, 6: 25.0, 8: 10.0}
    states = {}

    def evaluate(self, model):
        step = len(states) * 2 + 2
        states[step] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"psnr": scores[step], "ssim": 0.5, "ab_auc": 0.5, "mse": 0.1, "delta_e2000": 5.0, "cf_ratio": 1.0,
                "chroma_gain": 1.25, "photos": 3, "seconds": 0.0}

    monkeypatch.setattr(Selector, "evaluate", evaluate)
    run = tmp_path / "run"
    train(overrides=overrides(folders, tmp_path, "epochs=2", "select.every=2", "val_fraction=0"), run_dir=run)
    train(resume=run, overrides=["epochs=4"])  # the evaluations before the resume still count
    records = [json.loads(line) for line in (run / "selection.jsonl").read_text().splitlines()]
    assert [r["psnr"] for r in records] == [30.0, 20.0, 25.0, 10.0]
    best, by_loss = read_checkpoint(run / "best.pt"), read_checkpoint(run / "best_loss.pt")
    assert best["metrics"]["selection"]["step"] == 2 and best["readout"]["chroma_gain"] == 1.25
    for k, v in best["model_state"].items():
        assert torch.equal(v, states[2][k].cpu()), k
    assert by_loss["metrics"]["step"] > 2
    assert any(not torch.equal(v, by_loss["model_state"][k]) for k, v in best["model_state"].items())


def test_selection_off_leaves_runs_as_they_were(folders, tmp_path):
    run = tmp_path / "run"
    train(overrides=overrides(folders, tmp_path, "epochs=1", "select.metric="), run_dir=run)
    assert (run / "best.pt").is_file() and not (run / "best_loss.pt").exists() and not (run / "selection.jsonl").exists()
