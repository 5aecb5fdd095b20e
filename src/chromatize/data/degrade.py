"""Old-print degradations of the network's input L: what a scan of an aged photograph does to its gray levels.

Users bring scans of old prints, not only digital photos turned gray. :func:`degrade_l` imitates, batched on
the L tensor's device, what happens to such a picture, in the order it happens:

1. ``blur``: soft focus and lens / print softness (Gaussian, sigma up to 1.2 % of the image height);
2. ``tone``: faded contrast, lifted blacks, dulled whites and a changed gamma (yellowing or sepia toning
   of a print, reduced to L, is such a tone curve);
3. ``light``: uneven illumination or fading, a smooth low-frequency gain field;
4. ``grain``: film grain / scanner noise, partly clumped (noise at full and half resolution);
5. ``dust``: small dark and bright specks;
6. ``scratches``: thin bright or dark lines, mostly along the film (near vertical);
7. ``jpeg``: JPEG blocking and ringing: the gray sRGB levels in 8 x 8 DCT blocks quantised with the
   standard luminance table (quality 95 down to 10), as a baseline JPEG of a gray file does (no entropy
   coding, which is lossless; no chroma to subsample).

Every effect takes a per-image ``amount`` in ``[0,1]`` (0: untouched, exactly) and works on ``v = L*/100`` in
``[0,1]``. Training applies :func:`degrade_l` to L only (the colour target stays the clean photo); evaluation
applies :func:`degrade_gray_array` to the gray inputs with a fixed seed (``chromatize evaluate --degrade``).

Randomness: the small per-image parameters are drawn from ``generator`` (a CPU :class:`torch.Generator`, as
in :mod:`chromatize.data.augment`); the full-size noise fields from a generator on L's device seeded from it,
so a seeded generator gives the same result on every run of one device, and the noise never crosses the bus.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from chromatize.color import denormalize_l, l_to_gray_srgb, normalize_l, rgb_to_l

#: The effects in the order they are applied.
EFFECTS = ("blur", "tone", "light", "grain", "dust", "scratches", "jpeg")
#: Chance that one effect is applied to one image (so images get different mixtures of them).
EFFECT_PROBABILITY = 0.5
#: Most scratches drawn on one image.
MAX_SCRATCHES = 6

# The JPEG standard's luminance quantisation table (ITU-T T.81, Annex K.1), quality 50.
_JPEG_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55), (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62), (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99),
)


def _amounts(amount: torch.Tensor | float, n: int, ref: torch.Tensor) -> torch.Tensor:
    """A per-image amount ``[B]`` (or a scalar) -> ``float [B,1,1,1]`` on ``ref``'s device, checked in [0,1]."""
    a = torch.as_tensor(amount, dtype=torch.float32).reshape(-1)
    if a.numel() == 1:
        a = a.expand(n)
    if a.numel() != n:
        raise ValueError(f"expected {n} amounts (one per image), got {a.numel()}")
    if not bool(((a >= 0) & (a <= 1)).all()):
        raise ValueError("amounts must be in [0, 1]")
    return a.to(ref.device, ref.dtype).view(n, 1, 1, 1)


def _device_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """A generator on ``device`` seeded from ``generator`` (None: torch's global generator is used)."""
    if generator is None:
        return None
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def _keep(new: torch.Tensor, old: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``new`` where the image's amount is > 0, ``old`` (bit for bit) where it is 0."""
    return torch.where(a > 0, new, old)


def blur(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian blur of ``v [B,1,H,W]``, sigma = amount x 1.2 % of H (each image its own sigma)."""
    a = _amounts(amount, v.shape[0], v)
    sigma = a.view(-1) * 0.012 * v.shape[-2]
    radius = max(1, math.ceil(3 * float(sigma.max())))
    x = torch.arange(-radius, radius + 1, device=v.device, dtype=v.dtype)
    k = torch.exp(-0.5 * (x[None] / sigma.clamp_min(1e-3)[:, None]) ** 2)
    k = k / k.sum(1, keepdim=True)  # [B, 2r+1]; a delta where sigma is ~0
    B, _, H, W = v.shape
    padded = F.pad(v.reshape(1, B, H, W), (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, k.view(B, 1, 1, -1), groups=B)
    out = F.conv2d(out, k.view(B, 1, -1, 1), groups=B)
    return _keep(out.view(B, 1, H, W), v, a)


def tone(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Faded print: blacks lifted by up to 0.3, whites lowered by up to 0.2, gamma in about [0.6, 1.6]."""
    a = _amounts(amount, v.shape[0], v)
    u = torch.rand(v.shape[0], 3, generator=generator).to(v.device, v.dtype)
    lo = a * 0.3 * u[:, 0].view(-1, 1, 1, 1)
    hi = 1.0 - a * 0.2 * u[:, 1].view(-1, 1, 1, 1)
    gamma = torch.exp(a * 0.5 * (2 * u[:, 2].view(-1, 1, 1, 1) - 1))
    return _keep(lo + (hi - lo) * v.clamp(0, 1).pow(gamma), v, a)


def light(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uneven illumination: ``v`` times a smooth gain in about ``[1 - 0.45 a, 1 + 0.45 a]`` (a random 3 x 3 or
    4 x 4 field upsampled bicubic, plus an off-centre vignette)."""
    a = _amounts(amount, v.shape[0], v)
    B, _, H, W = v.shape
    cells = 3 + int(torch.randint(0, 2, (1,), generator=generator))
    field = torch.rand(B, 1, cells, cells, generator=generator).to(v.device, v.dtype) * 2 - 1
    field = F.interpolate(field, size=(H, W), mode="bicubic", align_corners=True).clamp(-1, 1)
    centre = (torch.rand(B, 2, generator=generator) - 0.5).to(v.device, v.dtype)
    ys = torch.linspace(-1, 1, H, device=v.device, dtype=v.dtype).view(1, H, 1)
    xs = torch.linspace(-1, 1, W, device=v.device, dtype=v.dtype).view(1, 1, W)
    r2 = ((ys - centre[:, 0].view(B, 1, 1)) ** 2 + (xs - centre[:, 1].view(B, 1, 1)) ** 2).unsqueeze(1)
    gain = 1.0 + a * (0.3 * field - 0.15 * r2.clamp(max=2.0))
    return _keep((v * gain).clamp(0, 1), v, a)


def grain(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Film grain: Gaussian noise of std up to 0.07 (strongest in the mid-tones), half of it at half
    resolution so the grain clumps."""
    a = _amounts(amount, v.shape[0], v)
    B, _, H, W = v.shape
    g = _device_generator(generator, v.device)
    fine = torch.randn(B, 1, H, W, generator=g, device=v.device, dtype=v.dtype)
    coarse = torch.randn(B, 1, (H + 1) // 2, (W + 1) // 2, generator=g, device=v.device, dtype=v.dtype)
    coarse = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False) * 1.6
    weight = 0.4 + 2.4 * v * (1 - v)  # 0.4 at black and white, 1.0 in the mid-tones
    return _keep((v + a * 0.07 * weight * (0.7 * fine + 0.7 * coarse)).clamp(0, 1), v, a)


def dust(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dust: specks of 1-3 px at up to 1.5 per 1000 pixels, each dark (0.05) or bright (0.95)."""
    a = _amounts(amount, v.shape[0], v)
    B, _, H, W = v.shape
    g = _device_generator(generator, v.device)
    u = torch.rand(B, 3, H, W, generator=g, device=v.device, dtype=v.dtype)
    seeds = (u[:, :1] < a * 0.0015).to(v.dtype)
    big = F.max_pool2d(seeds * (u[:, 1:2] < 0.4), 3, stride=1, padding=1)  # 40 % of them 3 px wide
    small = F.max_pool2d(seeds * (u[:, 1:2] >= 0.4), (1, 2), stride=1, padding=(0, 1))[..., :W]
    mask = torch.maximum(big, small)
    bright = F.max_pool2d((u[:, 2:3] < 0.5).to(v.dtype) * seeds, 3, stride=1, padding=1) > 0
    value = torch.where(bright, 0.95, 0.05).to(v.dtype)
    return _keep(v * (1 - mask) + value * mask, v, a)


def scratches(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """Up to ``MAX_SCRATCHES`` x amount thin lines (0.6-1.6 px), within 15 degrees of vertical, each over
    part of the height, bright or dark, blended at 40-90 % opacity."""
    a = _amounts(amount, v.shape[0], v)
    B, _, H, W = v.shape
    K = MAX_SCRATCHES
    p = torch.rand(B, K, 7, generator=generator).to(v.device, v.dtype)
    count = torch.ceil(a.view(B, 1) * K * p[..., 0].amax(1, keepdim=True))  # 1..K lines where a > 0
    on = (torch.arange(K, device=v.device).view(1, K) < count).to(v.dtype)
    angle = math.radians(15) * (2 * p[..., 1] - 1)
    x0 = p[..., 2] * (W - 1)
    width = 0.6 + p[..., 3]
    start = p[..., 4] * 0.7 * H
    length = (0.3 + 0.7 * p[..., 5]) * H
    value = torch.where(p[..., 6] < 0.6, 0.97, 0.08).to(v.dtype)  # bright (emulsion gone) more often
    opacity = 0.4 + 0.5 * torch.rand(B, K, generator=generator).to(v.device, v.dtype)
    ys = torch.arange(H, device=v.device, dtype=v.dtype).view(1, 1, H, 1)
    xs = torch.arange(W, device=v.device, dtype=v.dtype).view(1, 1, 1, W)
    e = lambda t: t.view(B, K, 1, 1)  # noqa: E731
    dist = (xs - e(x0) - ys * torch.tan(e(angle))).abs() * torch.cos(e(angle))
    line = (1 - dist / e(width)).clamp(0, 1)
    along = ((ys >= e(start)) & (ys <= e(start + length))).to(v.dtype)
    mask = line * along * e(on * opacity)  # [B,K,H,W]
    out = v
    for k in range(K):
        m = mask[:, k : k + 1]
        out = out * (1 - m) + e(value)[:, k : k + 1] * m
    return _keep(out, v, a)


def _dct_matrix(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float64)
    d = torch.cos(math.pi * (2 * n[None] + 1) * n[:, None] / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d.to(device, dtype)  # orthonormal DCT-II: rows are frequencies


def jpeg(v: torch.Tensor, amount, generator: torch.Generator | None = None) -> torch.Tensor:
    """JPEG artefacts: 8 x 8 DCT blocks of the gray sRGB levels (0-255) quantised with the luminance table at
    quality ``95 - 85 amount`` (libjpeg's quality scaling), rounded, transformed back. The grid starts at the
    top left, as a file's would; a border that is not a multiple of 8 is padded by replication."""
    a = _amounts(amount, v.shape[0], v)
    B, _, H, W = v.shape
    quality = (95 - 85 * a.view(B)).round()
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality) / 100
    table = torch.tensor(_JPEG_LUMA, device=v.device, dtype=v.dtype)
    q = (table[None] * scale.view(B, 1, 1)).round().clamp(1, 255)  # [B,8,8]
    ph, pw = (-H) % 8, (-W) % 8
    levels = l_to_gray_srgb(normalize_l(v * 100.0)) * 255.0
    x = F.pad(levels - 128, (0, pw, 0, ph), mode="replicate")
    Hp, Wp = x.shape[-2:]
    blocks = x.view(B, Hp // 8, 8, Wp // 8, 8).permute(0, 1, 3, 2, 4)  # [B,h,w,8,8]
    d = _dct_matrix(v.device, v.dtype)
    coef = d @ blocks @ d.T
    qv = q.view(B, 1, 1, 8, 8)
    back = d.T @ (torch.round(coef / qv) * qv) @ d
    out = back.permute(0, 1, 3, 2, 4).reshape(B, 1, Hp, Wp)[..., :H, :W]
    gray = ((out + 128) / 255).clamp(0, 1).expand(-1, 3, -1, -1)
    return _keep(denormalize_l(rgb_to_l(gray)) / 100.0, v, a)


_FUNCTIONS = {"blur": blur, "tone": tone, "light": light, "grain": grain, "dust": dust, "scratches": scratches,
              "jpeg": jpeg}


def draw_amounts(n: int, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image, per-effect amounts ``float [n, len(EFFECTS)]`` in ``[0, strength]``: each image a severity
    ``strength x U(0,1)``, each effect on with :data:`EFFECT_PROBABILITY` at ``severity x U(0.5, 1)``."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    u = torch.rand(n, 1 + 2 * len(EFFECTS), generator=generator)
    severity = strength * u[:, :1]
    on = u[:, 1 : 1 + len(EFFECTS)] < EFFECT_PROBABILITY
    return severity * (0.5 + 0.5 * u[:, 1 + len(EFFECTS) :]) * on


def degrade_l(L: torch.Tensor, strength: float, generator: torch.Generator | None = None,
              amounts: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised L ``[B,1,H,W]`` in ``[-1,1]`` -> the same photos as degraded old-print scans, ``[B,1,H,W]`` in
    ``[-1,1]``, same dtype and device.

    ``strength`` in ``[0,1]``: the largest severity (0 returns ``L`` itself; 1: from clean to strongly worn);
    each image draws its own (:func:`draw_amounts`) unless ``amounts [B, len(EFFECTS)]`` are given (then
    ``strength`` is unused). No gradient is meant to flow through it (rounding in ``jpeg``).
    """
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"L must have shape [B,1,H,W], got {tuple(L.shape)}")
    if amounts is None:
        if strength == 0:
            return L
        amounts = draw_amounts(L.shape[0], strength, generator)
    if amounts.shape != (L.shape[0], len(EFFECTS)):
        raise ValueError(f"amounts must have shape [{L.shape[0]}, {len(EFFECTS)}], got {tuple(amounts.shape)}")
    v = (denormalize_l(L.float()) / 100.0).clamp(0, 1)
    for i, name in enumerate(EFFECTS):
        if bool((amounts[:, i] > 0).any()):
            v = _FUNCTIONS[name](v, amounts[:, i], generator)
    touched = (amounts > 0).any(1).to(L.device).view(-1, 1, 1, 1)
    return torch.where(touched, normalize_l(v * 100.0).to(L.dtype), L)


def degrade_gray_array(gray: np.ndarray, seed: int, strength: float = 1.0) -> np.ndarray:
    """A gray sRGB photo ``float32 [H,W,3]`` in ``[0,1]`` -> a degraded gray copy (same shape, zero chroma),
    the same for the same ``seed`` (CPU). For evaluation inputs: ``chromatize evaluate --degrade SEED``."""
    t = torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32)).permute(2, 0, 1)[None]
    out = degrade_l(rgb_to_l(t), strength, torch.Generator().manual_seed(int(seed)))
    return l_to_gray_srgb(out)[0].expand(3, -1, -1).permute(1, 2, 0).numpy().astype(np.float32)
