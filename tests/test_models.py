"""Contract tests run for every registered colorizer (new families are picked up automatically)."""

import pytest
import torch

from chromatize.registry import create_model, get_spec, list_models

#: Small constructor arguments per family so the tests run in seconds; families not listed use defaults.
SMALL = {
    "mobilenet_unet": {"decoder_channels": (16, 8, 8, 8, 8)},
    "efficientnet_lite0_unet": {"decoder_channels": (16, 8, 8, 8, 8)},
    "pix2pix": dict(depth=3, base=4),
    "unet_bn": dict(base=4, levels=3),
    "unet": dict(base=4, levels=3),
    "autoencoder": dict(base=8),
    "resnet18": dict(base=8),
    "classifier": dict(backbone="mobilenet_unet", backbone_args={"decoder_channels": [16, 8, 8, 8, 8]}),
}


def small(name: str, **kw):
    return create_model(name, **{**SMALL.get(name, {}), **kw})


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("target", ["lab", "rgb"])
def test_forward_shapes_and_backward(name, target):
    spec = get_spec(name)
    if target not in spec.targets:
        with pytest.raises(ValueError, match="supports targets"):
            small(name, target=target)
        return
    model = small(name, target=target)
    m = model.chromatize_info.size_multiple
    for h, w in [(m * 2, m * 2), (m * 3, m * 2)]:
        x = torch.rand(2, 1, max(h, 32), max(w, 32)) * 2 - 1
        x = x[..., : (x.shape[-2] // m) * m, : (x.shape[-1] // m) * m]
        y = model(x)
        assert y.shape == (2, 3 if target == "rgb" else 2, *x.shape[-2:])
        if target == "rgb":
            assert y.min() >= 0 and y.max() <= 1
    y.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", list_models())
def test_info_attached(name):
    model = small(name)
    info = model.chromatize_info
    assert info.name == name and info.target == "lab"
    assert info.size_multiple == getattr(model, "size_multiple", get_spec(name).size_multiple)


def test_unknown_model_lists_known_ones():
    with pytest.raises(KeyError, match="baseline"):
        create_model("nope")
