"""The two comparison recipes of issue 5: the classification task and the GAN fine-tune of an L1 model."""

import os

import numpy as np
import pytest
import torch

from chromatize.checkpoint import load_model, read_checkpoint
from chromatize.data.dataset import folder_datasets
from chromatize.data.synthetic import synthetic_image, write_synthetic_folder
from chromatize.inference.pipeline import Colorizer
from chromatize.train import tasks as tasks_module
from chromatize.train.classification import ClassificationTask
from chromatize.train.config import load_config
from chromatize.train.export import export_weights
from chromatize.train.run import train
from test_train import photos, weights  # noqa: F401  (photos is a fixture: 24 synthetic 24 px photos)

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")
UNET = "model.args={backbone: unet, backbone_args: {base: 4, levels: 3}}"


def small(photos, tmp_path, *extra):
    return [f"data={photos}", f"cache_dir={tmp_path / 'cache'}", "image_size=16", "batch_size=8", "val_fraction=0.2",
            "progress=false", "samples=2", "task=classification", "model.name=classifier", UNET, *extra]


def test_classification_learns_and_colorizes_end_to_end(photos, tmp_path):
    fast = "model.args={backbone: baseline, backbone_args: {width: 16}}"
    result = train(overrides=small(photos, tmp_path, "epochs=8", "optim.lr=1e-2", fast), run_dir=tmp_path / "run")
    train_losses, val_losses = ([row[k] for row in result.history] for k in ("train_loss", "val_loss"))
    assert train_losses[-1] < 0.85 * train_losses[0] and val_losses[-1] < 0.85 * val_losses[0]
    prior = read_checkpoint(tmp_path / "run" / "best.pt")["model_state"]["prior"]
    train_set, val_set = folder_datasets(str(photos), 16, val_fraction=0.2, cache_dir=str(tmp_path / "cache"), progress=False)
    assert prior.sum() == len(train_set) * 16 * 16 and len(val_set) > 0  # every training pixel counted once
    export_weights(tmp_path / "run" / "best.pt", tmp_path / "cls.safetensors", half=True)
    rgb = synthetic_image(np.random.default_rng(5), 40, 56)
    for checkpoint in (tmp_path / "run" / "best.pt", tmp_path / "cls.safetensors"):
        colorizer = Colorizer.from_pretrained(checkpoint, render_size=32)
        out = colorizer.colorize_array(rgb)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - out.mean(axis=2, keepdims=True)).mean() > 2  # coloured, not gray


def test_resume_keeps_the_prior(photos, tmp_path):
    other = tmp_path / "other"
    write_synthetic_folder(other, 24, 24, seed=7)
    train(overrides=small(photos, tmp_path, "epochs=1"), run_dir=tmp_path / "run")
    prior = read_checkpoint(tmp_path / "run" / "last.pt")["model_state"]["prior"]
    train(overrides=small(other, tmp_path, "epochs=1", "val_fraction=0"), run_dir=tmp_path / "fresh")
    assert not torch.equal(read_checkpoint(tmp_path / "fresh" / "last.pt")["model_state"]["prior"], prior)
    result = train(resume=tmp_path / "run", overrides=["epochs=2", f"data={other}"])  # new data, same prior
    assert result.epoch == 2 and result.step > 2
    assert torch.equal(read_checkpoint(tmp_path / "run" / "last.pt")["model_state"]["prior"], prior)


def test_classification_needs_a_classifier_and_its_prior(photos, tmp_path):
    with pytest.raises(ValueError, match="needs model.name: classifier"):
        train(overrides=small(photos, tmp_path, "model.name=baseline", "model.args={}"), run_dir=tmp_path / "a")
    task = ClassificationTask(load_config(None, ["task=classification", "model.name=classifier", UNET]), torch.device("cpu"))
    with pytest.raises(RuntimeError, match="prior is not set"):
        task.train_step(torch.rand(2, 3, 16, 16), {})


@pytest.mark.parametrize("generator,args", [
    ("mobilenet_unet", "{decoder_channels: [16, 8, 8, 8, 8]}"),
    ("unet", "{base: 4, levels: 3}"),
])
def test_gan_finetune_starts_from_the_l1_model_and_moves_it(photos, tmp_path, monkeypatch, generator, args):
    common = [f"data={photos}", f"cache_dir={tmp_path / 'c'}", "image_size=32", "batch_size=2", "max_steps=2",
              "progress=false", "samples=1", f"model.name={generator}", f"model.args={args}", "val_data=", "cache_size=0", "threads=1"]
    l1 = tmp_path / "l1" / "last.pt"
    train(os.path.join(CONFIGS, "unet.yaml"), overrides=[*common, "loss.name=l1"], run_dir=l1.parent)
    seen = {}
    original = tasks_module.Pix2PixTask.train_step

    def spy(self, rgb, optimizers):
        seen.setdefault("first", weights(self.model))
        return original(self, rgb, optimizers)

    monkeypatch.setattr(tasks_module.Pix2PixTask, "train_step", spy)
    result = train(os.path.join(CONFIGS, "gan_finetune.yaml"), run_dir=tmp_path / "gan",
                   overrides=[*common, f"init_from={l1}", "discriminator.args={base: 4}"])
    assert result.step == 2
    start, end = weights(load_model(l1)), weights(load_model(tmp_path / "gan" / "last.pt"))
    assert all(torch.equal(seen["first"][k], start[k]) for k in start)
    changed = [k for k, v in start.items() if v.is_floating_point() and not torch.equal(v, end[k])]
    assert len(changed) > len(start) // 3
    assert "discriminator" in read_checkpoint(tmp_path / "gan" / "last.pt")["extra_models"]


def test_prior_counts_a_spread_sample_of_the_training_set(photos, tmp_path, monkeypatch):
    from chromatize.train import classification

    train_set, _ = folder_datasets(str(photos), 16, val_fraction=0.2, cache_dir=str(tmp_path / "cache"), progress=False)
    monkeypatch.setattr(classification, "PRIOR_IMAGES", 5)
    used, real = [], classification.CachedImages
    monkeypatch.setattr(classification, "CachedImages", lambda cache, idx, size: used.append(list(idx)) or real(cache, idx, size))
    task = ClassificationTask(load_config(None, ["task=classification", "model.name=classifier", UNET]), torch.device("cpu"))
    task.prepare(train_set)
    (sample,) = used
    assert 4 <= len(sample) <= 5 and set(sample) <= set(train_set.indices)
    assert set(sample) - set(train_set.indices[:5])  # spread over the set, not its first images
    assert task.model.prior.sum() == len(sample) * 16 * 16
