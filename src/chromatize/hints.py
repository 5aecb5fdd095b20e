"""Colour hints from people: "this point was navy".

A :class:`Hint` is a point in the original photo's pixels (``x`` right, ``y`` down, from the top-left
corner), a colour, and an optional radius (original pixels; default: a 7x7 patch at the render size). Only
the colour's chroma (its CIE a, b) is used: the photo keeps its own luminance, so a navy hint on a bright
coat gives a light navy.

The same hints come from Python (``Hint(120, 340, "#1f3a93")``), the command line (``--hint
120,340,#1f3a93``), a JSON file or HTTP field (``[{"x": 120, "y": 340, "color": "#1f3a93"}]``) and the web
page. :func:`hint_tensor` rasterises them into the registry's ``hints`` input at the render size.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

#: Default hint half-width at the render size, in pixels: a 7x7 patch (the evaluation protocol's).
DEFAULT_RENDER_RADIUS = 3.0
#: Most hints taken at once (a page or file with more is refused rather than slowing the server down).
MAX_HINTS = 1000


class HintError(ValueError):
    """A hint that cannot be used; the message names it."""


def parse_color(value: Any) -> tuple[int, int, int]:
    """``"#1f3a93"``, ``"#f00"``, a CSS colour name (``"navy"``), ``"rgb(31, 58, 147)"`` or an RGB triple of
    integers 0-255 -> ``(r, g, b)``."""
    from PIL import ImageColor

    if isinstance(value, str):
        try:
            rgb = ImageColor.getrgb(value.strip())
        except ValueError:
            raise HintError(f"unknown colour {value!r} (use #rrggbb, a CSS colour name or r,g,b)") from None
        return tuple(int(c) for c in rgb[:3])
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value
    ):
        return tuple(value)
    raise HintError(f"colour {value!r} must be #rrggbb, a CSS colour name or three integers 0-255")


@dataclass(frozen=True)
class Hint:
    """A colour at a point of the original photo: ``x``, ``y`` in its pixels, ``color`` (see
    :func:`parse_color`), ``radius`` in its pixels (None: a 7x7 patch at the render size)."""

    x: float
    y: float
    color: Any
    radius: float | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y") + (("radius",) if self.radius is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise HintError(f"hint {name} must be a finite number, got {value!r}")
        if self.radius is not None and self.radius < 0:
            raise HintError(f"hint radius must be >= 0, got {self.radius}")
        object.__setattr__(self, "color", parse_color(self.color))

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.color)

    def to_dict(self) -> dict[str, Any]:
        out = {"x": self.x, "y": self.y, "color": self.hex}
        return out if self.radius is None else {**out, "radius": self.radius}

    @classmethod
    def parse(cls, text: str) -> "Hint":
        """``"x,y,color"`` or ``"x,y,color,radius"`` (the command line's ``--hint``)."""
        parts = [p.strip() for p in str(text).split(",", 2)]
        if len(parts) != 3 or not parts[2]:
            raise HintError(f"hint {text!r} must look like x,y,color (e.g. 120,340,#1f3a93 or 40,40,red)")
        color, radius = parts[2], None
        tail = re.fullmatch(r"(.*[^,\s])\s*,\s*([0-9]*\.?[0-9]+)", color)
        if tail and not color.lower().startswith("rgb"):
            color, radius = tail.group(1), float(tail.group(2))
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise HintError(f"hint {text!r}: x and y must be numbers") from None
        try:
            return cls(x, y, color, radius)
        except HintError as e:
            raise HintError(f"hint {text!r}: {e}") from None


def hints_from_json(data: Any) -> list[Hint]:
    """A JSON list of ``{"x": .., "y": .., "color": .., "radius": ..(optional)}`` -> hints (errors name the item)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise HintError(f"hints are not valid JSON: {e.msg} (line {e.lineno} column {e.colno})") from None
    if not isinstance(data, list):
        raise HintError('hints must be a JSON list like [{"x": 120, "y": 340, "color": "#1f3a93"}]')
    if len(data) > MAX_HINTS:
        raise HintError(f"at most {MAX_HINTS} hints are taken, got {len(data)}")
    hints = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not {"x", "y", "color"} <= set(item) or set(item) - {"x", "y", "color", "radius"}:
            raise HintError(f"hint {i + 1} ({json.dumps(item)[:80]}) must have x, y, color and optionally radius")
        try:
            hints.append(Hint(item["x"], item["y"], item["color"], item.get("radius")))
        except HintError as e:
            raise HintError(f"hint {i + 1} ({json.dumps(item)[:80]}): {e}") from None
    return hints


def load_hints(path: str | os.PathLike) -> list[Hint]:
    """Hints from a JSON file (see :func:`hints_from_json`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HintError(f"cannot read hints file {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return hints_from_json(text)
    except HintError as e:
        raise HintError(f"{path}: {e}") from None


def check_hints(hints: Iterable[Hint], width: int, height: int) -> list[Hint]:
    """The hints, or a :class:`HintError` naming the first one outside a ``width`` x ``height`` photo."""
    hints = list(hints)
    for i, h in enumerate(hints):
        if not (0 <= h.x < width and 0 <= h.y < height):
            raise HintError(f"hint {i + 1} at ({h.x:g}, {h.y:g}) is outside the {width}x{height} photo")
    return hints


def color_ab(colors: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """sRGB colours (0-255) -> their normalised ab ``[N,2]`` (:mod:`chromatize.color`)."""
    from chromatize.color import rgb_to_l_ab

    rgb = torch.tensor(list(colors), dtype=torch.float32).reshape(-1, 3) / 255.0
    return rgb_to_l_ab(rgb.T.reshape(1, 3, -1, 1))[1][0, :, :, 0].T


def hint_tensor(hints: Sequence[Hint], image_size: tuple[int, int], render: tuple[int, int],
                device: str | torch.device = "cpu") -> torch.Tensor:
    """Hints on a photo of ``image_size`` (H, W) -> the ``hints`` input at ``render`` (h, w): ``[1,3,h,w]``,
    normalised ab on a square of half-width ``radius`` (scaled; at least one pixel) around each hint, and
    the 0/1 mask. Later hints are drawn over earlier ones."""
    H, W = image_size
    h, w = render
    if not hints:
        return torch.zeros(1, 3, h, w, device=device)
    sy, sx = h / H, w / W
    squares = [((hint.y + 0.5) * sy - 0.5, (hint.x + 0.5) * sx - 0.5,
                DEFAULT_RENDER_RADIUS if hint.radius is None else hint.radius * min(sy, sx)) for hint in hints]
    return paint_hints((h, w), squares, color_ab([hint.color for hint in hints]), device)


def paint_hints(size: tuple[int, int], squares: Sequence[tuple[float, float, float]], ab: torch.Tensor,
                device: str | torch.device = "cpu") -> torch.Tensor:
    """A ``hints`` input ``[1,3,h,w]`` for ``size`` (h, w): normalised ``ab [N,2]`` on squares given as (row,
    column, half-width) in its pixels (rounded, clipped to the image), and the 0/1 mask. Later squares are
    drawn over earlier ones."""
    h, w = size
    out = torch.zeros(1, 3, h, w)
    for (cy, cx, r), value in zip(squares, ab.cpu()):
        top, bottom = max(0, round(cy - r)), min(h, round(cy + r) + 1)
        left, right = max(0, round(cx - r)), min(w, round(cx + r) + 1)
        out[0, :2, top:bottom, left:right] = value[:, None, None]
        out[0, 2, top:bottom, left:right] = 1.0
    return out.to(device)


def overlay_hints(base: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
    """Two ``hints`` tensors ``[B,3,h,w]`` -> one, ``over``'s hints winning where both have one."""
    return torch.where(over[:, 2:3] > 0, over, base)
