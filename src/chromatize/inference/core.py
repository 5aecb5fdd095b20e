"""The tensor core of colorization: normalised L in, sRGB out, batched, every step on one device.

Shapes and ranges: L is normalised (``[-1,1]``, see :mod:`chromatize.color`) ``[B,1,H,W]`` float at the
photo's full resolution; ab is normalised ``[B,2,h,w]`` at the render size; the result is sRGB
``uint8 [B,3,H,W]`` (a view of a channels-last buffer, so ``out[0].permute(1, 2, 0)`` is a contiguous
``[H,W,3]`` image). Full-resolution work goes in strips of rows, so memory beyond the L input and the
output stays bounded however large the photo is.

Resizing is PIL's antialiased bicubic filter, as ``F.interpolate(..., antialias=True)`` implements it, done
one axis at a time (the filter is separable) so the full-size axis is only ever touched strip by strip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chromatize import color

#: Full-resolution pixels processed at once: bounds the working memory beyond the input and output.
STRIP_PIXELS = 1 << 17


def strip_rows(width: int) -> int:
    """Rows of a ``width``-pixel image that make one strip of about :data:`STRIP_PIXELS` pixels."""
    return max(1, STRIP_PIXELS // max(1, width))


def render_shape(height: int, width: int, render_size: int) -> tuple[int, int]:
    """(h, w) the network sees for a photo of ``height`` x ``width``: long side ``render_size`` (at least 8)."""
    if render_size < 8:
        raise ValueError(f"render_size must be at least 8, got {render_size}")
    scale = render_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)


def render_l(L: torch.Tensor, size: tuple[int, int], levels: torch.Tensor | None = None) -> torch.Tensor:
    """Full-resolution L ``[B,1,H,W]`` -> L at the render size ``[B,1,h,w]``, as the network was trained to see it.

    The photo is resized as an 8-bit gray sRGB image, the way training data and earlier versions resized
    it (PIL's two passes, width then height, each rounded to 8-bit levels), then turned back into L.
    ``levels``: that 8-bit image, ``uint8 [B,1,H,W]``, when the caller has it (a gray photo's own pixels);
    otherwise it is computed from L. The width is reduced strip by strip: no full-size temporary.
    """
    H, W = L.shape[-2:]
    h, w = size
    rows = strip_rows(W)
    narrow = []
    for t in range(0, H, rows):
        strip = (levels[..., t : t + rows, :].float() if levels is not None
                 else color.l_to_gray_srgb(L[..., t : t + rows, :]).mul_(255.0).round_())
        narrow.append(_resize_levels(strip, (strip.shape[-2], w)))
    small = _resize_levels(torch.cat(narrow, dim=-2), (h, w))
    return color.srgb_gray_to_l(small.to(torch.uint8))


def _resize_levels(levels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(levels.shape[-2:]) == tuple(size):
        return levels
    return _resize(levels, size).add_(0.5).floor_().clamp_(0.0, 255.0)  # rounded as PIL does


def pad_inputs(inputs: list[torch.Tensor], border: int, multiple: int) -> list[torch.Tensor]:
    """Add ``border`` pixels on every side of each input (and up to ``multiple``): L is mirrored, other
    inputs (hints) are padded with zeros, so no hint is copied into the border."""
    h, w = inputs[0].shape[-2:]
    ph, pw = (-(h + 2 * border)) % multiple, (-(w + 2 * border)) % multiple
    if not (border or ph or pw):
        return inputs
    pad = (border, border + pw, border, border + ph)
    mode = "reflect" if border + ph < h and border + pw < w else "replicate"
    return [F.pad(inputs[0], pad, mode=mode), *(F.pad(x, pad) for x in inputs[1:])]


def default_input(name: str, L: torch.Tensor, given: dict[str, torch.Tensor]) -> torch.Tensor:
    """The value of a declared input nobody gave, for ``L [B,1,h,w]`` and the inputs ``given``: no hints is all
    zeros ``[B,3,h,w]``; the ``hint_prior`` is built from L and the hints (:func:`chromatize.hint_prior.hint_prior`)."""
    if name == "hints":
        return L.new_zeros(L.shape[0], 3, *L.shape[-2:])
    if name == "hint_prior":
        from chromatize.hint_prior import hint_prior

        hints = given.get("hints")
        return hint_prior(L, default_input("hints", L, given) if hints is None else hints).to(L.dtype)
    raise ValueError(f"the network needs input {name!r}, which was not given")


def run_network(
    model: nn.Module, L_small: torch.Tensor, *, inputs: tuple[str, ...], target: str, border: int,
    multiple: int, extra: dict[str, torch.Tensor] | None = None, flip: bool = False,
) -> torch.Tensor:
    """Normalised L ``[B,1,h,w]`` (+ the other ``inputs`` the network declares, from ``extra`` or their
    defaults: no hints, and the hint prior built from L and the hints) -> normalised ab ``[B,2,h,w]`` float32,
    on L's device.

    The inputs are mirrored by ``border`` pixels (and padded to ``multiple``) and the prediction is cropped
    back: networks make colour artefacts at image borders and corners, which then fall outside. ``flip``:
    the batch is run with its left-right mirror (hints mirrored too) in one call, and the two predictions
    are averaged. ``extra`` may also hold colours laid over the prediction: ``reference_ab [B,2,h,w]`` with
    ``reference_weight [B,1,h,w]`` in [0,1] (a reference photo aligned to this one).
    """
    h, w = L_small.shape[-2:]
    given = {"L": L_small, **(extra or {})}
    tensors = [given[n] if n in given else default_input(n, L_small, given) for n in inputs]
    if flip:
        tensors = [torch.cat([x, x.flip(-1)]) for x in tensors]
    out = model(*pad_inputs(tensors, border, multiple))[..., border : border + h, border : border + w].float()
    if flip:
        out = 0.5 * (out[: len(L_small)] + out[len(L_small) :].flip(-1))
    if target == "rgb":
        out = color.rgb_to_l_ab(out.clamp(0, 1))[1]
    if extra and "reference_weight" in extra:  # a reference aligned to the photo: its own colours where it agrees
        weight = extra["reference_weight"].to(out)
        out = weight * extra["reference_ab"].to(out) + (1.0 - weight) * out
    return out


def compose(L: torch.Tensor, ab_small: torch.Tensor, gain: float, bits: int = 8) -> torch.Tensor:
    """Put normalised ab ``[B,2,h,w]``, scaled by ``gain`` (clipped to ``[-1,1]``) and upsampled, on the
    full-resolution L ``[B,1,H,W]`` -> sRGB ``uint8 [B,3,H,W]`` (``bits=16``: ``uint16``, 0-65535).

    Out-of-gamut colours are desaturated at constant L (:func:`chromatize.color.l_ab_to_srgb8_keep_l`), so
    the output's L is the input's up to 8-bit rounding.
    """
    B, _, H, W = L.shape
    h = ab_small.shape[-2]
    # Width first, on the small map; then the height strip by strip, as a product with the rows of the
    # filter's matrix that the strip needs (each output row mixes a few input rows): same values as
    # F.interpolate of the whole map, at a fraction of the cost.
    ab_wide = _resize(color.scale_chroma(ab_small.to(L.device, torch.float32), gain), (h, W))
    weights, first, last = _filter_rows(h, H, L.device)
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    to_srgb = color.l_ab_to_srgb8_keep_l if bits == 8 else color.l_ab_to_srgb16_keep_l
    out = torch.empty(B, H, W, 3, dtype=torch.uint8 if bits == 8 else torch.uint16, device=L.device)
    rows = strip_rows(W)
    for top in range(0, H, rows):
        bottom = min(H, top + rows)
        lo, hi = int(first[top:bottom].min()), int(last[top:bottom].max()) + 1
        ab = torch.matmul(weights[top:bottom, lo:hi], ab_wide[..., lo:hi, :]).clamp_(-1.0, 1.0)
        out[:, top:bottom].copy_(to_srgb(L[..., top:bottom, :], ab).permute(0, 2, 3, 1))
    return out.permute(0, 3, 1, 2)


def _filter_rows(n_in: int, n_out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The antialiased bicubic resize from ``n_in`` to ``n_out`` samples as a matrix ``[n_out, n_in]`` (its
    response to each unit impulse), with each row's first and last non-zero column."""
    eye = torch.eye(n_in, device=device)[None, None]
    weights = _resize(eye, (n_out, n_in))[0, 0] if n_in != n_out else eye[0, 0]
    nonzero = weights != 0
    first = nonzero.float().argmax(dim=1)
    last = n_in - 1 - nonzero.flip(1).float().argmax(dim=1)
    return weights, first, last
