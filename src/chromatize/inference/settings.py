"""What one colorizing run needs, decided once at its top: :func:`resolve_settings` -> :class:`RunSettings`.

A run (a batch of files, a video, an evaluation, one HTTP request) starts from three things: what the weights
file says (:class:`chromatize.checkpoint.Readout`: its render size, its inputs), what the caller overrides
(``render_size``, ``saturation``, hints, a reference photo) and the limits of whoever runs it (the library's
:data:`LIBRARY_LIMITS`; the server passes its narrower :class:`Limits`). :func:`resolve_settings` merges and
checks them, once, and everything below (:class:`chromatize.Colorizer`'s array and tensor methods, the video
frames, the evaluation predictor) takes the :class:`RunSettings` as given. Errors are a one-line ``ValueError``
(the CLI prints it, the server answers 422 with it).

Only what depends on the photo itself is checked per photo: that hints lie inside it
(:func:`chromatize.hints.check_hints`, in :meth:`chromatize.Colorizer.guidance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chromatize.checkpoint import MAX_RENDER_SIZE, MIN_RENDER_SIZE, check_render_size

if TYPE_CHECKING:
    import numpy as np

    from chromatize.checkpoint import Readout
    from chromatize.hints import Hint, Stroke


@dataclass(frozen=True)
class Limits:
    """What a caller allows: ``render_size`` from ``min_render_size`` to ``max_render_size`` and ``saturation``
    from 0 to ``max_saturation``. The library allows the most (:data:`LIBRARY_LIMITS`); a server narrows them."""

    min_render_size: int = MIN_RENDER_SIZE
    max_render_size: int = MAX_RENDER_SIZE
    max_saturation: float = math.inf

    def __post_init__(self) -> None:
        if not MIN_RENDER_SIZE <= self.min_render_size <= self.max_render_size <= MAX_RENDER_SIZE:
            raise ValueError(f"render size limits must satisfy {MIN_RENDER_SIZE} <= min <= max <= {MAX_RENDER_SIZE}, "
                             f"got {self.min_render_size} and {self.max_render_size}")
        if not self.max_saturation >= 0:
            raise ValueError(f"max_saturation must be >= 0, got {self.max_saturation}")

    def check_saturation(self, saturation: Any) -> float:
        """``saturation`` as a float if it lies in ``[0, max_saturation]``, else ValueError (NaN too)."""
        ok = isinstance(saturation, (int, float)) and not isinstance(saturation, bool)
        if not (ok and 0.0 <= saturation <= self.max_saturation):
            bound = ("a number, 0 or more" if math.isinf(self.max_saturation)
                     else f"a number between 0 and {self.max_saturation:g}")
            raise ValueError(f"saturation must be {bound}, got {saturation}")
        return float(saturation)


#: The widest limits: what :class:`chromatize.Colorizer` accepts from Python and the command line.
LIBRARY_LIMITS = Limits()


@dataclass(frozen=True)
class RunSettings:
    """One run's settings, resolved and checked (build it with :func:`resolve_settings`).

    ``render_size``: long side the network sees (pixels); ``saturation``: factor on the model's calibrated
    chroma gain (0 gray, 1 as shipped); ``hints``: :class:`chromatize.hints.Hint` / ``Stroke`` in the photo's
    pixels (one photo's); ``reference``: a colour photo, sRGB ``[H,W,3]`` (uint8, uint16 or float32 in [0,1]),
    whose colours guide every photo of the run.
    """

    render_size: int
    saturation: float = 1.0
    hints: "tuple[Hint | Stroke, ...]" = ()
    reference: "np.ndarray | None" = field(default=None, compare=False, repr=False)

    @property
    def guided(self) -> bool:
        """Whether the run has hints or a reference photo."""
        return bool(self.hints) or self.reference is not None


def resolve_settings(
    readout: "Readout", *, model_name: str, render_size: int | None = None, saturation: float = 1.0,
    hints: "Any" = (), reference: Any = None, limits: Limits = LIBRARY_LIMITS,
) -> RunSettings:
    """The weights' own settings (``readout``), the caller's overrides and ``limits`` -> one :class:`RunSettings`.

    ``render_size`` None is the weights' own; ``reference`` is a PIL image or an sRGB array ``[H,W,3]``.
    ``model_name`` is the model as the caller named it, for the message when it takes no hints.
    Raises ValueError (one line) for a render size or saturation outside ``limits``, a reference that is
    not a photo, hints that are not hints, and hints or a reference for a model that takes none; each hint's
    form is checked when it is made, and their number and positions per photo (:func:`chromatize.hints.check_hints`).
    """
    size = readout.render_size if render_size is None else render_size
    size = check_render_size(size, limits.min_render_size, limits.max_render_size)
    hints = tuple(hints)
    if reference is not None:
        reference = reference_array(reference)
    if (hints or reference is not None) and "hints" not in readout.inputs:
        raise ValueError(f"model {model_name!r} takes no colour hints or reference; use a model that takes them, "
                         "such as the shipped 'hints' model")
    if hints:
        from chromatize.hints import Hint, Stroke

        if not all(isinstance(h, (Hint, Stroke)) for h in hints):
            raise ValueError("hints must be chromatize.hints.Hint or Stroke objects (hints_from_json reads JSON)")
    return RunSettings(size, limits.check_saturation(saturation), hints, reference)


def reference_array(reference: Any) -> "np.ndarray":
    """A reference photo (PIL image, or sRGB array ``[H,W,3]`` uint8/uint16/float32) -> the sRGB array."""
    import numpy as np
    from PIL import Image

    if isinstance(reference, Image.Image):
        from chromatize.io import image_to_arrays

        reference = image_to_arrays(reference)[0]
    if not isinstance(reference, np.ndarray) or reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError("reference must be a PIL image or an [H,W,3] sRGB array")
    return reference
