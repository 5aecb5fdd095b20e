import numpy as np
import pytest
import torch
import torch.nn.functional as F

from chromatize.data import degrade as D


def photo_l(n=3, size=40, seed=0):
    """Smooth normalised L ``[n,1,size,size]`` with some structure (gradients and a disc), inside (-1, 1)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 5, 5, generator=g)
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True).clamp(0.05, 0.95)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = (((ys - size / 2) ** 2 + (xs - size / 3) ** 2) < (size / 5) ** 2).float()
    return (0.7 * smooth + 0.25 * disc) * 2 - 1


@pytest.mark.parametrize("name", D.EFFECTS)
def test_each_effect_changes_the_input_and_zero_is_identity(name):
    v = (photo_l() + 1) / 2
    fn = D._FUNCTIONS[name]
    out = fn(v, 1.0, torch.Generator().manual_seed(3))
    assert out.shape == v.shape and out.dtype == v.dtype
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    changed = (out - v).abs()
    assert float(changed.amax(dim=(1, 2, 3)).min()) > 0.02, "every image must change"
    assert torch.equal(fn(v, 0.0, torch.Generator().manual_seed(3)), v)
    mixed = fn(v, torch.tensor([0.0, 1.0, 0.0]), torch.Generator().manual_seed(3))
    assert torch.equal(mixed[0], v[0]) and torch.equal(mixed[2], v[2]) and not torch.equal(mixed[1], v[1])


def test_effects_do_what_they_say():
    v = (photo_l(n=2, size=64) + 1) / 2
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    high = lambda x: (x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)).abs().mean()  # noqa: E731
    assert high(D.blur(v, 1.0, g())) < 0.7 * high(v)  # blur (sigma 0.8 px here) removes fine detail
    assert high(D.grain(v, 1.0, g())) > 2 * high(v)  # grain adds it
    faded = D.tone(v, 1.0, g())
    assert (faded.amax((1, 2, 3)) - faded.amin((1, 2, 3))).min() < (v.amax((1, 2, 3)) - v.amin((1, 2, 3))).min()
    flat = torch.full((2, 1, 64, 64), 0.5)
    lit = D.light(flat, 1.0, g())
    assert float(lit.std()) > 0.02 and high(lit) < 0.01  # smooth but uneven
    specks = D.dust(flat, 1.0, g())
    assert 0 < float(((specks - 0.5).abs() > 0.3).float().mean()) < 0.05  # few, strong specks
    lines = D.scratches(flat, 1.0, g())
    changed = (lines - 0.5).abs() > 0.1
    assert changed.any() and float(changed.float().mean()) < 0.15
    cols = changed[0, 0].any(0).sum()  # near-vertical: each line covers few columns, many rows
    assert changed[0, 0].any(1).sum() > cols
    blocky = D.jpeg(v, 1.0, g())
    assert float((blocky - v).abs().mean()) > 0.003


def test_jpeg_at_high_quality_is_close_and_blocks_at_low():
    v = (photo_l(n=1, size=64) + 1) / 2
    noisy = (v + 0.05 * torch.randn(v.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    err_hi = float((D.jpeg(noisy, 0.01) - noisy).abs().mean())
    err_lo = float((D.jpeg(noisy, 1.0) - noisy).abs().mean())
    assert err_hi < 0.01 < err_lo
    # at quality 10 each 8x8 block is mostly its DC term: steps at the block edges
    out = D.jpeg(noisy, 1.0)[0, 0]
    inside = (out[:, 1:8] - out[:, 0:7]).abs().mean()
    assert inside < (noisy[0, 0, :, 1:8] - noisy[0, 0, :, 0:7]).abs().mean()


def test_degrade_l_shape_range_identity_and_determinism():
    L = photo_l(n=6, size=48)
    assert D.degrade_l(L, 0.0, torch.Generator().manual_seed(0)) is L
    a = D.degrade_l(L, 1.0, torch.Generator().manual_seed(7))
    b = D.degrade_l(L, 1.0, torch.Generator().manual_seed(7))
    c = D.degrade_l(L, 1.0, torch.Generator().manual_seed(8))
    assert a.shape == L.shape and a.dtype == L.dtype
    assert -1.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, L)
    extreme = D.degrade_l(torch.cat([torch.full((1, 1, 16, 16), -1.0), torch.full((1, 1, 16, 16), 1.0)]),
                          None, amounts=torch.ones(2, len(D.EFFECTS)))
    assert -1.0 <= float(extreme.min()) and float(extreme.max()) <= 1.0


def test_untouched_images_are_returned_bit_for_bit():
    L = photo_l(n=2)
    amounts = torch.zeros(2, len(D.EFFECTS))
    amounts[1, D.EFFECTS.index("grain")] = 0.5
    out = D.degrade_l(L, None, torch.Generator().manual_seed(0), amounts=amounts)
    assert torch.equal(out[0], L[0]) and not torch.equal(out[1], L[1])


def test_amounts_scale_with_strength():
    weak = D.draw_amounts(4000, 0.2, torch.Generator().manual_seed(0))
    strong = D.draw_amounts(4000, 1.0, torch.Generator().manual_seed(0))
    assert float(weak.max()) <= 0.2 and float(strong.max()) <= 1.0
    assert torch.allclose(weak, 0.2 * strong)
    on = (strong > 0).float().mean(0)
    assert torch.all((on > 0.4) & (on < 0.6))  # each effect on about half the time
    with pytest.raises(ValueError):
        D.draw_amounts(2, 1.5)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"\[B,1,H,W\]"):
        D.degrade_l(torch.zeros(1, 3, 8, 8), 0.5)
    with pytest.raises(ValueError, match="amounts"):
        D.tone(torch.zeros(2, 1, 8, 8), torch.tensor([0.5, 2.0]))


def test_gray_array_copy_is_gray_seeded_and_keeps_the_size():
    rng = np.random.default_rng(0)
    gray = np.repeat(rng.random((30, 41, 1), dtype=np.float32), 3, axis=2)
    a, b = D.degrade_gray_array(gray, 3), D.degrade_gray_array(gray, 3)
    assert a.shape == gray.shape and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, D.degrade_gray_array(gray, 4))
    assert np.allclose(a[..., 0], a[..., 1]) and np.allclose(a[..., 0], a[..., 2])
    assert 0.0 <= a.min() and a.max() <= 1.0
    same = D.degrade_gray_array(gray, 3, strength=0.0)
    assert np.abs(same - gray).max() < 1e-4  # round trip through L only


def _task(degrade):
    from chromatize.train.config import load_config
    from chromatize.train.tasks import create_task

    cfg = load_config(None, ["model.args.width=8", f"augment.degrade={degrade}", "channels_last=false"])
    return create_task(cfg, torch.device("cpu"))


def _seen(task, rgb, generator):
    """(L the network saw, target the loss got) in one run_step."""
    from chromatize.train.step import Stepper

    seen = {}
    forward = task.model.forward
    task.model.forward = lambda L: (seen.setdefault("L", L.clone()), forward(L))[1]
    criterion = task.criterion
    task.criterion = lambda pred, target: (seen.setdefault("target", target.clone()), criterion(pred, target))[1]
    opt = torch.optim.SGD(task.model.parameters(), lr=0.0)
    task.run_step(rgb, Stepper({"model": opt}), generator)
    return seen["L"], seen["target"]


def test_the_task_degrades_only_the_training_input():
    from chromatize.color import rgb_to_l_ab

    rgb = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    clean_L, clean_ab = rgb_to_l_ab(rgb)
    task = _task(1.0)
    L, target = _seen(task, rgb, torch.Generator().manual_seed(1))
    assert torch.equal(target, clean_ab)  # the colour target stays the clean photo's
    assert not torch.allclose(L, clean_L, atol=1e-3)
    L2, _ = _seen(_task(1.0), rgb, torch.Generator().manual_seed(1))
    assert torch.equal(L, L2)  # same generator, same degradation
    assert torch.equal(task.split(rgb)[0], clean_L)  # validation and samples see clean L
    plain, _ = _seen(_task(0.0), rgb, torch.Generator().manual_seed(1))
    assert torch.equal(plain, clean_L)


def test_degrade_is_a_checked_config_option():
    from chromatize.train.config import load_config

    assert load_config(None, []).augment.degrade == 0.0
    assert load_config(None, ["augment.degrade=0.5"]).augment.degrade == 0.5
    with pytest.raises(ValueError, match="augment.degrade"):
        load_config(None, ["augment.degrade=2"])


def test_training_with_degrade_is_reproducible_across_a_resume(tmp_path):
    from chromatize.checkpoint import read_checkpoint
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.run import train

    write_synthetic_folder(tmp_path / "photos", 16, 24, seed=1)
    args = [f"data={tmp_path / 'photos'}", f"cache_dir={tmp_path / 'cache'}", "image_size=16", "batch_size=8",
            "val_fraction=0", "model.args.width=4", "progress=false", "samples=0", "augment.degrade=1.0"]
    train(overrides=[*args, "epochs=4"], run_dir=tmp_path / "ref")
    train(overrides=[*args, "epochs=2"], run_dir=tmp_path / "run")
    train(resume=tmp_path / "run", overrides=["epochs=4"])
    train(overrides=[*args[:-1], "epochs=4"], run_dir=tmp_path / "clean")
    state = lambda run: read_checkpoint(tmp_path / run / "last.pt")["model_state"]  # noqa: E731
    ref, resumed, clean = state("ref"), state("run"), state("clean")
    assert all(torch.allclose(ref[k], resumed[k], atol=1e-6) for k in ref)
    assert any(not torch.allclose(ref[k], clean[k], atol=1e-4) for k in ref)  # the degradation was trained on
