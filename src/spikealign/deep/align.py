"""Alignment between forward weights ``W`` and feedback weights ``B`` of the same shape.

All four measures compare the flattened matrices (upstream ``symmnet.utils``), computed in
float64 from numpy arrays or torch tensors:

* angle  = arccos(<W, B> / (|W| |B|)) in degrees (0: aligned, 90: orthogonal);
* corr   = Pearson correlation of the entries;
* sign   = mean(sign W * sign B) (1: all signs agree, 0: chance);
* var    = unbiased variance of W - B.
"""

from __future__ import annotations

import math

import numpy as np


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).ravel()


def angle(w, b) -> float:
    """Angle between ``W`` and ``B`` in degrees."""
    w, b = _np(w), _np(b)
    if w.shape != b.shape:
        raise ValueError(f"W and B must have the same shape ({w.shape} vs {b.shape})")
    nw, nb = np.linalg.norm(w), np.linalg.norm(b)
    if nw == 0 or nb == 0:
        return float("nan")
    c = float(np.dot(w, b) / (nw * nb))
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def corrcoef(w, b) -> float:
    """Pearson correlation of the entries of ``W`` and ``B``."""
    w, b = _np(w), _np(b)
    w = w - w.mean()
    b = b - b.mean()
    den = np.linalg.norm(w) * np.linalg.norm(b)
    return float(np.dot(w, b) / den) if den > 0 else float("nan")


def sign_agreement(w, b) -> float:
    """``mean(sign W * sign B)``."""
    return float(np.mean(np.sign(_np(w)) * np.sign(_np(b))))


def asym_var(w, b) -> float:
    """Unbiased variance of ``W - B``."""
    d = _np(w) - _np(b)
    return float(np.var(d, ddof=1)) if d.size > 1 else float("nan")


def alignment(w, b) -> dict[str, float]:
    """All four measures as a dict ``{angle, corr, sign, var}``."""
    return {
        "angle": angle(w, b),
        "corr": corrcoef(w, b),
        "sign": sign_agreement(w, b),
        "var": asym_var(w, b),
    }
