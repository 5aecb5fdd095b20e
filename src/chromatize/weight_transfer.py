"""Starting a network from another one's checkpoint (``init_from`` in a training config).

The checkpoint file is read by :mod:`chromatize.checkpoint`; this module decides which stored tensors may go
into which network, and how a tensor grows when the new network takes more input channels.
"""

from __future__ import annotations

import os

import torch

from chromatize.checkpoint import read_checkpoint


def grow_input_channels(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """``value`` widened to ``target``'s shape along dim 1 (input channels), the new channels 0; ``None``
    when it cannot be: another rank, fewer than 2 dims, another size elsewhere, or more channels than ``target``.

    A conv weight ``[out, in, kh, kw]`` stored for ``in`` channels fills the first ``in`` of ``target``'s.
    """
    if value.ndim != target.ndim or value.ndim < 2 or value.shape[:1] + value.shape[2:] != target.shape[:1] + target.shape[2:] \
            or value.shape[1] > target.shape[1]:
        return None
    wide = torch.zeros_like(target)
    wide[:, : value.shape[1]] = value
    return wide


def init_from_checkpoint(model: torch.nn.Module, checkpoint: str | os.PathLike) -> list[str]:
    """Load the colorizer weights of ``checkpoint`` into ``model``; returns the names of grown tensors.

    Same registered architecture: a plain load. A different one is accepted only when it has the same
    tensors and each differs at most by more input channels here (a model given an extra input, such as
    ``mobilenet_unet`` -> ``mobilenet_unet_hints``): the stored weights fill the first channels and the
    new ones start at 0, so the new model starts as exactly the old one. ValueError otherwise.
    """
    ckpt = read_checkpoint(checkpoint)
    mine, theirs = model.chromatize_info.to_dict(), ckpt["arch"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model_state"].items()}
    if (mine["name"], mine["kwargs"]) == (theirs["name"], theirs["kwargs"]):
        model.load_state_dict(state)
        return []
    own = model.state_dict()
    refuse = ValueError(f"init_from {checkpoint}: it holds {theirs['name']} {theirs['kwargs']}, this run builds "
                        f"{mine['name']} {mine['kwargs']}, and its tensors do not match (beyond added input channels)")
    if set(own) != set(state):
        raise refuse
    grown = []
    for key, value in state.items():
        if value.shape == own[key].shape:
            continue
        wide = grow_input_channels(value, own[key])
        if wide is None:
            raise refuse
        state[key] = wide
        grown.append(key)
    model.load_state_dict(state)
    return grown
