"""chromatize: colorize black-and-white photographs with neural networks.

Public API (imported lazily, so ``import chromatize`` is cheap and has no side effects)::

    from chromatize import Colorizer, colorize, create_model, list_models, load_model
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "create_model": "chromatize.registry",
    "list_models": "chromatize.registry",
    "register_model": "chromatize.registry",
    "load_model": "chromatize.checkpoint",
    "save_checkpoint": "chromatize.checkpoint",
    "Colorizer": "chromatize.inference.pipeline",
    "colorize": "chromatize.inference.pipeline",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chromatize' has no attribute {name!r}")
