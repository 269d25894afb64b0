"""How well feedback weights match the forward weights they stand in for.

For hidden layer ``l`` the feedback matrix ``B = W_down(l)`` (shape ``(n_l, n_{l+1})``) is
compared with ``W_up(l+1)^T``:

    cos = <B, W^T> / (|B| |W|),   angle = arccos(cos) in degrees

over the flattened matrices (1 / 0 degrees: aligned, 0 / 90: unrelated, -1 / 180: opposite);
NaN where either matrix is zero.
"""

from __future__ import annotations

import numpy as np


def cosine_rows(a, b) -> np.ndarray:
    """Cosine between matching rows of two ``(..., m)`` arrays (NaN where either is zero)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    norm = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.sum(a * b, axis=-1) / norm, np.nan)


def degrees(cos) -> np.ndarray:
    """``arccos`` in degrees, robust to rounding just outside [-1, 1]."""
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def feedback_cosine(weights: dict, layer: int = 1) -> float:
    """Cosine between ``W_down(layer)`` and ``W_up(layer + 1)^T`` of a weight dict with keys
    ``"{layer}.w_down"`` and ``"{layer + 1}.w_up"`` (arrays or nested lists)."""
    b = np.asarray(weights[f"{layer}.w_down"], float).ravel()
    w = np.asarray(weights[f"{layer + 1}.w_up"], float).T.ravel()
    return float(cosine_rows(b, w))


def feedback_angle(weights: dict, layer: int = 1) -> float:
    """:func:`feedback_cosine` as an angle in degrees."""
    return float(degrees(feedback_cosine(weights, layer)))
