"""The models a server offers: names looked up in a table fixed at start-up, loaded lazily once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chromatize.checkpoint import readout_from_header, resolve_weights, shipped_weights, weights_header
from chromatize.inference.pipeline import Colorizer


class UnknownModel(KeyError):
    """A requested model name is not in the server's table."""


def model_table(specs: Iterable[str | os.PathLike] | None = None) -> dict[str, Path]:
    """``--model`` values (shipped names or checkpoint paths) -> {name: file}; all shipped weights if none.

    A shipped name keeps its name; a path is named by its file stem. Raises ``FileNotFoundError``
    for a missing file or unknown name and ``ValueError`` when two entries would share a name.
    """
    specs = list(specs or [])
    if not specs:
        table = shipped_weights()
        if not table:
            raise FileNotFoundError("no shipped weights in this install; pass --model PATH to a checkpoint")
        return dict(table)
    table: dict[str, Path] = {}
    for spec in specs:
        path = resolve_weights(spec)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        name = str(spec) if str(spec) in shipped_weights() else path.stem
        if name in table:
            raise ValueError(f"two models would be served as {name!r}: {table[name]} and {path}")
        table[name] = path
    return table


class ModelStore:
    """Name -> :class:`Colorizer`, built from ready colorizers or checkpoint files (loaded on first use).

    Thread-safe: concurrent first requests for one model load it exactly once. Only names given
    here can be looked up, so no request can make the server open a file of its choosing.
    The first entry is the default unless ``default`` names another.
    """

    def __init__(self, models: Mapping[str, Any], default: str | None = None, backend: str = "auto"):
        if not models:
            raise ValueError("a server needs at least one model")
        self._entries: dict[str, Any] = {}
        for name, value in models.items():
            self._entries[str(name)] = Path(value) if isinstance(value, (str, os.PathLike)) else value
        self._locks = {name: threading.Lock() for name in self._entries}
        self.backend = backend
        self.default = default if default is not None else next(iter(self._entries))
        if self.default not in self._entries:
            raise ValueError(f"default model {self.default!r} is not among {list(self._entries)}")

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def is_loaded(self, name: str) -> bool:
        return not isinstance(self._entries[name], Path)

    def get(self, name: str | None = None) -> Colorizer:
        """The colorizer called ``name`` (default model for None); loads it on first use."""
        name = self.default if name in (None, "") else name
        if name not in self._entries:
            raise UnknownModel(f"unknown model {name!r}; available: {', '.join(self._entries)}")
        entry = self._entries[name]
        if not isinstance(entry, Path):
            return entry
        with self._locks[name]:
            entry = self._entries[name]
            if isinstance(entry, Path):
                entry = Colorizer.from_pretrained(entry, backend=self.backend, name=name)
                self._entries[name] = entry
        return entry

    def takes_hints(self, name: str) -> bool:
        """Whether model ``name`` takes colour hints (read from its file's header if it is not loaded yet)."""
        entry = self._entries[name]
        if isinstance(entry, Path):
            try:
                return "hints" in readout_from_header(weights_header(entry)).inputs
            except (OSError, ValueError):
                return False
        return bool(getattr(entry, "takes_hints", False))

    def describe(self) -> list[dict[str, Any]]:
        """JSON-able summary of each model; architecture details only for models already loaded."""
        out = []
        for name, entry in self._entries.items():
            item: dict[str, Any] = {"name": name, "default": name == self.default, "loaded": self.is_loaded(name),
                                    "hints": self.takes_hints(name)}
            info = getattr(entry, "info", None)
            if info is not None:
                item.update(arch=info.name, target=info.target, render_size=getattr(entry, "render_size", None))
            out.append(item)
        return out
