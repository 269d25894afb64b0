"""Spike timing of the microcircuit neurons against hand-derived ground truth (reference §3.1).

Both engines read the PSP from the same table (``NetParams.psp_table``) and share the
refractory convention, so comparing the engines with each other cannot find an off-by-one in
either. These tests derive the expected traces by hand instead, on the smallest network the API
builds (``dims=(1, 1)``: one input neuron, one output neuron, weight ``W_up``).

Determinism: a neuron spikes in a step if its uniform draw ``x`` in [0, 1) lies below
``r(u) = 1 / (1 + t_ref exp(-u))``. At ``u = +1000`` that is exactly 1.0 (``exp`` underflows to
0), at ``u = -1000`` exactly 0.0, so the spike trains below do not depend on the random stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikealign.microcircuits.drive import Drive, run_pattern
from spikealign.microcircuits.network import NetParams, Network
from spikealign.microcircuits.recording import Recorder, SpikeLog

ON, OFF = 1000.0, -1000.0  # potentials with spike probability exactly 1 and exactly 0
ENGINES = ["reference", "fast"]


def _pair(t_ref: int, tau_syn: int, w: float, bias: float) -> Network:
    net = Network(NetParams(dims=(1, 1), t_ref=t_ref, tau_syn=tau_syn))
    net.set_weights([{"w_up": w}])
    net.set_bias([bias])
    return net


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("t_ref, tau_syn", [(10, 10), (4, 7), (10, 3)])
def test_one_input_spike_raises_v_bas_for_exactly_tau_syn_steps(engine, t_ref, tau_syn):
    """Convention (§3.1): rect PSP ``kappa(dt) = 1`` for ``0 <= dt < tau_syn``, and "a spike
    counts in the very step it occurs". So one input spike at step ``s`` makes the output's
    basal potential ``v_bas = W_up`` at steps ``s .. s + tau_syn - 1`` (exactly ``tau_syn``
    steps, from the spike's own step on) and 0 at every other step.

    Set-up: the input's potential is OFF at step 0 and ON after it (pattern 1, one step), then
    OFF from step 1 on (pattern 2), so it spikes exactly once, at step ``s = 1`` (potentials of
    one step set the spike probability of the next). The output is silenced by its bias.
    Catches a PSP that starts a step late (the SSN convention ``first_age=1``), lasts one step
    more or less, uses ``t_ref`` as its length, or has the wrong amplitude.
    """
    w = 1.75  # exact in float32 (the recorder's storage type)
    n_after = 3 * tau_syn + 5
    net = _pair(t_ref, tau_syn, w, bias=OFF)
    inp = net.layout.pyr(0).start
    net.u[inp] = OFF  # the potential that decides step 0's spike
    rec = Recorder(net, [[], ["v_bas"]], 1 + n_after, 1)
    log = SpikeLog()
    rng = np.random.default_rng(0)
    for u_in, n_steps in ((ON, 1), (OFF, n_after)):
        run_pattern(
            net,
            Drive(u_in=np.array([u_in]), u_tgt=None, n_steps=n_steps),
            rng,
            engine=engine,
            recorder=rec,
            spikes=log,
        )
    rec.finalize()

    np.testing.assert_array_equal(log.record(), [[1, inp]])  # one spike, at s = 1
    v_bas = rec.results()["rec.1.v_bas"][:, 0].astype(float)
    expected = np.zeros(1 + n_after)
    expected[1 : 1 + tau_syn] = w
    np.testing.assert_array_equal(v_bas, expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("t_ref, tau_syn", [(10, 10), (7, 10), (3, 5)])
def test_strongly_driven_neurons_spike_every_t_ref_steps(engine, t_ref, tau_syn):
    """Convention (§3.1): a neuron may spike at step ``t`` if its last spike is at
    ``<= t - t_ref``, so the minimum inter-spike interval is exactly ``t_ref`` steps (the SSN's
    is ``t_ref + 1``; :func:`spikealign.neuron.min_isi_microcircuit`).

    Both neurons spike with probability 1 whenever allowed: the input through ``u_in = ON``,
    the output through a huge weight (``tau_syn >= t_ref`` keeps its PSP on between input
    spikes). Every interval must then be exactly ``t_ref``: catches refractory periods of
    ``t_ref + 1`` (``<`` for ``<=``) or ``t_ref - 1`` steps, in either engine.
    """
    n_steps = 25 * t_ref
    net = _pair(t_ref, tau_syn, w=ON, bias=0.0)
    inp, out = net.layout.pyr(0).start, net.layout.pyr(1).start
    net.u[[inp, out]] = ON  # both spike at step 0
    log = SpikeLog()
    run_pattern(
        net,
        Drive(u_in=np.array([ON]), u_tgt=None, n_steps=n_steps),
        np.random.default_rng(1),
        engine=engine,
        spikes=log,
    )
    spikes = log.record()
    for g in (inp, out):
        times = spikes[spikes[:, 1] == g, 0]
        np.testing.assert_array_equal(times, np.arange(0, n_steps, t_ref))
        assert np.diff(times).min() == t_ref
