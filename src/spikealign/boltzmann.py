"""Boltzmann-machine utilities over binary states ``z in {0, 1}^N``.

State order: all 2^N states as binary numbers with **neuron 0 as the most significant bit**, so
state index ``k`` has ``z_i = (k >> (N - 1 - i)) & 1`` (the order of ``itertools.product``).

Distribution: ``p(z) = exp(-E(z)) / Z`` with energy ``E(z) = -1/2 z^T W z - b^T z``. The
quadratic form uses ``W`` as given: an asymmetric ``W`` acts through ``(W + W^T) / 2`` and a
diagonal entry ``W_ii`` adds ``W_ii / 2`` to the bias of neuron ``i``. Targets have a zero
diagonal.

KL divergence and unvisited states
----------------------------------
``D_KL(p || q) = sum_k p_k ln(p_k / q_k)`` over states with ``p_k > 0``. A state the sampler never
visited (``q_k = 0`` while ``p_k > 0``) makes it infinite; :func:`kl_divergence` returns ``inf``
then (the paper's convention) unless a ``pseudocount`` is given, in which case ``q`` is taken
from ``counts + pseudocount`` (additive smoothing; needs counts, see
:func:`kl_from_counts`).
"""

from __future__ import annotations

import numpy as np

#: largest N enumerated by default (2^20 states)
MAX_EXACT_DIM = 20


def all_states(n: int) -> np.ndarray:
    """``(2^n, n)`` array of all binary states in the module's order (neuron 0 = MSB)."""
    if n < 1:
        raise ValueError(f"number of neurons must be >= 1 (got {n})")
    k = np.arange(2**n, dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    return ((k[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def state_index(states) -> np.ndarray:
    """Index of each state (rows of a ``(..., n)`` binary array) in the module's order."""
    z = np.asarray(states, dtype=np.int64)
    n = z.shape[-1]
    weights = 1 << np.arange(n - 1, -1, -1, dtype=np.int64)
    return z @ weights


def _check_dim(n: int, max_dim: int):
    if n > max_dim:
        raise ValueError(
            f"exact enumeration of {n} neurons needs 2^{n} states; allowed: dim <= {max_dim}"
        )


def log_unnormalised(W, b, states=None) -> np.ndarray:
    """``-E(z) = 1/2 z^T W z + b^T z`` for all states (or the given ones)."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    z = all_states(len(b)) if states is None else np.asarray(states)
    z = z.astype(float)
    return 0.5 * np.einsum("ki,ij,kj->k", z, W, z) + z @ b


def exact_distribution(W, b, *, max_dim: int = MAX_EXACT_DIM):
    """Exact Boltzmann distribution ``p(z) ∝ exp(1/2 z^T W z + b^T z)``.

    Returns ``(probs, states)``: ``probs`` has shape ``(2^N,)`` and ``states`` ``(2^N, N)``, in
    the module's state order (neuron 0 most significant).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = b.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be ({n}, {n}) for {n} biases (got {W.shape})")
    _check_dim(n, max_dim)
    states = all_states(n)
    logp = log_unnormalised(W, b, states)
    logp -= logp.max()
    p = np.exp(logp)
    return p / p.sum(), states


def moments(probs, states):
    """``(marginals, C)`` with ``marginals_i = P(z_i = 1)`` and ``C = E[z z^T]``.

    ``C`` has the marginals on its diagonal; off-diagonal entries are coactivations
    ``P(z_i = z_j = 1)``.
    """
    z = np.asarray(states, dtype=float)
    p = np.asarray(probs, dtype=float)
    C = (z * p[:, None]).T @ z
    return np.diag(C).copy(), C


def empirical_distribution(counts_or_states, n: int | None = None) -> np.ndarray:
    """Normalised histogram over the 2^n states.

    Accepts either a ``(2^n,)`` count vector or an ``(m, n)`` array of sampled binary states.
    """
    a = np.asarray(counts_or_states)
    if a.ndim == 2:
        n = a.shape[1]
        counts = np.bincount(state_index(a), minlength=2**n).astype(float)
    else:
        counts = a.astype(float)
    total = counts.sum()
    if total <= 0:
        raise ValueError("empirical distribution of zero samples")
    return counts / total


def kl_divergence(p, q) -> float:
    """``D_KL(p || q)``; ``inf`` if ``q`` vanishes where ``p`` does not (module docstring)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"distributions differ in shape: {p.shape} vs {q.shape}")
    mask = p > 0
    if np.any(q[mask] <= 0):
        return float("inf")
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def kl_from_counts(p, counts, *, pseudocount: float = 0.0) -> float:
    """``D_KL(p || q)`` with ``q`` from sample counts plus an additive ``pseudocount``.

    ``pseudocount = 0`` reproduces :func:`kl_divergence` (``inf`` for unvisited states);
    ``pseudocount = 0.5`` is the Krichevsky-Trofimov estimate.
    """
    c = np.asarray(counts, dtype=float) + pseudocount
    return kl_divergence(p, c / c.sum())


def copy_triu(A) -> np.ndarray:
    """Symmetric matrix from the strict upper triangle of ``A``, zero diagonal."""
    A = np.asarray(A, dtype=float)
    U = np.triu(A, k=1)
    return U + U.T


def asymmetry(W) -> float:
    """Weight asymmetry: population variance of the strict upper triangle of ``W - W^T``."""
    W = np.asarray(W, dtype=float)
    D = W - W.T
    return float(np.var(D[np.triu_indices(W.shape[0], k=1)]))
