"""Training config text: YAML 1.1's off/no/on/yes are not booleans, and a --set value for a text field is
the text written."""

import pytest

from chromatize.train.config import dump_config, load_config, read_yaml


@pytest.mark.parametrize("word", ["off", "bf16"])
def test_set_amp_off_stays_text(word):
    assert load_config(None, [f"amp={word}"]).amp == word


def test_yaml_text_fields_keep_their_words_and_booleans_are_true_or_false(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("amp: off\nname: no\naugment: {hflip: false}\n")
    cfg = load_config(recipe, ["name=007"])
    assert cfg.amp == "off" and cfg.name == "007" and cfg.augment.hflip is False
    assert load_config(recipe).name == "no"
    with pytest.raises(ValueError, match="must be true or false, got 'yes'"):
        load_config(None, ["augment.hflip=yes"])
    assert load_config(None, ["augment.hflip=true", "model.args.width=8"]).model.args == {"width": 8}
    # the dumped config reads back the same
    assert read_yaml(dump_config(cfg))["amp"] == "off" and read_yaml(dump_config(cfg))["name"] == "007"


def test_resuming_with_fewer_epochs_than_done_says_so_and_changes_nothing(tmp_path, capsys):
    from chromatize.cli import main
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.run import train

    photos = tmp_path / "photos"
    write_synthetic_folder(photos, 12, 16, seed=1)
    run = tmp_path / "run"
    train(None, overrides=[f"data={photos}", f"cache_dir={tmp_path / 'cache'}", "image_size=16", "batch_size=8",
                           "val_fraction=0.2", "model.args.width=4", "progress=false", "samples=1", "epochs=3"],
          run_dir=run)
    saved = (run / "config.yaml").read_text()
    assert main(["train", "--resume", str(run), "--set", "epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "already at epoch 3" in err and "past the requested epochs=2" in err and "nothing to train" in err
    assert len(err.strip().splitlines()) == 1 and (run / "config.yaml").read_text() == saved
    assert main(["train", "--resume", str(run)]) == 0  # complete at the epochs asked for: nothing to do, fine
