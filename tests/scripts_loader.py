"""Loading the files of ``scripts/`` as modules in tests, as Python does when it runs one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` as the module ``NAME`` (once per test session). ``scripts/`` is on ``sys.path`` while
    it loads, as when Python runs a script, so the siblings it imports (``import corpus_packages``) load too."""
    if name not in sys.modules:
        sys.path.insert(0, str(SCRIPTS))
        try:
            spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
            module = sys.modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(SCRIPTS))
    return sys.modules[name]
