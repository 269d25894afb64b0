"""SAL's drift on the diagonal W_AB = W_BA for two units of unequal bias, per neuron convention.

SAL symmetrises a pair only where its drift vanishes on the diagonal. By symmetry it does for
equal biases under every convention. For unequal biases it vanishes exactly when the rect PSP's
``t_syn`` equals the minimum inter-spike interval (analytic chain, ``spikealign.principle``;
simulated: ``tau_syn = min_isi``), and the
Boltzmann machine's convention (``tau_syn = 11``, ``min_isi = t_ref = 10``, chosen for exact
sampling) leaves a drift (simulated, ``bench/bm_sal_fixed_point.py``): SAL's fixed point lies
off the diagonal there, which limits how far SAL can shrink the asymmetry of a digit network
(docs/bm.md)."""

from __future__ import annotations

import numpy as np
import pytest

from spikealign.principle.drift import sal_drift, simulated_sal_drift
from spikealign.principle.stdd import stdd
from spikealign.sim import SimParams
from spikealign.stdp import sal_window

WINDOW = sal_window(10, kind="tri")


def analytic_drift(w, b_a, b_b, t_syn, chain):
    dt, p = stdd(w, w, b_a, b_b, t_ref=10, t_syn=t_syn, t_max=50, psp="rect", chain=chain)
    return sal_drift(dt, p, WINDOW)


@pytest.mark.parametrize("chain,m", [("upstream", 10), ("simulator", 11)])
@pytest.mark.parametrize("w", [0.3, 0.8])
def test_analytic_drift_vanishes_on_the_diagonal_iff_t_syn_is_the_minimum_isi(chain, m, w):
    for b_a, b_b in ((-2.0, 1.0), (1.0, -3.0)):
        d_match = analytic_drift(w, b_a, b_b, m, chain)
        assert np.abs(d_match).max() < 1e-12
        d_other = analytic_drift(w, b_a, b_b, 21 - m, chain)  # the other convention's t_syn
        assert np.abs(d_other[0]) > 1e-3
        assert d_other[1] == pytest.approx(-d_other[0], abs=1e-15)  # odd window: W_BA mirrors
    # equal biases: zero by symmetry under both values of t_syn
    for t_syn in (10, 11):
        assert np.abs(analytic_drift(w, -1.0, -1.0, t_syn, chain)).max() < 1e-12


def simulated_drift(tau_syn, min_isi, steps=2_000_000, seed=0):
    params = SimParams(t_ref=10, tau_syn=tau_syn, psp="rect", min_isi=min_isi)
    return simulated_sal_drift(0.8, (-2.0, 1.0), params, steps, np.random.default_rng(seed))


def test_the_boltzmann_machine_convention_leaves_sal_a_drift_on_the_diagonal():
    # measured (bench/bm_sal_fixed_point.py, 4 x 4e6 steps): +0.578 +- 0.032 per 1000 steps for
    # tau_syn 11 / min_isi 10, +0.008 +- 0.017 for 11 / 11; one chain of 2e6 steps has a
    # standard error of about 0.09, so the bounds below are > 4 standard errors from the means
    assert simulated_drift(11, 10) > 0.2
    assert abs(simulated_drift(11, 11)) < 0.35
