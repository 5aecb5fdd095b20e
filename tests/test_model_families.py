"""Family-specific checks: the reports' layer widths at default size (inspected, not run), and behaviour."""

import pytest
import torch
from torch import nn

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.models.resnet import load_resnet18_encoder, rgb_stem_to_gray
from chromatize.registry import create_model, list_models
from test_models import small


def conv_widths(module: nn.Module, kind=nn.Conv2d) -> list[int]:
    """Output channels of every layer of type ``kind`` in registration order."""
    return [m.out_channels for m in module.modules() if type(m) is kind]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- pix2pix -------------------------------------------------------------------------------------


def test_pix2pix_default_layers():
    g = create_model("pix2pix")
    assert g.chromatize_info.size_multiple == 256
    assert conv_widths(g) == [64, 128, 256, 512, 512, 512, 512, 512]
    assert conv_widths(g, nn.ConvTranspose2d) == [512, 512, 512, 512, 256, 128, 64, 2]
    # dropout on the three inner 512-wide decoder steps after the bottleneck, as in the reference code
    drops = [any(isinstance(m, nn.Dropout) for m in up.modules()) for up in g.ups]
    assert drops == [False, True, True, True, False, False, False]
    assert n_params(g) == 54_409_858  # = the reference code's unet_256 with 1 input and 2 output channels


def test_pix2pix_output_bounded_and_dropout_only_in_training():
    g = create_model("pix2pix", depth=5, base=4)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    y = g(x)
    assert y.shape == (2, 2, 32, 32) and y.abs().max() <= 1
    g.eval()
    with torch.no_grad():
        assert torch.equal(g(x), g(x))


def test_pix2pix_rejects_too_shallow():
    with pytest.raises(ValueError, match="depth"):
        create_model("pix2pix", depth=1)


def test_patchgan_is_a_discriminator():
    assert "patchgan" not in list_models() and "patchgan" in list_models(kind=None)


def test_patchgan_default_layers_and_output():
    d = create_model("patchgan")
    assert conv_widths(d) == [64, 128, 256, 512, 1]
    assert n_params(d) == 2_765_633  # = the reference NLayerDiscriminator(3)
    with torch.no_grad():
        assert d(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)
        assert create_model("patchgan", in_channels=4, base=8)(torch.zeros(1, 4, 256, 256)).shape == (1, 1, 30, 30)


def test_patchgan_receptive_field_is_70():
    d = create_model("patchgan", base=4).eval()  # eval: BatchNorm uses fixed stats, so patches are independent
    x = torch.zeros(1, 3, 128, 128, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows = x.grad[0].abs().sum(dim=(0, 2)).nonzero()
    cols = x.grad[0].abs().sum(dim=(0, 1)).nonzero()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_patchgan_clear_errors():
    d = create_model("patchgan", base=4)
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        d(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match="H, W >= 24"):
        d(torch.zeros(1, 3, 16, 64))


def test_patchgan_checkpoint_round_trip(tmp_path):
    d = create_model("patchgan", in_channels=4, base=4).eval()
    loaded = load_model(save_checkpoint(tmp_path / "d.safetensors", d))
    x = torch.rand(1, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(d(x), loaded(x))
    assert loaded.chromatize_info.kind == "discriminator" and loaded.chromatize_info.kwargs["in_channels"] == 4


# --- U-Nets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, widths, norm, params",
    [("unet_bn", [64, 128, 256, 512, 1024], True, 31_036_546), ("unet", [32, 64, 128, 256, 512], False, 7_759_554)],
)
def test_unet_default_layers(name, widths, norm, params):
    m = create_model(name)
    assert m.chromatize_info.size_multiple == 16
    encoder = [m.stem, *m.downs]
    assert [conv_widths(level) for level in encoder] == [[w, w] for w in widths]
    assert conv_widths(nn.ModuleList(m.ups), nn.ConvTranspose2d) == widths[-2::-1]
    assert all(u.kernel_size == (2, 2) and u.stride == (2, 2) for u in m.ups)
    assert [conv_widths(merge) for merge in m.merges] == [[w, w] for w in widths[-2::-1]]
    assert all(isinstance(d[0], nn.MaxPool2d) for d in m.downs)
    assert (sum(isinstance(x, nn.BatchNorm2d) for x in m.modules()) == 18) == norm
    assert m.head[0].kernel_size == (1, 1) and m.head[0].out_channels == 2
    assert create_model(name, target="rgb").head[0].out_channels == 3
    assert n_params(m) == params


def test_unet_levels_set_size_multiple():
    m = create_model("unet", base=4, levels=3)
    assert m.chromatize_info.size_multiple == 4
    assert m(torch.zeros(1, 1, 12, 20)).shape == (1, 2, 12, 20)
    with pytest.raises(ValueError, match="levels"):
        create_model("unet", levels=1)


# --- autoencoder -------------------------------------------------------------------------------------


def test_autoencoder_default_layers():
    m = create_model("autoencoder")
    convs = [x for x in m.encoder if isinstance(x, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 128, 256, 256, 512, 512, 256, 128]
    assert [i for i, c in enumerate(convs) if c.stride == (2, 2)] == [0, 2, 4]
    assert conv_widths(m.decoder) == [64, 32, 2]
    assert sum(isinstance(x, nn.Upsample) for x in m.decoder) == 3
    assert any(isinstance(x, nn.Tanh) for x in m.decoder)
    assert m.chromatize_info.size_multiple == 8
    assert n_params(m) == 6_215_074


def test_autoencoder_output_bounded():
    y = create_model("autoencoder", base=8)(torch.rand(1, 1, 24, 16) * 2 - 1)
    assert y.shape == (1, 2, 24, 16) and y.abs().max() <= 1


# --- resnet18 ----------------------------------------------------------------------------------------


def test_resnet18_default_layers():
    m = create_model("resnet18")
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size) == (1, 64, (7, 7))
    assert conv_widths(m.layer1) == [64] * 4 and conv_widths(m.layer2) == [128] * 5  # 4 convs + 1x1 shortcut
    assert conv_widths(m.decoder) == [128, 64, 64, 32, 2]
    assert sum(isinstance(x, nn.Upsample) for x in m.decoder) == 3
    assert m.encode(torch.zeros(1, 1, 32, 48)).shape == (1, 128, 4, 6)
    assert n_params(m) == 954_722


def test_resnet18_uses_torchvision_key_names():
    keys = set(create_model("resnet18", base=8).state_dict())
    for k in ["conv1.weight", "bn1.running_mean", "layer1.1.bn2.weight", "layer2.0.downsample.0.weight",
              "layer2.0.downsample.1.running_var", "layer2.1.conv2.weight"]:
        assert k in keys


def _rgb_twin(base: int):
    """The same ResNet-18 colorizer with a 3-channel stem, standing in for an ImageNet checkpoint."""
    rgb = create_model("resnet18", base=base)
    rgb.conv1 = nn.Conv2d(3, base, 7, stride=2, padding=3, bias=False)
    return rgb


def test_rgb_stem_to_gray_equals_3_channel_conv_on_gray():
    rgb = _rgb_twin(8)
    gray_state = rgb_stem_to_gray(rgb.state_dict())
    assert gray_state["conv1.weight"].shape == (8, 1, 7, 7)
    x = torch.rand(2, 1, 32, 32)
    conv = nn.Conv2d(1, 8, 7, stride=2, padding=3, bias=False)
    conv.load_state_dict({"weight": gray_state["conv1.weight"]})
    torch.testing.assert_close(conv(x), rgb.conv1(x.expand(-1, 3, -1, -1)), rtol=1e-5, atol=1e-5)


def test_load_resnet18_encoder_from_rgb_checkpoint():
    rgb = _rgb_twin(8).eval()
    state = {**rgb.state_dict(), "layer3.0.conv1.weight": torch.zeros(1), "fc.weight": torch.zeros(1)}
    state = {k: v for k, v in state.items() if not k.startswith("decoder.")}
    gray = create_model("resnet18", base=8).eval()
    decoder_before = {k: v.clone() for k, v in gray.decoder.state_dict().items()}
    load_resnet18_encoder(gray, state)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(gray.encode(x), rgb.encode(x.expand(-1, 3, -1, -1)), rtol=1e-4, atol=1e-5)
    assert all(torch.equal(v, gray.decoder.state_dict()[k]) for k, v in decoder_before.items())
    with pytest.raises(KeyError, match="layer2"):
        load_resnet18_encoder(gray, {k: v for k, v in state.items() if not k.startswith("layer2")})
    with pytest.raises(ValueError, match=r"\[C,3,k,k\]"):
        rgb_stem_to_gray({"conv1.weight": torch.zeros(8, 2, 7, 7)})


# --- all families in this file -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pix2pix", "unet_bn", "unet", "autoencoder", "resnet18"])
def test_wrong_input_refused_clearly(name):
    model = small(name)
    m = model.chromatize_info.size_multiple
    with pytest.raises(ValueError, match=f"multiples of {m}"):
        model(torch.zeros(1, 1, 4 * m, 4 * m + m // 2))
    with pytest.raises(ValueError, match=r"\[B,1,H,W\]"):
        model(torch.zeros(1, 3, 4 * m, 4 * m))
