"""Compiled engine (numba): the reference step (:mod:`.reference`) as one loop over steps.

Same floating-point operations in the same order, and the same random numbers: the uniforms of
a chunk of steps are drawn up front with one ``rng.random(n_steps * n_neurons)`` call, which
yields exactly the stream of the reference's per-population draws. Work is skipped only where
it provably changes nothing: spike probabilities of refractory neurons or of an unchanged
potential, forward-plasticity factors in steps without a presynaptic spike at ``t - 1``, SAL
with a zero rate, and the feedback copies of entries whose forward weight did not change since
the last copy (the first plastic step of every call, and the first after a SAL change, copies
everything).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..neuron import spike_probability_jit
from ..stdp import window_value
from .drive import Drive, PatternOutcome
from .network import Network
from .recording import Recorder, SpikeLog

#: uniform numbers drawn per chunk at most (a pattern is split into chunks of steps)
CHUNK_DRAWS = 1 << 20


@njit(cache=True, inline="always", error_model="numpy")
def _moving_averages(g, uu, vb, filling, slot, cnt, ma_u, ma_vb, ma_u_stack, ma_vb_stack):
    """Running means of ``u`` and ``v_bas`` of neuron ``g`` over the last ``m_avg`` steps: while
    the window fills, a cumulative mean; then the value leaving slot ``slot`` is swapped for the
    new one (same operations in the same order as the reference engine)."""
    if filling:
        ma_u[g] += (uu - ma_u[g]) / cnt
        ma_vb[g] += (vb - ma_vb[g]) / cnt
    else:
        ma_u[g] += (uu - ma_u_stack[slot, g]) / cnt
        ma_vb[g] += (vb - ma_vb_stack[slot, g]) / cnt
    ma_u_stack[slot, g] = uu
    ma_vb_stack[slot, g] = vb


@njit(cache=True, error_model="numpy")
def _run_steps(
    k0,
    n_steps,
    lag,
    plast_up,
    sal_on,
    copy_bp,
    set_sps,
    has_tgt,
    nudge,
    u_in,
    u_tgt,
    dims,
    pyr_start,
    inn_start,
    w_up_start,
    fb_start,
    t_ref,
    log_t_ref,
    table,
    lam_nudge,
    lr_up,
    lr_down,
    win_code,
    a_plus,
    a_minus,
    tau_plus,
    tau_minus,
    sal_overwrite,
    clock,
    last,
    u,
    v_bas,
    v_api,
    v_nudge,
    u_tgt_s,
    bias,
    ma_u,
    ma_vb,
    ma_u_stack,
    ma_vb_stack,
    w_up,
    w_down,
    w_pi,
    w_ip,
    lam_api,
    uni,
    u_out_sum,
    counts,
    psp,
    dvec,
    r_of,
    r_val,
    values,
    rec_index,
    rec_buf,
    rec_out,
    rec_block,
    rec_count,
    spk_t,
    spk_g,
    spk_n,
    spk_on,
):  # pragma: no cover - compiled
    n_layers = dims.shape[0]
    n = u.shape[0]
    n_last = last.shape[1]
    newest = n_last - 1
    n_taps = table.shape[0]
    m_avg = ma_u_stack.shape[0]
    out_l = n_layers - 1
    out0 = pyr_start[out_l]
    n_out = dims[out_l]
    n_rec = rec_index.shape[0]
    sync = True  # copy feedback / self-predicting weights at the next plastic step
    rec_row = rec_count[0] // rec_block  # block being filled
    rec_left = rec_block - rec_count[0] % rec_block  # steps until it is complete
    for kk in range(n_steps):
        k = k0 + kk
        t = clock[0]
        # -- 1. spikes ------------------------------------------------------------------------
        base = kk * n
        for g in range(n):
            if last[g, newest] <= t - t_ref:
                if u[g] != r_of[g]:  # most potentials repeat: reuse r(u)
                    r_of[g] = u[g]
                    r_val[g] = spike_probability_jit(u[g], log_t_ref)
                if uni[base + g] < r_val[g]:
                    for s in range(newest):
                        last[g, s] = last[g, s + 1]
                    last[g, newest] = t
                    counts[g] += 1
                    if spk_on:
                        spk_t[spk_n[0]] = t
                        spk_g[spk_n[0]] = g
                        spk_n[0] += 1
        # -- PSPs ---------------------------------------------------------------------------
        for g in range(n):
            acc = 0.0
            for s in range(n_last):
                a = t - last[g, s]
                if a >= 0 and a < n_taps:
                    acc += table[a]
            psp[g] = acc
        # -- 2. potentials --------------------------------------------------------------------
        filling = clock[1] < m_avg
        cnt = clock[1] + 1 if filling else clock[1]
        slot = clock[2]
        for j in range(dims[0]):
            u[pyr_start[0] + j] = u_in[j]
        for layer in range(1, n_layers - 1):
            p0 = pyr_start[layer]
            nl = dims[layer]
            b0 = pyr_start[layer - 1]
            nb = dims[layer - 1]
            a0 = pyr_start[layer + 1]
            na = dims[layer + 1]
            i0 = inn_start[layer]
            wu = w_up_start[layer]
            fb = fb_start[layer]
            lam = lam_api[layer]
            for i in range(nl):
                g = p0 + i
                vb = 0.0
                for j in range(nb):
                    vb += w_up[wu + i * nb + j] * psp[b0 + j]
                vd = 0.0
                for q in range(na):
                    vd += w_down[fb + i * na + q] * psp[a0 + q]
                vp = 0.0
                for q in range(na):
                    vp += w_pi[fb + i * na + q] * psp[i0 + q]
                va = vd + vp
                uu = bias[g] + vb + lam * va
                v_bas[g] = vb
                v_api[g] = va
                u[g] = uu
                _moving_averages(
                    g, uu, vb, filling, slot, cnt, ma_u, ma_vb, ma_u_stack, ma_vb_stack
                )
            for q in range(na):
                acc = 0.0
                for i in range(nl):
                    acc += w_ip[fb + q * nl + i] * psp[p0 + i]
                u[i0 + q] = bias[i0 + q] + acc
        nb = dims[out_l - 1]
        b0 = pyr_start[out_l - 1]
        wu = w_up_start[out_l]
        for i in range(n_out):
            g = out0 + i
            vb = 0.0
            for j in range(nb):
                vb += w_up[wu + i * nb + j] * psp[b0 + j]
            if has_tgt and nudge:
                vn = u_tgt[i] - ma_vb[g] - bias[g]
                v_nudge[g] = vn
                uu = bias[g] + vb + lam_nudge * vn
            else:
                uu = bias[g] + vb
            u_tgt_s[g] = u_tgt[i] if has_tgt else 0.0
            v_bas[g] = vb
            u[g] = uu
            _moving_averages(g, uu, vb, filling, slot, cnt, ma_u, ma_vb, ma_u_stack, ma_vb_stack)
        clock[1] = cnt
        clock[2] = slot + 1 if slot + 1 < m_avg else 0  # (slot + 1) % m_avg
        # -- 3. forward plasticity ------------------------------------------------------------
        if plast_up and k >= lag:
            for layer in range(1, n_layers):
                pre0 = pyr_start[layer - 1]
                npre = dims[layer - 1]
                p0 = pyr_start[layer]
                nl = dims[layer]
                wu = w_up_start[layer]
                have_d = False
                for j in range(npre):
                    if last[pre0 + j, newest] == t - 1:
                        if not have_d:
                            for i in range(nl):
                                g = p0 + i
                                dvec[i] = spike_probability_jit(
                                    ma_u[g], log_t_ref
                                ) - spike_probability_jit(ma_vb[g] + bias[g], log_t_ref)
                            have_d = True
                        for i in range(nl):
                            w_up[wu + i * npre + j] += lr_up[layer] * dvec[i]
                        if layer >= 2 and not sync:
                            # column j of W_up(layer) changed: the copies of hidden layer
                            # layer-1 that read it (row j of W_down, W_pi; column j of W_ip)
                            fb = fb_start[layer - 1]
                            if copy_bp:
                                for q in range(nl):
                                    w_down[fb + j * nl + q] = w_up[wu + q * npre + j]
                            if set_sps:
                                for q in range(nl):
                                    w_ip[fb + q * npre + j] = w_up[wu + q * npre + j]
                                    w_pi[fb + j * nl + q] = -w_down[fb + j * nl + q]
            if sync:  # first plastic step of this call: full copies
                for layer in range(1, n_layers - 1):
                    nl = dims[layer]
                    na = dims[layer + 1]
                    fb = fb_start[layer]
                    wn = w_up_start[layer + 1]  # W_up of the next layer: (na, nl)
                    if copy_bp:
                        for i in range(nl):
                            for q in range(na):
                                w_down[fb + i * na + q] = w_up[wn + q * nl + i]
                    if set_sps:
                        for q in range(na):
                            for i in range(nl):
                                w_ip[fb + q * nl + i] = w_up[wn + q * nl + i]
                        for i in range(nl):
                            for q in range(na):
                                w_pi[fb + i * na + q] = -w_down[fb + i * na + q]
                sync = False
        # -- 4. SAL ---------------------------------------------------------------------------
        if sal_on:
            for layer in range(1, n_layers - 1):
                lr = lr_down[layer]
                if lr == 0.0:
                    continue
                p0 = pyr_start[layer]
                nl = dims[layer]
                a0 = pyr_start[layer + 1]
                na = dims[layer + 1]
                fb = fb_start[layer]
                for i in range(nl):
                    post_now = last[p0 + i, newest] == t
                    for q in range(na):
                        pre_now = last[a0 + q, newest] == t
                        if not (post_now or pre_now):
                            continue
                        val = 0.0
                        if post_now:  # causal: pre spikes before the post spike at t
                            tr_f = 0.0
                            for s in range(n_last):
                                tr_f += window_value(
                                    win_code,
                                    a_plus,
                                    a_minus,
                                    tau_plus,
                                    tau_minus,
                                    float(t - last[a0 + q, s]),
                                )
                            val = tr_f / n_last
                        if pre_now:  # anti-causal: post spikes before the pre spike at t
                            tr_f = 0.0
                            for s in range(n_last):
                                tr_f += window_value(
                                    win_code,
                                    a_plus,
                                    a_minus,
                                    tau_plus,
                                    tau_minus,
                                    float(last[p0 + i, s] - t),
                                )
                            c = tr_f / n_last
                            if sal_overwrite:
                                val = c
                            else:
                                val = val + c
                        w_down[fb + i * na + q] += lr * val
                        sync = True
        # -- 5. record, output average, clock -----------------------------------------------
        if n_rec > 0:
            for e in range(n_rec):
                rec_buf[e] += values[rec_index[e]]
            if rec_left == 1:  # the step completes a block
                for e in range(n_rec):
                    rec_out[rec_row, e] = rec_buf[e] / rec_block
                    rec_buf[e] = 0.0
                rec_row += 1
                rec_left = rec_block
            else:
                rec_left -= 1
        clock[0] = t + 1
        if k >= lag:
            for i in range(n_out):
                u_out_sum[i] += u[out0 + i]
    if n_rec > 0:
        rec_count[0] += n_steps


def run_pattern_fast(
    net: Network,
    drive: Drive,
    rng: np.random.Generator,
    recorder: Recorder | None,
    spikes: SpikeLog | None,
) -> PatternOutcome:
    p, lay = net.params, net.layout
    n = lay.n_neurons
    counts = np.zeros(n, np.int64)
    u_out = np.zeros(lay.dims[-1])
    psp = np.zeros(n)
    dvec = np.zeros(max(lay.dims))
    r_of = np.full(n, np.nan)  # potential whose spike probability r_val holds
    r_val = np.zeros(n)
    dims = np.asarray(lay.dims, np.int64)
    table = np.ascontiguousarray(p.psp_table)
    lr_up = np.asarray(p.lr_up)
    lr_down = np.asarray(p.lr_down)
    code, a_plus, a_minus, tau_plus, tau_minus = p.window_args
    has_tgt = drive.u_tgt is not None
    u_tgt = np.asarray(drive.u_tgt, float) if has_tgt else np.zeros(lay.dims[-1])
    u_in = np.asarray(drive.u_in, float)
    rec = recorder if recorder is not None and recorder.active else None
    rec_index = rec.index if rec else np.zeros(0, np.int64)
    rec_buf = rec.buf if rec else np.zeros(0)
    rec_out = rec.out if rec else np.zeros((0, 0), np.float32)
    rec_block = rec.block if rec else 1
    rec_count = rec.count if rec else np.zeros(1, np.int64)
    chunk = max(1, min(drive.n_steps, CHUNK_DRAWS // n))
    spk_on = spikes is not None
    spk_n = np.zeros(1, np.int64)
    uni = np.empty(0)
    k = 0
    while k < drive.n_steps:
        m = min(chunk, drive.n_steps - k)
        if uni.shape[0] != m * n:
            uni = np.empty(m * n)
        rng.random(out=uni)
        cap = n * (m // p.t_ref + 1) if spk_on else 0
        spk_t = np.empty(cap, np.int64)
        spk_g = np.empty(cap, np.int64)
        spk_n[0] = 0
        _run_steps(
            k,
            m,
            drive.lag,
            drive.plast_up,
            drive.sal,
            drive.copy_bp,
            drive.set_sps,
            has_tgt,
            drive.nudge,
            u_in,
            u_tgt,
            dims,
            lay.pyr_start,
            lay.inn_start,
            lay.w_up_start,
            lay.fb_start,
            p.t_ref,
            p.log_t_ref,
            table,
            p.lambda_nudge,
            lr_up,
            lr_down,
            code,
            a_plus,
            a_minus,
            tau_plus,
            tau_minus,
            p.sal_overwrite,
            net.clock,
            net.last,
            net.u,
            net.v_bas,
            net.v_api,
            net.v_nudge,
            net.u_tgt,
            net.bias,
            net.ma_u,
            net.ma_vb,
            net.ma_u_stack,
            net.ma_vb_stack,
            net.w_up_flat,
            net.w_down_flat,
            net.w_pi_flat,
            net.w_ip_flat,
            net.lam_api,
            uni,
            u_out,
            counts,
            psp,
            dvec,
            r_of,
            r_val,
            net.values,
            rec_index,
            rec_buf,
            rec_out,
            rec_block,
            rec_count,
            spk_t,
            spk_g,
            spk_n,
            spk_on,
        )
        if spk_on:
            spikes.add(spk_t[: spk_n[0]], spk_g[: spk_n[0]])
        k += m
    return PatternOutcome(u_out / (drive.n_steps - drive.lag), counts)
