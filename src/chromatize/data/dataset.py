"""Torch datasets over the preprocessing cache."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from chromatize.data.augment import AugmentConfig, augment, resize
from chromatize.data.cache import ImageCache, open_cache
from chromatize.data.folder import split_train_val


class CachedImages(Dataset):
    """Items of an :class:`ImageCache`: sRGB ``float32 [3,size,size]`` in ``[0,1]``, augmented when ``augment`` is given."""

    def __init__(self, cache: ImageCache, indices: list[int], size: int, augment_cfg: AugmentConfig | None = None):
        self.cache = cache
        self.indices = list(indices)
        self.size = int(size)
        self.augment_cfg = augment_cfg

    def __len__(self) -> int:
        return len(self.indices)

    def path(self, i: int) -> str:
        return self.cache.paths[self.indices[i]]

    def __getitem__(self, i: int) -> torch.Tensor:
        raw = np.array(self.cache.images[self.indices[i]])  # uint8 [S,S,3], copied out of the memmap
        image = torch.from_numpy(raw).permute(2, 0, 1).float().div_(255.0)
        if self.augment_cfg is None:
            return resize(image, self.size)
        return augment(image, self.size, self.augment_cfg)


def folder_datasets(
    root: str,
    image_size: int,
    *,
    val_fraction: float = 0.1,
    val_root: str | None = None,
    cache_size: int = 0,
    cache_dir: str | None = None,
    augment_cfg: AugmentConfig | None = None,
    progress: bool = True,
) -> tuple[CachedImages, CachedImages]:
    """(train, val) datasets over the images under ``root``; only train is augmented.

    ``cache_size`` (0: 5/4 of ``image_size``, leaving room for crops) is the stored square size.
    ``val_root``: a separate folder of validation photos; then all of ``root`` trains and ``val_fraction``
    is unused (a split made by source, so no photo or crop of it is on both sides).
    """
    cache_size = cache_size or (image_size * 5 + 3) // 4
    if cache_size < image_size:
        raise ValueError(f"cache_size ({cache_size}) must be at least image_size ({image_size})")
    cache = open_cache(root, cache_size, cache_dir, progress=progress)
    if val_root:
        val_cache = open_cache(val_root, cache_size, cache_dir, progress=progress)
        train = CachedImages(cache, list(range(len(cache))), image_size, augment_cfg)
        return train, CachedImages(val_cache, list(range(len(val_cache))), image_size, None)
    train_idx, val_idx = split_train_val(cache.paths, val_fraction)
    if not train_idx:
        raise ValueError(f"{root}: no training images left after the validation split (val_fraction={val_fraction})")
    return CachedImages(cache, train_idx, image_size, augment_cfg), CachedImages(cache, val_idx, image_size, None)
