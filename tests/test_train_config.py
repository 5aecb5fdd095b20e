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
