"""Quantised-ab maths (chromatize.quantize, color.ab_gamut_bins) and the classifier model."""

import math

import pytest
import torch

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.color import AB_BIN_SIZE, AB_SCALE, ab_gamut_bins, normalize_ab, rgb_to_l_ab, rgb_to_lab
from chromatize.models.classifier import replace_output_layer
from chromatize.quantize import (annealed_mean, bin_counts, block_targets, nearest_bin, rebalance_weights, smooth_prior,
                                 soft_encode)
from chromatize.registry import create_model, list_models
from chromatize.train.classification import rebalanced_cross_entropy
from test_models import SMALL


@pytest.fixture(scope="module")
def centers():
    return ab_gamut_bins()


def random_ab(n=4096, seed=0):
    """Normalised ab ``[1,2,n,1]`` of uniformly random sRGB colours plus the 8 corners of the cube."""
    g = torch.Generator().manual_seed(seed)
    rgb = torch.cat([torch.rand(3, n, generator=g), torch.cartesian_prod(*[torch.tensor([0.0, 1.0])] * 3).T], dim=1)
    return rgb_to_l_ab(rgb[None, :, :, None])[1]


def pixels(ab_norm):
    """``[B,2,H,W]`` normalised -> ``[N,2]`` in Lab units."""
    return (ab_norm * AB_SCALE).permute(0, 2, 3, 1).reshape(-1, 2)


def test_bins_cover_the_srgb_gamut(centers):
    assert 250 <= len(centers) <= 313 and centers.shape[1] == 2
    assert torch.equal(centers / AB_BIN_SIZE, (centers / AB_BIN_SIZE).round())
    assert (centers == 0).all(dim=1).any()  # the gray bin
    assert len(torch.unique(centers, dim=0)) == len(centers)
    ab = pixels(random_ab(50_000))
    assert torch.cdist(ab, centers).min(dim=1).values.max() <= AB_BIN_SIZE / math.sqrt(2) + 1e-3
    # every bin is reached by some sRGB colour: 8-bit colours of extreme chroma hit the outermost bins
    lab = rgb_to_lab(torch.cartesian_prod(*[torch.linspace(0, 1, 64)] * 3).T[:, :, None])
    hit = torch.cdist(lab[1:, :, 0].T, centers).argmin(dim=1).unique()
    assert len(hit) >= 0.95 * len(centers)


def test_soft_encoding_sums_to_one_and_peaks_at_the_nearest_bin(centers):
    ab = random_ab(43 * 70 - 8).reshape(1, 2, 43, 70)
    index, weight = soft_encode(ab, centers)
    assert index.shape == weight.shape == (1, 5, 43, 70)
    assert torch.allclose(weight.sum(dim=1), torch.ones(1, 43, 70))
    assert (weight[:, :1] >= weight).all() and (weight[:, :1] > weight[:, 1:]).all()
    x = pixels(ab)
    d2 = torch.cdist(x, centers) ** 2
    assert torch.equal(index[:, 0].reshape(-1), d2.argmin(dim=1)) and torch.equal(nearest_bin(ab, centers).reshape(-1), d2.argmin(dim=1))
    # the same as the brute-force Gaussian over the 5 nearest of all Q bins
    near = d2.topk(5, dim=1, largest=False)
    dense = torch.zeros_like(d2).scatter_(1, near.indices, torch.softmax(-near.values / 50.0, dim=1))
    ours = torch.zeros_like(d2).scatter_add_(1, index.permute(0, 2, 3, 1).reshape(-1, 5), weight.permute(0, 2, 3, 1).reshape(-1, 5))
    assert torch.allclose(ours, dense, atol=1e-3)
    assert bin_counts(ab, centers).sum() == 43 * 70


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_block_targets_score_each_pixel_against_its_block(centers, scale):
    ab = torch.cat(random_ab(2 * 8 * 12 - 8).reshape(1, 2, 16, 12).split(8, dim=2))  # [2,2,8,12]
    weights = torch.rand(len(centers)) + 0.5
    targets = block_targets(ab, centers, scale, weights)
    assert targets.shape == (2, len(centers), 8 // scale, 12 // scale)
    logits = torch.randn(2, len(centers), 8 // scale, 12 // scale)
    # the same loss pixel by pixel: each pixel's weighted soft cross-entropy against its block's logits
    index, soft = soft_encode(ab, centers)
    per_block = torch.log_softmax(logits, dim=1).repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    direct = (-(soft * per_block.gather(1, index)).sum(dim=1) * weights[index[:, 0]]).mean()
    assert torch.isclose(rebalanced_cross_entropy(logits, ab, centers, weights), direct, rtol=1e-5)
    assert torch.allclose(block_targets(ab, centers, scale).sum(dim=1), torch.ones(2, 8 // scale, 12 // scale))


def test_rebalancing_weights(centers):
    q = len(centers)
    prior = torch.rand(q, generator=torch.Generator().manual_seed(1)) ** 4 * 1000
    prior[::7] = 0  # unseen colours
    smoothed = smooth_prior(prior, centers)
    w = rebalance_weights(prior, centers)
    assert torch.isclose((smoothed * w).sum(), torch.tensor(1.0)) and (w > 0).all()
    order = smoothed.argsort()
    assert (w[order].diff() <= 1e-6).all()  # rarer bins weigh more
    assert w[smoothed.argmin()] > 1.5 * w[smoothed.argmax()]
    assert torch.allclose(rebalance_weights(torch.ones(q), centers, sigma=1e-3), torch.ones(q))  # uniform prior: all 1
    with pytest.raises(ValueError, match="empty"):
        rebalance_weights(torch.zeros(q), centers)


def test_annealed_mean_from_mode_to_mean(centers):
    logits = torch.randn(2, len(centers), 3, 4, generator=torch.Generator().manual_seed(2)) * 3
    mode = normalize_ab(centers[logits.argmax(dim=1)]).permute(0, 3, 1, 2)
    assert torch.allclose(annealed_mean(logits, centers, 1e-4), mode, atol=1e-5)
    mean = normalize_ab(torch.einsum("bqhw,qc->bchw", logits.softmax(dim=1), centers))
    assert torch.allclose(annealed_mean(logits, centers, 1.0), mean, atol=1e-6)
    chroma = [annealed_mean(logits, centers, t).norm(dim=1).mean() for t in (1.0, 0.38, 0.01)]
    assert chroma[0] < chroma[1] < chroma[2]  # lower temperature, more vivid
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(logits, centers, 0.0)


@pytest.mark.parametrize("backbone", [n for n in list_models() if n != "classifier"])
@pytest.mark.parametrize("scale", [1, 4])
def test_every_family_can_be_a_classifier_backbone(backbone, scale, centers):
    model = create_model("classifier", backbone=backbone, backbone_args=SMALL.get(backbone, {}), scale=scale)
    m = model.chromatize_info.size_multiple
    L = torch.rand(2, 1, m * max(1, 32 // m), m * max(2, 48 // m)) * 2 - 1
    h, w = L.shape[-2] // scale, L.shape[-1] // scale
    assert model.logits(L).shape == (2, len(centers), h, w) and model(L).shape == (2, 2, *L.shape[-2:])


def test_classifier_model_and_checkpoint_round_trip(tmp_path, centers):
    torch.manual_seed(0)
    model = create_model("classifier", backbone="unet", backbone_args={"base": 4, "levels": 3}, temperature=0.5, scale=2)
    model.prior.copy_(torch.arange(len(centers), dtype=torch.float32))
    L = torch.rand(2, 1, 16, 24) * 2 - 1
    assert model.logits(L).shape == (2, len(centers), 8, 12) and model(L).shape == (2, 2, 16, 24)
    assert model.chromatize_info.size_multiple == 4
    with pytest.raises(ValueError, match="multiples of 4"):
        model(L[..., :18])
    for suffix in (".pt", ".safetensors"):
        loaded = load_model(save_checkpoint(tmp_path / f"c{suffix}", model))
        assert torch.equal(loaded.prior, model.prior) and torch.equal(loaded.bin_centers, centers)
        assert loaded.temperature == 0.5 and torch.allclose(loaded(L), model.eval()(L))
    with pytest.raises(ValueError, match="pretrained as the classifier's own argument"):
        create_model("classifier", backbone="mobilenet_unet", backbone_args={"pretrained": True})
    with pytest.raises(ValueError, match="supports targets"):
        create_model("classifier", target="rgb")
    with pytest.raises(ValueError, match="not a 2-channel ab output"):
        replace_output_layer(torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1)), 10)
