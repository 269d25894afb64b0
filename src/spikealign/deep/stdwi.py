"""STDWI: spike-timing-dependent weight inference (Ahmad et al. 2021), as used by upstream's
figure 7 notebook (``symmnet.stdwi_original`` + ``scatter_stdwi_rdd_sal.ipynb``).

Network (times in ms, step ``dt``): stimulus Poisson trains (rate ``stim_rate`` per ms) on a
random ``stim_ratio`` of the ``n_in`` units, re-chosen every ``stim_period`` ms -> input LIF
neurons (weights ``stim_weight * I``) -> output LIF neurons (weights ``weight_scale * W``).
Synaptic input is the double-exponential XPSP of the presynaptic spikes,

    xpsp(t) = sum_{k < 7 tau_slow/dt} (e^{-k dt/tau_slow} - e^{-k dt/tau_fast})
              / (tau_slow - tau_fast) s(t - k),   tau_slow = 10, tau_fast = 3,

kept exactly by two truncated recursive traces. LIF (forward Euler, ``tau = 20``):
``v += dt/tau ((0 - v) + (I(t-1) - v))``; spike at ``v >= 1``, reset to -1.

STDWI rule per step, for the estimate ``B`` of ``W`` (shape (n_out, n_in)):

    B += lr (post(t) (x) (x_fast(t) - x_slow(t)) - d * B * post(t)[:, None])

with all-to-all input traces ``x_fast`` (tau 10, amplitude 1) and ``x_slow`` (tau 200,
amplitude 10/200), ``lr = 0.02``, ``d = 0.1``. The whole loop runs compiled (numba); the
stimulus is drawn per period from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .align import angle, corrcoef


@dataclass(frozen=True)
class STDWIParams:
    dt: float = 0.25
    stim_ratio: float = 0.2
    stim_rate: float = 0.2
    stim_period: float = 100.0
    stim_weight: float = 10.0
    weight_scale: float = 75.0
    tau_lif: float = 20.0
    xpsp_slow: float = 10.0
    xpsp_fast: float = 3.0
    tau_fast: float = 10.0
    tau_slow: float = 200.0
    lr: float = 0.02
    decay_weighting: float = 0.1


@njit(cache=True)
def _xpsp_step(s, slow, fast, ring, ptr, ds, df, dsW, dfW):  # pragma: no cover - compiled
    n = s.shape[0]
    for i in range(n):
        old = ring[i, ptr]
        slow[i] = ds * slow[i] + s[i] - dsW * old
        fast[i] = df * fast[i] + s[i] - dfW * old
        ring[i, ptr] = s[i]


@njit(cache=True)
def _lif_step(v, current, k, spikes):  # pragma: no cover - compiled
    for i in range(v.shape[0]):
        v[i] += k * ((0.0 - v[i]) + (current[i] - v[i]))
        if v[i] >= 1.0:
            v[i] = -1.0
            spikes[i] = 1.0
        else:
            spikes[i] = 0.0


@njit(cache=True)
def _run_period(stim, W_out, B, state, rings, ptr, consts):  # pragma: no cover - compiled
    (ds, df, dsW, dfW, norm, k_lif, stim_w, dec_f, dec_s, a_f, a_s, lr, d) = consts
    v_in, v_out, cur_in, cur_out, st_s, st_f, in_s, in_f, x_f, x_s, s_in, s_out = state
    ring_stim, ring_in = rings
    n_in = v_in.shape[0]
    n_out = v_out.shape[0]
    W = ring_stim.shape[1]
    for t in range(stim.shape[0]):
        # LIF neurons integrate the currents of the previous step
        _lif_step(v_in, cur_in, k_lif, s_in)
        _lif_step(v_out, cur_out, k_lif, s_out)
        # stimulus and input XPSPs -> next step's currents
        _xpsp_step(stim[t], st_s, st_f, ring_stim, ptr, ds, df, dsW, dfW)
        _xpsp_step(s_in, in_s, in_f, ring_in, ptr, ds, df, dsW, dfW)
        for i in range(n_in):
            cur_in[i] = stim_w * (st_s[i] - st_f[i]) * norm
        for o in range(n_out):
            acc = 0.0
            for i in range(n_in):
                acc += W_out[o, i] * (in_s[i] - in_f[i])
            cur_out[o] = acc * norm
        ptr = (ptr + 1) % W
        # STDWI traces of the input spikes and the update
        for i in range(n_in):
            x_f[i] = dec_f * x_f[i] + a_f * s_in[i]
            x_s[i] = dec_s * x_s[i] + a_s * s_in[i]
        for o in range(n_out):
            if s_out[o] > 0.0:
                for i in range(n_in):
                    B[o, i] += lr * ((x_f[i] - x_s[i]) - d * B[o, i])
    return ptr


def stdwi(
    W,
    B0,
    duration_ms: float,
    rng: np.random.Generator,
    params: STDWIParams | None = None,
    log_every_ms: float | None = None,
):
    """Infer ``W`` (n_out, n_in) with STDWI from the initial guess ``B0`` (same shape).

    Returns ``(B, times_s, angles, corrs)``: the final estimate and, every stimulus period
    (or ``log_every_ms``), the time in s and the angle / correlation between ``W`` and ``B``.
    """
    p = params or STDWIParams()
    W = np.asarray(W, dtype=float)
    B = np.array(B0, dtype=float)
    if W.shape != B.shape:
        raise ValueError(f"stdwi: W and B0 must have the same shape ({W.shape} vs {B.shape})")
    n_out, n_in = W.shape
    dt = p.dt
    steps_per_period = int(round(p.stim_period / dt))
    n_periods = int(duration_ms // p.stim_period)
    log_every = max(1, int(round((log_every_ms or p.stim_period) / p.stim_period)))
    window = int(7 * (p.xpsp_slow / dt))
    ds, df = math.exp(-dt / p.xpsp_slow), math.exp(-dt / p.xpsp_fast)
    consts = (
        ds,
        df,
        ds**window,
        df**window,
        1.0 / (p.xpsp_slow - p.xpsp_fast),
        dt / p.tau_lif,
        p.stim_weight,
        math.exp(-dt / p.tau_fast),
        math.exp(-dt / p.tau_slow),
        1.0,
        p.tau_fast / p.tau_slow,
        p.lr,
        p.decay_weighting,
    )
    z = np.zeros
    state = (
        z(n_in),
        z(n_out),
        z(n_in),
        z(n_out),
        z(n_in),
        z(n_in),
        z(n_in),
        z(n_in),
        z(n_in),
        z(n_in),
        z(n_in),
        z(n_out),
    )
    rings = (z((n_in, window)), z((n_in, window)))
    W_out = p.weight_scale * W
    n_active = int(p.stim_ratio * n_in)
    p_spike = p.stim_rate * dt
    ptr = 0
    times, angles, corrs = [0.0], [angle(W, B)], [corrcoef(W, B)]
    for k in range(n_periods):
        active = np.zeros(n_in, dtype=bool)
        active[rng.choice(n_in, n_active, replace=False)] = True
        stim = ((rng.random((steps_per_period, n_in)) < p_spike) & active).astype(float)
        ptr = _run_period(stim, W_out, B, state, rings, ptr, consts)
        if (k + 1) % log_every == 0 or k == n_periods - 1:
            times.append((k + 1) * p.stim_period / 1000.0)
            angles.append(angle(W, B))
            corrs.append(corrcoef(W, B))
    return B, np.array(times), np.array(angles), np.array(corrs)
