"""Colour hints: parsing, rasterising, the dense prior, simulated training hints, the pipeline and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.color import rgb_to_l_ab
from chromatize.data.hints import HintSimConfig, hint_counts, simulate_hints, stamp_hints
from chromatize.hints import Hint, HintError, check_hints, color_ab, hint_tensor, hints_from_json, load_hints
from chromatize.inference.pipeline import Colorizer
from chromatize.hint_prior import CHANNELS, geodesic_fill, hint_prior
from chromatize.models.hints import GUIDE_CHANNELS, guide_at
from chromatize.registry import ModelInfo, create_model, model_info
from chromatize.weight_transfer import init_from_checkpoint


# ---------------------------------------------------------------- hints from people

@pytest.mark.parametrize("text, expected", [
    ("120,340,#1f3a93", Hint(120, 340, (31, 58, 147))),
    ("40,40,red", Hint(40, 40, (255, 0, 0))),
    (" 1.5 , 2 , navy ", Hint(1.5, 2, (0, 0, 128))),
    ("1,2,rgb(1, 2, 3)", Hint(1, 2, (1, 2, 3))),
    ("1,2,#fff,5", Hint(1, 2, (255, 255, 255), radius=5.0)),
])
def test_hint_strings_parse(text, expected):
    assert Hint.parse(text) == expected


@pytest.mark.parametrize("text, words", [
    ("1,2", "x,y,color"), ("a,2,red", "numbers"), ("1,2,notacolour", "unknown colour"), ("1,nan,red", "finite"),
    ("1,2,", "x,y,color"),
])
def test_malformed_hint_strings_are_refused_naming_the_hint(text, words):
    with pytest.raises(HintError, match=words) as info:
        Hint.parse(text)
    assert repr(text) in str(info.value) or "x,y,color" in str(info.value)


def test_hints_json_round_trip_and_errors(tmp_path):
    hints = [Hint(3, 4, "#102030"), Hint(5, 6, (1, 2, 3), radius=2)]
    path = tmp_path / "h.json"
    path.write_text(json.dumps([h.to_dict() for h in hints]))
    assert load_hints(path) == hints
    for bad, words in [("{", "not valid JSON"), ('{"x": 1}', "JSON list"), ('[{"x": 1, "y": 2}]', "hint 1"),
                       ('[{"x": 1, "y": 2, "color": "red", "size": 3}]', "hint 1"),
                       ('[{"x": 1, "y": 2, "color": "red"}, {"x": 1, "y": 2, "color": "nope"}]', "hint 2")]:
        with pytest.raises(HintError, match=words):
            hints_from_json(bad)
    with pytest.raises(HintError, match="cannot read"):
        load_hints(tmp_path / "missing.json")


def test_hints_outside_the_photo_are_named():
    check_hints([Hint(0, 0, "red"), Hint(99, 49, "red")], 100, 50)
    with pytest.raises(HintError, match=r"hint 2 at \(100, 3\) is outside the 100x50 photo"):
        check_hints([Hint(1, 1, "red"), Hint(100, 3, "red")], 100, 50)


def test_hint_tensor_maps_original_pixels_to_the_render_size():
    # Photo 100 high, 200 wide, rendered at 50 x 100: pixel (x=150, y=20) lands at (row 10, col 75).
    t = hint_tensor([Hint(150, 20, "#1f3a93")], (100, 200), (50, 100))
    assert t.shape == (1, 3, 50, 100)
    rows, cols = torch.nonzero(t[0, 2], as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (7, 13, 72, 78)  # a 7x7 patch by default
    assert torch.allclose(t[0, :2, 10, 75], color_ab([(31, 58, 147)])[0])
    big = hint_tensor([Hint(150, 20, "red", radius=10)], (100, 200), (50, 100))
    assert int(big[0, 2].sum()) == 11 * 11  # radius 10 original px = 5 render px


def test_color_ab_matches_the_colour_module():
    ab = color_ab([(255, 0, 0), (128, 128, 128)])
    _, ref = rgb_to_l_ab(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
    assert torch.allclose(ab[0], ref[0, :, 0, 0], atol=1e-5)
    assert ab[1].abs().max() < 1e-3  # gray has no chroma


# ---------------------------------------------------------------- the dense prior

def two_regions(size: int = 32) -> torch.Tensor:
    """Normalised L: a dark left half and a bright right half."""
    L = torch.full((1, 1, size, size), -0.5)
    L[..., size // 2 :] = 0.5
    return L


def test_edge_aware_fill_stops_at_edges_where_the_nearest_hint_fill_does_not():
    L = two_regions()
    seeds = torch.zeros(1, 3, 32, 32)
    seeds[0, :, 4, 4] = torch.tensor([0.4, 0.1, 1.0])  # a hint in the left region
    seeds[0, :, 28, 28] = torch.tensor([-0.4, -0.1, 1.0])  # and one in the right
    edge, dist = geodesic_fill(L, seeds)
    assert torch.all(edge[0, 0, :, :16] == 0.4) and torch.all(edge[0, 0, :, 16:] == -0.4)
    plain, _ = geodesic_fill(L, seeds, edge_weight=0.0)
    assert (plain[0, 0, :, :16] == -0.4).any()  # the straight Voronoi edge crosses into the left region
    assert dist[0, 0, 4, 4] == 0 and torch.isfinite(dist).all()


def test_prior_without_hints_is_all_zero_and_has_the_declared_channels():
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    out = hint_prior(L, torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, CHANNELS, 64, 64) and out.abs().max() == 0
    assert guide_at(out, torch.zeros(2, 3, 64, 64), (32, 32)).shape == (2, GUIDE_CHANNELS, 32, 32)


def test_prior_spreads_a_hint_over_its_region_at_the_inputs_size():
    L = two_regions(64)
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, :, 8:11, 8:11] = torch.tensor([0.4, 0.1, 1.0]).view(3, 1, 1)
    prior = hint_prior(L, hints)
    assert prior.shape == (1, CHANNELS, 64, 64)
    reach = prior[0, 2]
    assert reach[:, :28].min() > 0.1 and reach[:, 36:].max() < 1e-3 * reach[:, :28].min()  # stops at the edge
    assert torch.allclose(prior[0, 0, 4:60, 2:26] / reach[4:60, 2:26], torch.tensor(0.4), atol=1e-4)


@pytest.mark.parametrize("name, kwargs", [("mobilenet_unet_hints", {}), ("unet_hints", {"base": 4, "levels": 3})])
def test_hint_models_declare_hints_and_start_as_their_hint_free_family(tmp_path, name, kwargs):
    base_name = name.removesuffix("_hints")
    torch.manual_seed(0)
    base = create_model(base_name, **kwargs).eval()
    path = save_checkpoint(tmp_path / "base.safetensors", base)
    model = create_model(name, **kwargs).eval()
    assert model_info(model).inputs == ("L", "hints", "hint_prior")
    grown = init_from_checkpoint(model, path)
    assert grown  # the merge convs got the prior's channels
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, :, 20:24, 20:24] = torch.tensor([0.5, -0.3, 1.0]).view(3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(L, torch.zeros_like(hints)), base(L), atol=1e-5)
        assert torch.allclose(model(L, hints), base(L), atol=1e-5)  # zero weights: hints have no effect yet
        for conv in [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]:
            conv.weight.add_(0.01)
        assert not torch.allclose(model(L, hints), model(L, torch.zeros_like(hints)))


def test_init_from_refuses_a_different_architecture(tmp_path):
    path = save_checkpoint(tmp_path / "b.safetensors", create_model("baseline", width=4))
    with pytest.raises(ValueError, match="do not match"):
        init_from_checkpoint(create_model("unet_hints", base=4, levels=3), path)


# ---------------------------------------------------------------- simulated hints for training

def test_simulated_hints_are_squares_of_the_true_colour():
    torch.manual_seed(0)
    ab = torch.zeros(4, 2, 40, 40)
    ab[:, 0, :, 20:] = 0.5  # right half: one colour; left: gray
    cfg = HintSimConfig(p_zero=0.0, mean=10, max=12, sizes=(3, 5), salient=0.5)
    hints = simulate_hints(ab, cfg, torch.Generator().manual_seed(1))
    mask = hints[:, 2]
    assert set(mask.unique().tolist()) <= {0.0, 1.0} and (mask.flatten(1).sum(1) > 0).all()
    inside = mask > 0
    # Each hinted pixel carries the mean of its square: 0.5 well inside the right half, 0 well inside the left.
    right, left = inside.clone(), inside.clone()
    right[..., :24], left[..., 16:] = False, False
    assert torch.allclose(hints[:, 0][right], torch.tensor(0.5)) and torch.all(hints[:, 0][left] == 0)
    assert torch.all(hints[:, :2][~inside.unsqueeze(1).expand(-1, 2, -1, -1)] == 0)
    again = simulate_hints(ab, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(hints, again)


def test_hint_counts_follow_the_settings():
    g = torch.Generator().manual_seed(0)
    assert hint_counts(100, HintSimConfig(p_zero=1.0), g).sum() == 0
    n = hint_counts(4000, HintSimConfig(p_zero=0.25, mean=8, max=30), g)
    assert n.max() <= 30 and abs((n == 0).float().mean() - 0.25) < 0.04
    assert 5.5 < n[n > 0].float().mean() < 8.5
    with pytest.raises(ValueError):
        HintSimConfig(sizes=(2,))


def test_stamp_clips_squares_at_the_image_border():
    ab = torch.ones(1, 2, 10, 10) * 0.2
    out = stamp_hints(ab, torch.tensor([[[0, 0]]]), torch.tensor([[5]]))
    assert int(out[0, 2].sum()) == 9 and torch.allclose(out[0, 0][out[0, 2] > 0], torch.tensor(0.2))


# ---------------------------------------------------------------- the pipeline

class HintFill(torch.nn.Module):
    """A stand-in hint network: the hints' colours, spread along the photo, fading with the distance along it
    (no learning involved)."""

    size_multiple = 1

    def forward(self, L, hints, prior):
        fill, dist = geodesic_fill(L, hints)
        return fill * torch.exp(-dist / 8)


def fill_colorizer(render_size: int = 32) -> Colorizer:
    model = HintFill()
    model.chromatize_info = ModelInfo("hint_fill", inputs=("L", "hints", "hint_prior"))
    return Colorizer(model, render_size=render_size, border=0)


def test_colorizer_puts_the_hint_chroma_on_the_photos_own_luminance():
    gray = np.full((40, 80), 150, np.uint8)
    gray[:, 40:] = 60
    image = Image.fromarray(gray, "L")
    c = fill_colorizer(render_size=80)
    out = np.asarray(c.colorize(image, hints=[Hint(10, 20, "#1f3a93")]))
    lab = rgb_to_l_ab(torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255)
    L_in = rgb_to_l_ab(torch.from_numpy(np.repeat(gray[..., None], 3, 2)).permute(2, 0, 1)[None].float() / 255)[0]
    assert (lab[0] - L_in).abs().max() < 0.02  # luminance stays the photo's own
    near, across = lab[1][0, :, 20, 12], lab[1][0, :, 20, 45]
    assert near[1] < -0.2 and across.abs().max() < 0.02  # navy near the hint, not across the edge
    plain = np.asarray(c.colorize(image))
    assert np.ptp(plain.astype(int), axis=2).max() <= 1  # no hints: gray


def test_a_model_without_hints_refuses_them():
    c = Colorizer(create_model("baseline", width=4), render_size=16)
    assert not c.takes_hints
    with pytest.raises(ValueError, match="takes no colour hints"):
        c.colorize(Image.new("L", (8, 8)), hints=[Hint(1, 1, "red")])
    with pytest.raises(HintError, match="outside"):
        fill_colorizer().colorize(Image.new("L", (8, 8)), hints=[Hint(9, 1, "red")])


# ---------------------------------------------------------------- the command line

@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    torch.manual_seed(0)
    return str(save_checkpoint(tmp_path_factory.mktemp("m") / "hinty.safetensors", create_model("unet_hints", base=4, levels=3)))


def _photo(path, size=(24, 16)):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size[::-1], dtype=np.uint8), "L").save(path)
    return path


def test_cli_hint_flags_colorize(tmp_path, hint_model, capsys):
    photo = _photo(tmp_path / "p.png")
    (tmp_path / "h.json").write_text('[{"x": 3, "y": 4, "color": "#1f3a93"}]')
    assert main(["colorize", "-q", str(photo), "--model", hint_model, "--hint", "10,5,#ff0000", "--hint", "1,1,navy",
                 "--hints", str(tmp_path / "h.json"), "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (24, 16)
    assert main(["colorize", "-q", str(photo), "--model", hint_model, "--reference", str(photo),
                 "-o", str(tmp_path / "ref.png")]) == 0


@pytest.mark.parametrize("args, words", [
    (["--hint", "10,5"], "x,y,color"),
    (["--hint", "10,5,blurple"], "unknown colour"),
    (["--hint", "30,5,red"], "outside the 24x16 photo"),
    (["--hints", "missing.json"], "cannot read hints file"),
    (["--reference", "missing.jpg"], "missing.jpg"),
])
def test_cli_bad_hints_are_refused_in_one_line(tmp_path, hint_model, capsys, args, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo = _photo(tmp_path / "p.png")
    assert main(["colorize", "-q", str(photo), "--model", hint_model, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_cli_hints_need_one_photo_and_a_hint_model(tmp_path, capsys):
    a, b = _photo(tmp_path / "a.png"), _photo(tmp_path / "b.png")
    assert main(["colorize", "-q", str(a), str(b), "--hint", "1,1,red", "--model", "default"]) == 2
    assert "exactly one input" in capsys.readouterr().err
    assert main(["colorize", "-q", str(a), "--hint", "1,1,red", "--model", "default", "-o", str(tmp_path / "o.png")]) == 2
    assert "takes no colour hints" in capsys.readouterr().err
