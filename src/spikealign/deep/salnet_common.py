"""Definitions shared by both SALNet implementations (:mod:`.salnet`, :mod:`.salnet_reference`).

SALNet (upstream ``symmnet.sal_net``): layers ``0..D-1`` of sizes ``n_0..n_{D-1}`` of
stochastic GLM ("neural sampling") neurons, ``batch`` independent copies, no external input:

* layer 0:       u_0 = B_0 psp_1 + b_0
* hidden l:      u_l = W_l psp_{l-1} + B_l psp_{l+1} + b_l
* output D-1:    u_{D-1} = W_{D-1} psp_{D-2} + b_{D-1}

``W_l`` is ``(n_l, n_{l-1})`` (= fc_l.weight of the conv net), ``B_l`` is ``(n_l, n_{l+1})``
(= fc_{l+1}.fb_weight transposed). Neuron and kernels come from the core:

* spike probability per step ``r(u) = logistic(u - ln t_ref)`` (:mod:`spikealign.neuron`,
  :func:`~spikealign.neuron.spike_logit_offset`), minimum inter-spike interval
  :func:`~spikealign.neuron.min_isi_ssn` ``= t_ref + 1``;
* PSP: the rect kernel :func:`spikealign.psp.rect` of length ``t_ref``, indexed by buffer slot
  ``k = age - 1`` (a spike acts from the next step on, for ``t_ref`` steps): ``psp`` is the
  number of spikes in the last ``t_ref`` steps;
* STDP: the SAL window :func:`spikealign.stdp.sal_window` (``tau = t_ref``, amplitude 1) in its
  trace form (:meth:`~spikealign.stdp.Window.trace_tables`) over ``L = buffer_length * t_ref``
  lags ``k = 0..L-1``, post = layer ``l``, pre = layer ``l+1``:

      dB_l += post(t) (x) sum_k causal[k] pre(t-k) + sum_k anticausal[k] post(t-k) (x) pre(t)

* update (once per phase): ``B_l += sal_lr * mean_batch(dB_l) / L`` (upstream normalises by
  the kernel length, not by the number of steps).

One step: potentials of all layers from the spikes up to ``t-1``; then spikes of all layers;
then the STDP accumulation with the new spikes. Random numbers: one draw per step of
``torch.rand(N, batch)`` (``N = sum n_l``, neuron-major, layers in order) from the net's
``torch.Generator``; neuron ``i`` of copy ``c`` spikes if allowed and ``r(u) > rand[i, c]``.
"""

from __future__ import annotations

import math

from ..neuron import min_isi_ssn, spike_logit_offset
from ..psp import rect
from ..stdp import sal_window


def check_sizes(sizes) -> list[int]:
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"SALNet sizes must be >= 2 positive layer sizes (got {sizes})")
    return sizes


def kernels(t_ref: int, buffer_length: int):
    """``(psp_table, causal, anticausal, decay, log_t_ref, min_isi, L)`` from the core."""
    if t_ref < 1 or buffer_length < 1:
        raise ValueError("SALNet: t_ref and buffer_length must be >= 1")
    L = int(buffer_length) * int(t_ref)
    psp = rect(t_ref).table(int(t_ref))
    window = sal_window(tau=t_ref)
    causal, anticausal = window.trace_tables(L)
    return (
        psp,
        causal,
        anticausal,
        window.trace_decay(),
        spike_logit_offset(t_ref),
        min_isi_ssn(t_ref),
        L,
    )


def init_params(sizes, generator, dtype):
    """Standalone init (upstream): W_l ~ U(+-1/sqrt(n_{l-1})), B_l ~ U(+-1/sqrt(n_{l+1})),
    b_l ~ U(+-1/sqrt(n_l)); drawn in layer order (W, B, b per layer)."""
    import torch

    def u(shape, fan):
        bound = 1.0 / math.sqrt(fan)
        return torch.empty(shape, dtype=dtype).uniform_(-bound, bound, generator=generator)

    D = len(sizes)
    W, B, b = [None] * D, [None] * D, [None] * D
    for l, n in enumerate(sizes):
        if l > 0:
            W[l] = u((n, sizes[l - 1]), sizes[l - 1])
        if l < D - 1:
            B[l] = u((n, sizes[l + 1]), sizes[l + 1])
        b[l] = u((n,), n)
    return W, B, b
