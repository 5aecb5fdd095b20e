"""Classic scribble propagation, the baseline a learned hint model must beat.

:func:`levin_fill` is Levin, Lischinski and Weiss (2004), "Colorization using Optimization": neighbouring
pixels of similar intensity should get similar colours. Every pixel's chroma is the weighted mean of its 3x3
neighbours', weights ``exp(-(Y_r - Y_s)^2 / (2 sigma_r^2))`` from the gray levels (``sigma_r^2`` the local
variance in the window, floored as in the authors' code), and hinted pixels keep their hint; the resulting
sparse linear system is solved once per image with SciPy (one factorisation, both chroma channels).
"""

from __future__ import annotations

import numpy as np


def levin_fill(gray: np.ndarray, ab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``gray [H,W]`` in [0,1] (luminance), ``ab [H,W,2]`` (any units; read where ``mask [H,W]`` is true) ->
    the propagated ``ab [H,W,2]`` (float64), equal to ``ab`` on the mask. Without any hint: zeros."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import factorized

    H, W = gray.shape
    n = H * W
    if not mask.any():
        return np.zeros((H, W, 2))
    Y = np.pad(gray.astype(np.float64), 1, mode="edge")
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    window = np.stack([Y[1 + dy : 1 + dy + H, 1 + dx : 1 + dx + W] for dy, dx in shifts])  # [9,H,W], centre included
    centre = gray.astype(np.float64)
    neighbours = [(k, s) for k, s in enumerate(shifts) if s != (0, 0)]
    diff2 = np.stack([(window[k] - centre) ** 2 for k, _ in neighbours])  # [8,H,W]
    sigma2 = window.var(axis=0) * 0.6
    sigma2 = np.maximum(sigma2, diff2.min(axis=0) / np.log(100.0))
    sigma2 = np.maximum(sigma2, 2e-6)
    weights = np.exp(-diff2 / sigma2)
    rows_y, rows_x = np.mgrid[0:H, 0:W]
    inside = []
    for (_, (dy, dx)), w in zip(neighbours, weights):
        ny, nx = rows_y + dy, rows_x + dx
        ok = (ny >= 0) & (ny < H) & (nx >= 0) & (nx < W)
        inside.append((ok, ny, nx, np.where(ok, w, 0.0)))
    total = np.sum([w for *_, w in inside], axis=0)
    total[total == 0] = 1.0
    free = ~mask.ravel()
    index = np.arange(n).reshape(H, W)
    r, c, v = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    for ok, ny, nx, w in inside:
        keep = ok.ravel() & free
        r.append(index.ravel()[keep])
        c.append(index[ny.clip(0, H - 1), nx.clip(0, W - 1)].ravel()[keep])
        v.append(-(w / total).ravel()[keep])
    A = sp.csc_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n, n))
    solve = factorized(A)
    out = np.empty((H, W, 2))
    for ch in range(2):
        b = np.where(mask, ab[..., ch], 0.0).ravel()
        out[..., ch] = solve(b).reshape(H, W)
    return out
