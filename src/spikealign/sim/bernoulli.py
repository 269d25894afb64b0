"""Independent check simulator: the paper's per-step uniform scheme, written from scratch.

The engines of :mod:`spikealign.sim` spike by time rescaling (an accumulated hazard against an
``Exp(1)`` threshold, :mod:`spikealign.neuron`). This module simulates the same SSN model the
way the paper's code does (``reference-model`` 2.1), with its own code for every part of the
law, so that the engines can be tested against it statistically. It shares nothing with them
(no hazard, no threshold, no PSP table): potentials are recomputed every step from the spike
history.

Every step ``t = 0, 1, ..., n_steps - 1``, for every run and neuron:

1. PSP of neuron ``j``: the number of its ``n_last_psp`` most recent spikes ``s < t`` with
   ``1 <= t - s < tau_syn`` (rect kernel; a spike acts from the next step on, so a PSP lasts
   ``tau_syn - 1`` steps, as ``SimParams`` documents).
2. Potential ``u_i = b_i + sum_j W[i, j] PSP_j`` (``W[post, pre]``, diagonal included).
3. Spike probability ``p_i = 1 / (1 + t_ref exp(-u_i))``.
4. One uniform number ``x_i`` in ``[0, 1)`` per neuron (also for refractory ones); neuron ``i``
   spikes if ``x_i < p_i`` and ``t - (its last spike) >= min_isi`` (default ``t_ref + 1``, the
   SSN convention: a neuron that spiked at ``s`` is silent through ``s + t_ref``).
5. All probabilities are computed before any spike is stored, so spikes of one step do not act
   on each other.

Runs are independent simulations from rest (no spikes before ``t = 0``), simulated side by
side with numpy; the uniform numbers of a step are drawn as one ``(n_runs, N)`` array.
"""

from __future__ import annotations

import numpy as np

#: spike time standing for "no spike yet": older than any PSP or refractory period
_NEVER = -(2**40)


def bernoulli_raster(
    W,
    b,
    n_steps: int,
    t_ref: int,
    tau_syn: float,
    rng: np.random.Generator,
    *,
    n_runs: int = 1,
    min_isi: int | None = None,
    n_last_psp: int = 10,
) -> np.ndarray:
    """Spike raster ``(n_runs, n_steps, N)`` (bool) of independent runs from rest (module
    docstring). ``min_isi`` defaults to ``t_ref + 1``."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = b.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be ({n}, {n}) for {n} biases (got {W.shape})")
    if int(t_ref) != t_ref or t_ref < 1:
        raise ValueError(f"t_ref must be an integer >= 1 (got {t_ref})")
    if min_isi is None:
        min_isi = int(t_ref) + 1
    if min_isi < 1 or n_last_psp < 1 or n_runs < 1 or n_steps < 0:
        raise ValueError("min_isi, n_last_psp and n_runs must be >= 1, n_steps >= 0")

    # last[r, j, k]: the k-th most recent spike of neuron j in run r, oldest first (k = -1 is
    # the newest); _NEVER where there is none
    last = np.full((n_runs, n, n_last_psp), _NEVER, dtype=np.int64)
    raster = np.zeros((n_runs, n_steps, n), dtype=bool)
    for t in range(n_steps):
        age = t - last
        psp = ((age >= 1) & (age < tau_syn)).sum(axis=2)  # (n_runs, n)
        u = b[None, :] + psp @ W.T  # u[r, i] = b_i + sum_j W[i, j] psp[r, j]
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + t_ref * np.exp(-u))  # exp overflow -> p = 0
        x = rng.random((n_runs, n))
        free = (t - last[:, :, -1]) >= min_isi
        spike = (x < p) & free
        raster[:, t, :] = spike
        # push t as the newest spike of every neuron that spiked
        last[spike] = np.concatenate(
            [last[spike][:, 1:], np.full((int(spike.sum()), 1), t, dtype=np.int64)], axis=1
        )
    return raster


def simulate_bernoulli(
    W,
    b,
    n_steps: int,
    t_ref: int,
    tau_syn: float,
    rng: np.random.Generator,
    *,
    min_isi: int | None = None,
    n_last_psp: int = 10,
) -> np.ndarray:
    """One run as a spike record ``(time, neuron)``, sorted by time, then neuron id."""
    raster = bernoulli_raster(
        W, b, n_steps, t_ref, tau_syn, rng, min_isi=min_isi, n_last_psp=n_last_psp
    )
    return raster_to_record(raster[0])


def raster_to_record(raster) -> np.ndarray:
    """``(n_steps, N)`` bool raster of one run -> ``(time, neuron)`` rows in record order."""
    t, i = np.nonzero(np.asarray(raster, dtype=bool))  # row-major: time, then neuron
    return np.stack([t, i], axis=1).astype(np.int64)


def raster_states(raster, t_on: int, times) -> np.ndarray:
    """Binary states ``(..., len(times), N)`` of rasters ``(..., n_steps, N)``: neuron ``i`` is
    on at ``T`` if it spiked at some ``s`` with ``T - t_on <= s <= T - 1`` (i.e.
    ``s < T <= s + t_on``, the neural-sampling convention of ``spikealign.spikes``)."""
    r = np.asarray(raster, dtype=np.int64)
    n_steps = r.shape[-2]
    times = np.asarray(times, dtype=np.int64)
    if np.any(times < 0) or np.any(times > n_steps):
        raise ValueError(f"read-out times must lie in [0, {n_steps}]")
    zero = np.zeros(r.shape[:-2] + (1, r.shape[-1]), dtype=np.int64)
    cum = np.concatenate([zero, np.cumsum(r, axis=-2)], axis=-2)  # cum[k] = spikes in [0, k)
    lo = np.maximum(times - t_on, 0)
    return (cum[..., times, :] - cum[..., lo, :] > 0).astype(np.uint8)
