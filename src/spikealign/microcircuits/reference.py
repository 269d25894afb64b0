"""Reference engine: one step of the microcircuit network in plain numpy (reference §3.2).

Every step ``t``:

1. **Spikes.** Each neuron draws ``x ~ U(0, 1)`` (draw order, see :mod:`.drive`) and spikes if
   ``x < r(u)`` with ``r(u) = 1 / (1 + t_ref exp(-u))`` (potential of the previous step) and
   its last spike is at least ``t_ref`` steps ago.
2. **Potentials** from the PSPs of the spikes up to and including ``t``: input
   ``u = u_in``; hidden layers bottom-up (pyramids, then interneurons); output last. The
   moving averages of ``u`` and ``v_bas`` (hidden and output pyramids) move; the output's
   nudging uses the average *before* this step's move.
3. **Forward plasticity** (after the lag, if on):
   ``W_up += lr_up (phi(mean u) - phi(mean v_bas + b)) s_pre(t-1)``, ``phi = r``, where
   ``s_pre(t-1) = 1`` if the presynaptic neuron spiked at ``t - 1``. Then copy-backprop
   (``W_down <- W_up(l+1)^T``) and the self-predicting state (``W_ip <- W_up(l+1)``,
   ``W_pi <- -W_down``) if those are on.
4. **SAL** (if on), hidden neuron ``i`` post, next-layer neuron ``k`` pre: if ``i`` spikes at
   ``t``, ``T[i, k] = sum_s K(t - s_k) / n_last``; if ``k`` spikes at ``t``,
   ``T[i, k] += sum_s K(s_i - t) / n_last`` (the paper assigns instead: ``sal_overwrite``);
   ``W_down += lr_down T``. ``K`` is the core SAL window (``K(0) = 0``).
5. The recorder adds the step; ``t`` advances.

Written for reading, not speed (tens of microseconds per step). The compiled engine
(:mod:`.fast`) performs the same floating-point operations in the same order.
"""

from __future__ import annotations

import numpy as np

from ..neuron import spike_probability_py
from ..stdp import window_value_py
from .drive import Drive, PatternOutcome
from .network import Network
from .recording import Recorder, SpikeLog


def matvec(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``W @ x`` summed over the columns in order (the compiled engine's order)."""
    out = np.zeros(W.shape[0])
    for j in range(W.shape[1]):
        out += W[:, j] * x[j]
    return out


def rates(u: np.ndarray, log_t_ref: float) -> np.ndarray:
    """Spike probability of each potential (the paper's ``logistic(u - ln t_ref)``)."""
    return np.array([spike_probability_py(float(v), log_t_ref) for v in u])


def psp_values(net: Network) -> np.ndarray:
    """PSP of every neuron at the current step: ``sum_s kappa(t - s)`` over its last spikes."""
    table = net.params.psp_table
    age = net.t - net.last
    inside = (age >= 0) & (age < len(table))
    return np.where(inside, table[np.clip(age, 0, len(table) - 1)], 0.0).sum(axis=1)


def _move_averages(
    net: Network, ids: slice, u: np.ndarray, v_bas: np.ndarray, filling: bool, count: int, slot: int
):
    """The paper's MovingAverage.move for the neurons ``ids``."""
    for avg, stack, new in ((net.ma_u, net.ma_u_stack, u), (net.ma_vb, net.ma_vb_stack, v_bas)):
        old = avg[ids] if filling else stack[slot, ids]
        avg[ids] += (new - old) / count
        stack[slot, ids] = new


def spike_phase(net: Network, rng: np.random.Generator, counts: np.ndarray, spikes: list):
    p, t = net.params, net.t
    for _kind, _layer, ids in net.layout.populations():
        x = rng.random(ids.stop - ids.start)
        fire = (x < rates(net.u[ids], p.log_t_ref)) & (net.last[ids, -1] <= t - p.t_ref)
        for g in np.flatnonzero(fire) + ids.start:
            net.last[g, :-1] = net.last[g, 1:]
            net.last[g, -1] = t
            counts[g] += 1
            spikes.append(g)


def potential_phase(net: Network, drive: Drive):
    p, lay = net.params, net.layout
    psp = psp_values(net)
    m = p.ma_size
    filling = net.clock[1] < m
    count = int(net.clock[1]) + (1 if filling else 0)
    slot = int(net.clock[2])

    net.u[lay.pyr(0)] = drive.u_in
    for layer in lay.hidden:
        own, inn = lay.pyr(layer), lay.inn(layer)
        v_bas = matvec(net.w_up(layer), psp[lay.pyr(layer - 1)])
        v_api = matvec(net.w_down(layer), psp[lay.pyr(layer + 1)]) + matvec(
            net.w_pi(layer), psp[inn]
        )
        u = net.bias[own] + v_bas + net.lam_api[layer] * v_api
        net.v_bas[own], net.v_api[own], net.u[own] = v_bas, v_api, u
        _move_averages(net, own, u, v_bas, filling, count, slot)
        net.u[inn] = net.bias[inn] + matvec(net.w_ip(layer), psp[own])

    out = lay.pyr(lay.output)
    v_bas = matvec(net.w_up(lay.output), psp[lay.pyr(lay.output - 1)])
    if drive.u_tgt is not None and drive.nudge:
        v_nudge = drive.u_tgt - net.ma_vb[out] - net.bias[out]
        net.v_nudge[out] = v_nudge
        u = net.bias[out] + v_bas + p.lambda_nudge * v_nudge
    else:
        u = net.bias[out] + v_bas
    net.u_tgt[out] = drive.u_tgt if drive.u_tgt is not None else 0.0
    net.v_bas[out], net.u[out] = v_bas, u
    _move_averages(net, out, u, v_bas, filling, count, slot)
    net.clock[1] = count
    net.clock[2] = (slot + 1) % m


def forward_plasticity(net: Network, drive: Drive):
    p, lay, t = net.params, net.layout, net.t
    for layer in range(1, lay.n_layers):
        s_pre = net.last[lay.pyr(layer - 1), -1] == t - 1
        if s_pre.any():
            own = lay.pyr(layer)
            d = rates(net.ma_u[own], p.log_t_ref) - rates(
                net.ma_vb[own] + net.bias[own], p.log_t_ref
            )
            net.w_up(layer)[:, s_pre] += p.lr_up[layer] * d[:, None]
    if drive.copy_bp:
        net.copy_backprop()
    if drive.set_sps:
        net.set_sps()


def sal_plasticity(net: Network):
    p, lay, t = net.params, net.layout, net.t
    window = p.window_args
    for layer in lay.hidden:
        if p.lr_down[layer] == 0.0:
            continue  # adds exactly 0
        post, pre = lay.pyr(layer), lay.pyr(layer + 1)
        post_now = net.last[post, -1] == t
        pre_now = net.last[pre, -1] == t
        T = np.zeros((post.stop - post.start, pre.stop - pre.start))
        if post_now.any():  # causal pairs: pre spikes s before the post spike at t
            row = (
                np.array(
                    [
                        sum(window_value_py(*window, float(t - s)) for s in net.last[k])
                        for k in range(pre.start, pre.stop)
                    ]
                )
                / p.n_last
            )
            T[post_now, :] = row
        if pre_now.any():  # anti-causal pairs: post spikes s before the pre spike at t
            col = (
                np.array(
                    [
                        sum(window_value_py(*window, float(s - t)) for s in net.last[i])
                        for i in range(post.start, post.stop)
                    ]
                )
                / p.n_last
            )
            if p.sal_overwrite:
                T[:, pre_now] = col[:, None]
            else:
                T[:, pre_now] += col[:, None]
        net.w_down(layer)[...] += p.lr_down[layer] * T


def step(
    net: Network,
    drive: Drive,
    rng: np.random.Generator,
    *,
    plastic_up: bool,
    counts: np.ndarray,
    spikes: list,
):
    """One step (module docstring); ``plastic_up``: forward plasticity in this step."""
    spike_phase(net, rng, counts, spikes)
    potential_phase(net, drive)
    if plastic_up:
        forward_plasticity(net, drive)
    if drive.sal:
        sal_plasticity(net)


def run_pattern_reference(
    net: Network,
    drive: Drive,
    rng: np.random.Generator,
    recorder: Recorder | None,
    spikes: SpikeLog | None,
) -> PatternOutcome:
    lay = net.layout
    out = lay.pyr(lay.output)
    counts = np.zeros(lay.n_neurons, np.int64)
    u_out = np.zeros(lay.dims[-1])
    for k in range(drive.n_steps):
        after_lag = k >= drive.lag
        fired: list[int] = []
        step(net, drive, rng, plastic_up=drive.plast_up and after_lag, counts=counts, spikes=fired)
        if spikes is not None and fired:
            spikes.add([net.t] * len(fired), fired)
        if recorder is not None:
            recorder.record(net.values)
        net.clock[0] += 1
        if after_lag:
            u_out += net.u[out]
    return PatternOutcome(u_out / (drive.n_steps - drive.lag), counts)
