"""The ImageNet classifier as a teacher: semantic (class-distribution KL) and perceptual (feature) losses."""

from __future__ import annotations

import pytest
import torch

from chromatize.models.mobilenet import MobileNetV2
from chromatize.train.teacher import ClassifierTeacher


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return ClassifierTeacher(MobileNetV2(num_classes=1000))  # untrained: the maths, not ImageNet, is tested


def test_losses_are_zero_for_the_photo_itself_and_positive_for_a_gray_copy(teacher):
    rgb = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    semantic, perceptual = teacher.losses(rgb, rgb)
    assert semantic.abs().item() < 1e-5 and perceptual.item() < 1e-6
    gray = rgb.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    semantic, perceptual = teacher.losses(gray, rgb)
    assert semantic.item() > 0 and perceptual.item() > 0


def test_gradients_reach_the_prediction_but_not_the_teacher(teacher):
    rgb = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    pred = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    semantic, perceptual = teacher.losses(pred, rgb)
    (semantic + perceptual).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.net.training  # BatchNorm keeps ImageNet's statistics


def test_training_with_the_teacher_logs_its_terms_and_changes_the_step(tmp_path):
    from chromatize.checkpoint import read_checkpoint
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.run import train
    from chromatize.train.rundir import read_metrics

    write_synthetic_folder(tmp_path / "photos", 12, 32, seed=1)
    base = [f"data={tmp_path / 'photos'}", f"cache_dir={tmp_path / 'cache'}", "image_size=32", "batch_size=4",
            "val_fraction=0.2", "model.args.width=8", "progress=false", "samples=1", "max_steps=2", "seed=3"]
    plain = train(overrides=base, run_dir=tmp_path / "plain")
    taught = train(overrides=base + ["loss.semantic=1.0", "loss.perceptual=1.0"], run_dir=tmp_path / "taught")
    row = read_metrics(tmp_path / "taught")[-1]
    assert row["train_semantic"] > 0 and row["train_perceptual"] > 0
    assert "train_semantic" not in read_metrics(tmp_path / "plain")[-1]
    a, b = (read_checkpoint(tmp_path / run / "last.pt")["model_state"] for run in ("plain", "taught"))
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())
