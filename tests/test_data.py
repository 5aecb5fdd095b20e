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


def test_photos_are_cut_into_squares_covering_them(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10], wide[:, 10:30], wide[:, 30:] = (255, 0, 0), (0, 0, 255), (0, 255, 0)
    Image.fromarray(wide).save(tmp_path / "wide.png")  # 2:1 -> two squares, left and right
    Image.fromarray(wide[:, 5:31]).save(tmp_path / "almost_square.png")  # 20x26 -> the centre square
    cache = open_cache(tmp_path, 10, tmp_path / ".cache", progress=False)
    assert cache.paths == ["almost_square.png", "wide.png", "wide.png"] and cache.images.shape == (3, 10, 10, 3)
    centre, left, right = (cache.images[i].astype(int) for i in range(3))
    assert (centre[:, 2:8, 2] > 200).all()  # the blue middle
    assert (left[:, :4, 0] > 200).all() and (right[:, -4:, 1] > 200).all()  # red left edge, green right edge


def test_squares_of_one_photo_stay_on_one_side_of_the_split(tmp_path):
    for i in range(12):
        Image.fromarray(synthetic_image(np.random.default_rng(i), 16, 40)).save(tmp_path / f"pano_{i}.png")
    train, val = folder_datasets(str(tmp_path), 8, val_fraction=0.3, cache_dir=str(tmp_path / ".c"), progress=False)
    assert len(train) + len(val) == 12 * 3  # 5:2 -> three squares each
    train_paths, val_paths = ({d.path(i) for i in range(len(d))} for d in (train, val))
    assert val_paths and not train_paths & val_paths


def _images(n: int = 1) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 20), torch.linspace(0, 1, 20), indexing="ij")
    return torch.stack([x, y, (x + y) / 2]).expand(n, -1, -1, -1).contiguous()


def test_augmentation_off_is_a_plain_resize():
    off = AugmentConfig(hflip=False, crop_scale=1.0, rotation=0.0)
    assert not off.active
    img = _images(2)
    assert torch.equal(augment(img, 20, off), img)
    assert augment(img, 10, off).shape == (2, 3, 10, 10)


@pytest.mark.parametrize(
    "cfg", [AugmentConfig(hflip=True, crop_scale=1.0, rotation=0.0), AugmentConfig(False, 0.5, 0.0), AugmentConfig(False, 1.0, 20.0)]
)
def test_each_augmentation_changes_images_independently(cfg):
    out = augment(_images(8), 16, cfg)
    assert out.shape == (8, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    assert any(not torch.allclose(o, out[0], atol=1e-3) for o in out[1:])  # each image its own draw


def test_hflip_only_mirrors():
    img = _images(8)
    out = augment(img, 20, AugmentConfig(hflip=True, crop_scale=1.0, rotation=0.0))
    flipped = [torch.allclose(o, img[0].flip(-1), atol=1e-4) for o in out]
    assert all(f or torch.allclose(o, img[0], atol=1e-4) for f, o in zip(flipped, out))
    assert 0 < sum(flipped) < 8


def test_crop_zooms_in():
    out = augment(_images(16), 20, AugmentConfig(hflip=False, crop_scale=0.5, rotation=0.0))
    # a crop of a linear ramp is a steeper ramp: the red channel's range shrinks
    ranges = out[:, 0].amax(dim=(-2, -1)) - out[:, 0].amin(dim=(-2, -1))
    assert (ranges < 1.0).all() and ranges.min() < 0.8


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
    assert item.shape == (3, 20, 20) and item.dtype == torch.uint8  # cached at 5/4 of the image size
    batch = train.prepare(torch.stack([train[0], train[1]]))
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == torch.float32 and 0 <= batch.min() and batch.max() <= 1
    v = torch.stack([val[0]])
    assert torch.equal(val.prepare(v), val.prepare(v))  # validation: deterministic, no augmentation


def test_separate_validation_folder(tmp_path):
    write_synthetic_folder(tmp_path / "train", 5, 16, seed=1)
    write_synthetic_folder(tmp_path / "val", 3, 16, seed=2)
    train, val = folder_datasets(str(tmp_path / "train"), 16, val_fraction=0.5, cache_dir=str(tmp_path / "c"),
                                 progress=False, val_root=str(tmp_path / "val"))
    assert (len(train), len(val)) == (5, 3)
    assert val.cache.root == str(tmp_path / "val") and val.augment_cfg is None
