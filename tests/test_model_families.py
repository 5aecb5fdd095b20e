"""Family-specific checks: the reports' layer widths at default size (inspected, not run), and behaviour."""

import pytest
import torch
from torch import nn

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.registry import create_model, list_models


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
