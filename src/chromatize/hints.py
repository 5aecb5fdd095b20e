"""Colour hints from people: "this point was navy", "this line was red".

A :class:`Hint` is a point in the original photo's pixels (``x`` right, ``y`` down, from the top-left
corner), a colour, and an optional radius (original pixels; default: a 7x7 patch at the render size). A
:class:`Stroke` is a line of hints: points ``[[x, y], ...]`` in the same pixels, a colour and an optional
radius (the line's half-width), painted as a continuous line through the points; one point is a dot. Only
the colour's chroma (its CIE a, b) is used: the photo keeps its own luminance, so a navy hint on a bright
coat gives a light navy.

The same hints come from Python (``Hint(120, 340, "#1f3a93")``, ``Stroke([(10, 20), (60, 25)], "red")``),
the command line (``--hint 120,340,#1f3a93`` for dots; ``--hints FILE`` for both), a JSON file or HTTP field
(``[{"x": 120, "y": 340, "color": "#1f3a93"}, {"points": [[10, 20], [60, 25]], "color": "red"}]``) and the
web page. :func:`hint_tensor` rasterises them into the registry's ``hints`` input at the render size.
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
#: Most points in one stroke.
MAX_STROKE_POINTS = 1000
#: Most points in all hints together (a dot counts one): bounds the time to check and paint them.
MAX_POINTS = 10000
#: Strokes together are at most this many times (photo width + height) long: bounds the time to paint them
#: (about this many times (width + height) squares at the render size).
MAX_STROKE_LENGTH = 50


class HintError(ValueError):
    """A hint that cannot be used; the message names it."""


def _show(value: Any, limit: int = 60) -> str:
    """A short one-line rendering of a (JSON) value for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):  # not JSON, an int of too many digits, too deeply nested
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool; an int too large for a float is not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def parse_color(value: Any) -> tuple[int, int, int]:
    """``"#1f3a93"``, ``"#f00"``, a CSS colour name (``"navy"``), ``"rgb(31, 58, 147)"`` or an RGB triple of
    integers 0-255 -> ``(r, g, b)``."""
    from PIL import ImageColor

    if isinstance(value, str):
        try:
            rgb = ImageColor.getrgb(value.strip())
        except ValueError:
            raise HintError(f"unknown colour {_show(value)} (use #rrggbb, a CSS colour name or r,g,b)") from None
        if not all(0 <= c <= 255 for c in rgb[:3]):  # Pillow reads rgb(300, 0, 0) as it is
            raise HintError(f"colour {_show(value)} has a component outside 0-255")
        return tuple(int(c) for c in rgb[:3])
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value
    ):
        return tuple(value)
    raise HintError(f"colour {_show(value)} must be #rrggbb, a CSS colour name or three integers 0-255")


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def _check_radius(radius: Any) -> None:
    if radius is not None and not (_finite(radius) and radius >= 0):
        raise HintError(f"hint radius must be a finite number >= 0, got {_show(radius)}")


@dataclass(frozen=True)
class Hint:
    """A colour at a point of the original photo: ``x``, ``y`` in its pixels, ``color`` (see
    :func:`parse_color`), ``radius`` in its pixels (None: a 7x7 patch at the render size)."""

    x: float
    y: float
    color: Any
    radius: float | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            if not _finite(getattr(self, name)):
                raise HintError(f"hint {name} must be a finite number, got {_show(getattr(self, name))}")
        _check_radius(self.radius)
        object.__setattr__(self, "color", parse_color(self.color))

    @property
    def hex(self) -> str:
        return _hex(self.color)

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


@dataclass(frozen=True)
class Stroke:
    """A line of colour through points of the original photo: ``points`` ``((x, y), ...)`` in its pixels (1 to
    :data:`MAX_STROKE_POINTS` of them, any sequence of pairs; kept as a tuple of tuples), ``color`` (see
    :func:`parse_color`), ``radius`` the line's half-width in its pixels (None: 3 pixels at the render size,
    as a dot's). It is painted as a continuous line through the points in order; one point is a dot."""

    points: tuple[tuple[float, float], ...]
    color: Any
    radius: float | None = None

    def __post_init__(self) -> None:
        points = self.points
        if isinstance(points, (str, bytes, dict)) or not isinstance(points, Sequence):
            raise HintError(f"stroke points must be a list of [x, y] pairs, got {_show(points)}")
        if not 1 <= len(points) <= MAX_STROKE_POINTS:
            raise HintError(f"a stroke has 1 to {MAX_STROKE_POINTS} points, got {len(points)}")
        for j, point in enumerate(points):
            if not (isinstance(point, Sequence) and not isinstance(point, (str, bytes)) and len(point) == 2
                    and _finite(point[0]) and _finite(point[1])):
                raise HintError(f"point {j + 1} ({_show(point)}) must be [x, y], two finite numbers")
        _check_radius(self.radius)
        object.__setattr__(self, "points", tuple((p[0], p[1]) for p in points))
        object.__setattr__(self, "color", parse_color(self.color))

    @property
    def hex(self) -> str:
        return _hex(self.color)

    def to_dict(self) -> dict[str, Any]:
        out = {"points": [[x, y] for x, y in self.points], "color": self.hex}
        return out if self.radius is None else {**out, "radius": self.radius}


def _n_points(hint: "Hint | Stroke") -> int:
    return len(hint.points) if isinstance(hint, Stroke) else 1


def check_count(hints: Sequence["Hint | Stroke"]) -> None:
    """HintError when there are more than :data:`MAX_HINTS` hints or :data:`MAX_POINTS` points in all."""
    if len(hints) > MAX_HINTS:
        raise HintError(f"at most {MAX_HINTS} hints are taken, got {len(hints)}")
    total = sum(map(_n_points, hints))
    if total > MAX_POINTS:
        raise HintError(f"at most {MAX_POINTS} points in all hints and strokes together are taken, got {total}")


def hints_from_json(data: Any) -> list["Hint | Stroke"]:
    """A JSON list (text, bytes or the parsed value) of dots ``{"x": .., "y": .., "color": .., "radius": ..
    (optional)}`` and strokes ``{"points": [[x, y], ...], "color": .., "radius": .. (optional)}`` -> a list of
    :class:`Hint` and :class:`Stroke` in the same order. Errors are a :class:`HintError` naming the item."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise HintError(f"hints are not valid JSON: {e.msg} (line {e.lineno} column {e.colno})") from None
        except (ValueError, RecursionError) as e:  # bad UTF-8, an int of too many digits, nesting too deep
            reason = "nested too deeply" if isinstance(e, RecursionError) else str(e).split("\n")[0][:100]
            raise HintError(f"hints are not valid JSON: {reason}") from None
    if not isinstance(data, list):
        raise HintError('hints must be a JSON list like [{"x": 120, "y": 340, "color": "#1f3a93"}]')
    if len(data) > MAX_HINTS:
        raise HintError(f"at most {MAX_HINTS} hints are taken, got {len(data)}")
    hints = []
    for i, item in enumerate(data):
        stroke = isinstance(item, dict) and "points" in item
        kind, need = (" (stroke)", {"points", "color"}) if stroke else ("", {"x", "y", "color"})
        if not isinstance(item, dict) or not need <= set(item) or set(item) - need - {"radius"}:
            raise HintError(f"hint {i + 1} ({_show(item, 80)}) must have x, y, color and optionally radius, or "
                            "points, color and optionally radius")
        try:
            hints.append(Stroke(item["points"], item["color"], item.get("radius")) if stroke
                         else Hint(item["x"], item["y"], item["color"], item.get("radius")))
        except HintError as e:
            raise HintError(f"hint {i + 1}{kind} ({_show(item, 80)}): {e}") from None
    check_count(hints)
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


def check_hints(hints: Iterable["Hint | Stroke"], width: int, height: int) -> list["Hint | Stroke"]:
    """The hints, or a :class:`HintError` naming the first one (and a stroke's point) outside a ``width`` x
    ``height`` photo, or saying there are too many hints or points, or too long strokes (:data:`MAX_HINTS`,
    :data:`MAX_POINTS`, :data:`MAX_STROKE_LENGTH`)."""
    hints = list(hints)
    check_count(hints)
    for i, h in enumerate(hints):
        if isinstance(h, Stroke):
            for j, (x, y) in enumerate(h.points):
                if not (0 <= x < width and 0 <= y < height):
                    raise HintError(f"hint {i + 1} (stroke) point {j + 1} at ({x:g}, {y:g}) is outside the "
                                    f"{width}x{height} photo")
        elif not (0 <= h.x < width and 0 <= h.y < height):
            raise HintError(f"hint {i + 1} at ({h.x:g}, {h.y:g}) is outside the {width}x{height} photo")
    length = sum(math.dist(a, b) for h in hints if isinstance(h, Stroke) for a, b in zip(h.points, h.points[1:]))
    if length > MAX_STROKE_LENGTH * (width + height):
        raise HintError(f"strokes are too long: {length:.0f} pixels in all, at most {MAX_STROKE_LENGTH} x (width + "
                        f"height) = {MAX_STROKE_LENGTH * (width + height)} on this {width}x{height} photo")
    return hints


def color_ab(colors: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """sRGB colours (0-255) -> their normalised ab ``[N,2]`` (:mod:`chromatize.color`)."""
    from chromatize.color import rgb_to_l_ab

    rgb = torch.tensor(list(colors), dtype=torch.float32).reshape(-1, 3) / 255.0
    return rgb_to_l_ab(rgb.T.reshape(1, 3, -1, 1))[1][0, :, :, 0].T


def hint_tensor(hints: Sequence["Hint | Stroke"], image_size: tuple[int, int], render: tuple[int, int],
                device: str | torch.device = "cpu") -> torch.Tensor:
    """Hints on a photo of ``image_size`` (H, W) -> the ``hints`` input at ``render`` (h, w): ``[1,3,h,w]``,
    normalised ab on a square of half-width ``radius`` (scaled; at least one pixel) around each dot and along
    each stroke's line, and the 0/1 mask. Later hints are drawn over earlier ones."""
    H, W = image_size
    h, w = render
    if not hints:
        return torch.zeros(1, 3, h, w, device=device)
    sy, sx = h / H, w / W
    # Pixel centres at the render size, kept on its pixels: a hint at x = 99.7 of a 100-pixel-wide photo
    # would round to column 100 and, with a small radius, paint nothing.
    row = lambda y: min(max((y + 0.5) * sy - 0.5, 0.0), h - 1.0)  # noqa: E731
    col = lambda x: min(max((x + 0.5) * sx - 0.5, 0.0), w - 1.0)  # noqa: E731
    shapes = []
    for hint in hints:
        r = DEFAULT_RENDER_RADIUS if hint.radius is None else min(hint.radius * min(sy, sx), h + w)
        if isinstance(hint, Stroke):
            shapes.append(([row(y) for _, y in hint.points], [col(x) for x, _ in hint.points], r))
        else:
            shapes.append((row(hint.y), col(hint.x), r))
    return paint_hints((h, w), shapes, color_ab([hint.color for hint in hints]), device)


def paint_hints(size: tuple[int, int], squares: Sequence[tuple[Any, Any, float]], ab: torch.Tensor,
                device: str | torch.device = "cpu") -> torch.Tensor:
    """A ``hints`` input ``[1,3,h,w]`` for ``size`` (h, w): normalised ``ab [N,2]`` on squares given as (row,
    column, half-width) in its pixels (rounded, clipped to the image), and the 0/1 mask. An item whose row and
    column are equal-length sequences is a line through those pixels: a polyline painted as squares of side
    ``round(2 x half-width) + 1`` every <= 1 pixel along each segment (one pixel: the square above). Later
    items are drawn over earlier ones."""
    h, w = size
    winner = torch.zeros(h, w, dtype=torch.int64)  # per pixel: 1 + the index of the last item covering it
    lines: dict[int, list[tuple[torch.Tensor, torch.Tensor, int]]] = {}  # square side -> (rows, columns, 1 + index)
    for i, (cy, cx, r) in enumerate(squares[: len(ab)], start=1):
        if not (isinstance(cy, (int, float)) or (isinstance(cy, torch.Tensor) and cy.dim() == 0)):
            rows = torch.as_tensor(cy, dtype=torch.float64).reshape(-1)
            cols = torch.as_tensor(cx, dtype=torch.float64).reshape(-1)
            if len(rows) > 1:
                side = round(2 * min(max(float(r), 0.0), max(h, w))) + 1
                lines.setdefault(side, []).append((*_line_corners(rows, cols, r, h, w), i))
                continue
            cy, cx = float(rows[0]), float(cols[0])
        top, bottom = max(0, round(cy - r)), min(h, round(cy + r) + 1)
        left, right = max(0, round(cx - r)), min(w, round(cx + r) + 1)
        winner[top:bottom, left:right] = i  # items in order: a later square wins over an earlier one
    for side, items in lines.items():
        # Each line square's top-left corner, marked with its item (the last one where several meet), on a
        # grid over the lines' bounding box; a running maximum over side x side windows spreads it over its square.
        tops, lefts = torch.cat([item[0] for item in items]), torch.cat([item[1] for item in items])
        if not len(tops):
            continue
        y0, y1 = max(0, int(tops.min())), min(h, int(tops.max()) + side)
        x0, x1 = max(0, int(lefts.min())), min(w, int(lefts.max()) + side)
        corners = torch.zeros(y1 - y0 + side - 1, x1 - x0 + side - 1, dtype=torch.int64)
        for top, left, i in items:
            flat = (top - y0 + side - 1) * corners.shape[1] + (left - x0 + side - 1)
            corners.view(-1).scatter_reduce_(0, flat, torch.full_like(flat, i), reduce="amax")
        spread = _window_max(_window_max(corners, side, 0), side, 1)
        winner[y0:y1, x0:x1] = torch.maximum(winner[y0:y1, x0:x1], spread)
    table = torch.cat([torch.zeros(1, 2), ab.detach().cpu().float().reshape(-1, 2)])
    out = torch.cat([table[winner].permute(2, 0, 1), (winner > 0).float()[None]])[None]
    return out.to(device)


def _window_max(x: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """The maximum over each window of ``k`` along ``dim`` (length n -> n - k + 1), by doubling: log2(k) steps."""
    width = 1
    while 2 * width <= k:
        n = x.shape[dim]
        x = torch.maximum(x.narrow(dim, 0, n - width), x.narrow(dim, width, n - width))
        width *= 2
    if width < k:
        n = x.shape[dim] - (k - width)
        x = torch.maximum(x.narrow(dim, 0, n), x.narrow(dim, k - width, n))
    return x


def _line_corners(rows: torch.Tensor, cols: torch.Tensor, radius: float, h: int,
                  w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-left corners (row, column; long ``[M]``) of the squares of half-width ``radius`` centred every
    <= 1 pixel along the polyline through (``rows[k]``, ``cols[k]``), those whose square meets the ``h`` x
    ``w`` image."""
    r = min(max(float(radius), 0.0), max(h, w))  # a larger square covers no more of the image
    far = h + w + r  # points beyond this (never those of checked hints) are moved in, bounding the work
    pts = torch.stack([rows.clamp(-far, h + far), cols.clamp(-far, w + far)], 1)  # [P,2]
    seg = pts[1:] - pts[:-1]
    steps = seg.abs().amax(1).ceil().clamp(min=1).long()  # per segment, each step <= 1 px in both directions
    which = torch.repeat_interleave(torch.arange(len(seg)), steps)
    t = (torch.arange(len(which)) - (steps.cumsum(0) - steps)[which]) / steps[which]
    pts = torch.cat([pts[:-1][which] + seg[which] * t[:, None], pts[-1:]])
    top, left = torch.round(pts[:, 0] - r).long(), torch.round(pts[:, 1] - r).long()
    side = round(2 * r) + 1
    keep = (top > -side) & (top < h) & (left > -side) & (left < w)
    return top[keep], left[keep]


def overlay_hints(base: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
    """Two ``hints`` tensors ``[B,3,h,w]`` -> one, ``over``'s hints winning where both have one."""
    return torch.where(over[:, 2:3] > 0, over, base)
