"""Which torch device a name means here: the one place that checks what this install can run on."""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA, then Apple MPS, then CPU) or a torch device name -> a device that exists here.

    Raises ``ValueError`` with one line for a malformed name or a device this install cannot use.
    """
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {str(name)!r} (use cpu, cuda, cuda:N, mps or auto)") from e
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available, "mps": _mps_available}
    if device.type not in available:
        raise ValueError(f"device {str(name)!r} is not supported here (use cpu, cuda, cuda:N, mps or auto)")
    if not available[device.type]():
        raise ValueError(f"device {str(name)!r} requested but {device.type.upper()} is not available in this "
                         "install of PyTorch (use device cpu or auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(name)!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device
