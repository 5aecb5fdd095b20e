"""A separate validation folder (val_data): all of data trains, validation comes only from val_data."""

from chromatize.data.dataset import folder_datasets
from chromatize.data.synthetic import write_synthetic_folder


def test_val_root_keeps_the_two_folders_apart(tmp_path):
    write_synthetic_folder(tmp_path / "train", 6, 24)
    write_synthetic_folder(tmp_path / "val", 3, 24)
    train, val = folder_datasets(str(tmp_path / "train"), 16, val_fraction=0.5, val_root=str(tmp_path / "val"),
                                 cache_dir=str(tmp_path / "cache"), progress=False)
    assert len(train) == 6 and len(val) == 3  # val_fraction is unused when val_root is given
    assert train.cache.root != val.cache.root
    assert val.prepare(val[0][None]).shape == (1, 3, 16, 16)  # items are cached squares; prepare() crops
