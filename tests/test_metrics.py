import math

import numpy as np
import pytest

from chromatize import metrics


def _lab_image(L: float, a: float, b: float, shape=(4, 5)) -> np.ndarray:
    return np.broadcast_to(np.array([L, a, b], dtype=np.float64), (*shape, 3)).copy()


def test_identical_images_give_zero_error_and_infinite_psnr(rng):
    img = rng.random((16, 20, 3)).astype(np.float32)
    values, counts = metrics.image_metrics(img, img.copy())
    assert values["mse"] == 0.0
    assert math.isinf(values["psnr"]) and values["psnr"] > 0
    assert values["ssim"] == pytest.approx(1.0)
    assert values["delta_e2000"] == pytest.approx(0.0, abs=1e-9)
    assert values["ab_auc"] == pytest.approx(1.0)
    assert values["cf_pred"] == values["cf_orig"]
    assert (counts == 16 * 20).all()


def test_mse_and_psnr_hand_computed():
    pred = np.zeros((8, 8, 3))
    target = np.full((8, 8, 3), 0.5)
    assert metrics.mse(pred, target) == pytest.approx(0.25)
    assert metrics.psnr(pred, target) == pytest.approx(10 * math.log10(4))
    with pytest.raises(ValueError):
        metrics.mse(pred, target[:4])


def test_ssim_drops_with_noise(rng):
    img = rng.random((32, 32, 3))
    noisy = np.clip(img + rng.normal(0, 0.2, img.shape), 0, 1)
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    assert metrics.ssim(noisy, img) < 0.9
    with pytest.raises(ValueError, match="7x7"):
        metrics.ssim(img[:5, :5], img[:5, :5])


def test_uniform_lightness_shift_gives_known_delta_e():
    # For neutral colours CIEDE2000 reduces to dL / S_L with S_L = 1 + 0.015 (Lm-50)^2 / sqrt(20 + (Lm-50)^2).
    L1, L2 = 60.0, 64.0
    Lm = (L1 + L2) / 2
    S_L = 1 + 0.015 * (Lm - 50) ** 2 / math.sqrt(20 + (Lm - 50) ** 2)
    got = metrics.delta_e2000(_lab_image(L2, 0, 0), _lab_image(L1, 0, 0))
    assert got == pytest.approx((L2 - L1) / S_L, rel=1e-9)


def test_uniform_chroma_shift_gives_known_delta_e():
    # Gray (50,0,0) against (50,10,0): only chroma differs; the hue terms (and R_T) vanish.
    C_bar = 5.0
    G = 0.5 * (1 - math.sqrt(C_bar**7 / (C_bar**7 + 25.0**7)))
    dC = 10.0 * (1 + G)
    S_C = 1 + 0.045 * dC / 2
    got = metrics.delta_e2000(_lab_image(50, 10, 0), _lab_image(50, 0, 0))
    assert got == pytest.approx(dC / S_C, rel=1e-9)


@pytest.mark.parametrize(
    "lab1, lab2, expected",
    [  # Sharma, Wu and Dalal (2005), CIEDE2000 test data, pairs 1, 7 and 19
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ],
)
def test_delta_e_matches_published_pairs(lab1, lab2, expected):
    assert metrics.delta_e2000(_lab_image(*lab1), _lab_image(*lab2)) == pytest.approx(expected, abs=1e-4)


def test_colorfulness_of_gray_is_zero_and_of_red_black_is_hand_computed(rng):
    gray = np.repeat(rng.random((10, 12, 1)), 3, axis=2)
    assert metrics.colorfulness(gray) == pytest.approx(0.0, abs=1e-9)
    red_black = np.array([[[1.0, 0, 0], [0, 0, 0]]])
    # rg = [255, 0], yb = [127.5, 0]: std and mean are both (127.5, 63.75)
    assert metrics.colorfulness(red_black) == pytest.approx(1.3 * math.hypot(127.5, 63.75))


def test_accuracy_curve_and_auc():
    target = _lab_image(50, 0, 0)
    perfect = metrics.ab_accuracy_curve(target, target)
    assert (perfect == 1).all() and metrics.curve_auc(perfect) == pytest.approx(1.0)
    off = metrics.ab_accuracy_curve(_lab_image(50, 30, 40), target)  # ab error exactly 50 everywhere
    assert (off[:50] == 0).all() and (off[50:] == 1).all()
    assert metrics.curve_auc(off) == pytest.approx((100 + 0.5) / 150)
    far = metrics.ab_accuracy_curve(_lab_image(50, 120, 100), target)  # error > 150
    assert metrics.curve_auc(far) == 0.0


def test_counts_pool_across_images():
    a = metrics.ab_within_counts(np.array([0.0, 10.0, 200.0]))
    b = metrics.ab_within_counts(np.array([5.5]))
    pooled = (a + b) / 4
    assert pooled[0] == 0.25 and pooled[5] == 0.25 and pooled[6] == 0.5 and pooled[10] == 0.75 and pooled[150] == 0.75


def test_precomputed_target_lab_gives_the_same_metrics(rng):
    pred, target = rng.random((12, 12, 3)), rng.random((12, 12, 3))
    a, ca = metrics.image_metrics(pred, target)
    b, cb = metrics.image_metrics(pred, target, lab_target=metrics.to_lab(target))
    assert a == b and (ca == cb).all()
