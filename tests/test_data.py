import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.data.augment import AugmentConfig, augment
from chromatize.data.cache import open_cache
from chromatize.data.dataset import folder_datasets
from chromatize.data.folder import scan_images, split_train_val
from chromatize.data.synthetic import synthetic_image, write_synthetic_folder


def test_synthetic_images_are_colour(rng):
    img = synthetic_image(rng, 24, 32)
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    spread = img.max(-1).astype(int) - img.min(-1)
    assert spread.mean() > 20


def test_scan_is_recursive_and_filters_suffixes(tmp_path):
    write_synthetic_folder(tmp_path, 4, 16)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / ".hidden" / "x.png")
    Image.new("RGB", (8, 8), "red").save(tmp_path / "sub" / "UPPER.JPG")
    found = scan_images(tmp_path)
    assert "sub/color_0001.png" in found and "sub/UPPER.JPG" in found
    assert not any(p.endswith(".txt") or p.startswith(".hidden") for p in found)


def test_split_is_deterministic_disjoint_and_stable():
    paths = [f"dir/img_{i}.jpg" for i in range(200)]
    train, val = split_train_val(paths, 0.2)
    assert (train, val) == split_train_val(list(paths), 0.2)
    assert not set(train) & set(val) and len(train) + len(val) == 200
    assert 20 < len(val) < 60
    # adding files never moves an existing file to the other side
    more = paths + [f"new/{i}.png" for i in range(50)]
    train2, val2 = split_train_val(more, 0.2)
    assert {paths[i] for i in val} == {more[i] for i in val2 if i < 200}
    assert split_train_val(paths, 0.0)[1] == []


def test_split_of_two_files_has_both_sides():
    train, val = split_train_val(["a.png", "b.png"], 0.1)
    assert len(train) == 1 and len(val) == 1


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_cache(tmp_path / "nope", 16, tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(ValueError, match="no images found"):
        open_cache(tmp_path / "empty", 16, tmp_path / "cache")


def test_gray_and_corrupt_files_are_skipped_and_counted(tmp_path):
    write_synthetic_folder(tmp_path / "d", 3, 16, gray=2, corrupt=1)
    with pytest.warns(UserWarning, match=r"skipped 3 of 6 images \(2 grayscale, 1 unreadable\)"):
        cache = open_cache(tmp_path / "d", 16, tmp_path / "cache", progress=False)
    assert len(cache) == 3 and all(p.startswith(("color", "sub/color")) for p in cache.paths)
    assert cache.images.shape == (3, 16, 16, 3) and cache.images.dtype == np.uint8


def test_all_gray_folder_is_a_clear_error(tmp_path):
    write_synthetic_folder(tmp_path / "d", 0, 16, gray=3, corrupt=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="none of the 4 images .* is usable"):
            open_cache(tmp_path / "d", 16, tmp_path / "cache", progress=False)


def test_cache_is_reused_and_rebuilt_on_change(tmp_path):
    paths = write_synthetic_folder(tmp_path / "d", 3, 20)
    first = open_cache(tmp_path / "d", 16, tmp_path / "cache", progress=False)
    assert first.built
    again = open_cache(tmp_path / "d", 16, tmp_path / "cache", progress=False)
    assert not again.built and np.array_equal(first.images, again.images)
    assert open_cache(tmp_path / "d", 12, tmp_path / "cache", progress=False).built  # new size
    Image.fromarray(np.full((20, 20, 3), (200, 30, 30), np.uint8)).save(paths[0])  # content change
    changed = open_cache(tmp_path / "d", 16, tmp_path / "cache", progress=False)
    assert changed.built and not np.array_equal(changed.images[0], first.images[0])
    assert np.abs(changed.images[0].astype(int) - (200, 30, 30)).max() <= 2
    # stale versions at the same size are removed; no temporary files are left
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert sum(n.startswith("16px-") for n in files) == 2 and not any(".part" in n for n in files)


def test_cached_image_keeps_the_centre_square(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :10] = (255, 0, 0)
    img[:, 10:30] = (0, 0, 255)
    img[:, 30:] = (0, 255, 0)
    Image.fromarray(img).save(tmp_path / "wide.png")
    cache = open_cache(tmp_path, 10, tmp_path / ".cache", progress=False)
    assert cache.images.shape == (1, 10, 10, 3)
    assert (cache.images[0, :, 2:8, 2] > 200).all()  # the blue middle, not the red / green sides


def _image() -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 20), torch.linspace(0, 1, 20), indexing="ij")
    return torch.stack([x, y, (x + y) / 2])


def test_augmentation_off_is_a_plain_resize():
    off = AugmentConfig(hflip=False, crop_scale=1.0, rotation=0.0)
    assert not off.active
    img = _image()
    out = augment(img, 20, off)
    assert torch.equal(out, img)
    assert augment(img, 10, off).shape == (3, 10, 10)


@pytest.mark.parametrize(
    "cfg", [AugmentConfig(hflip=True, crop_scale=1.0, rotation=0.0), AugmentConfig(False, 0.5, 0.0), AugmentConfig(False, 1.0, 20.0)]
)
def test_each_augmentation_changes_images(cfg):
    img = _image()
    outs = [augment(img, 16, cfg) for _ in range(8)]
    assert all(o.shape == (3, 16, 16) and o.min() >= 0 and o.max() <= 1 for o in outs)
    assert any(not torch.allclose(o, outs[0], atol=1e-3) for o in outs[1:])


def test_hflip_only_mirrors():
    img = _image()
    cfg = AugmentConfig(hflip=True, crop_scale=1.0, rotation=0.0)
    for _ in range(6):
        out = augment(img, 20, cfg)
        assert torch.allclose(out, img, atol=1e-4) or torch.allclose(out, img.flip(-1), atol=1e-4)


def test_bad_augment_settings_refused():
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=0.0)
    with pytest.raises(ValueError, match="rotation"):
        AugmentConfig(rotation=90)


def test_folder_datasets_items_and_val_without_augmentation(tmp_path):
    write_synthetic_folder(tmp_path / "d", 12, 24)
    train, val = folder_datasets(str(tmp_path / "d"), 16, val_fraction=0.25, cache_dir=str(tmp_path / "c"),
                                 augment_cfg=AugmentConfig(), progress=False)
    assert len(train) + len(val) == 12 and len(val) >= 1
    assert not {train.path(i) for i in range(len(train))} & {val.path(i) for i in range(len(val))}
    item = train[0]
    assert item.shape == (3, 16, 16) and item.dtype == torch.float32 and 0 <= item.min() and item.max() <= 1
    assert torch.equal(val[0], val[0])  # deterministic
    assert train.cache.size == 20  # 5/4 of the image size by default
