"""The local web app: a FastAPI HTTP API and a static page over the same :class:`Colorizer`.

``create_app(models, config)`` builds the ASGI app; ``serve(...)`` runs it with uvicorn
(``chromatize serve``). Needs the ``[server]`` extra (fastapi, uvicorn, python-multipart);
the names below are imported lazily so ``chromatize.server.config`` stays importable without it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "create_app": "chromatize.server.app",
    "ServerConfig": "chromatize.server.config",
    "ModelStore": "chromatize.server.models",
    "model_table": "chromatize.server.models",
    "serve": "chromatize.server.run",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chromatize.server' has no attribute {name!r}")
