"""Ground truth of the spiking Boltzmann machine: free sampling of a small network with hidden
units against its exact Boltzmann distribution marginalised over the hidden units, and clamped
sampling against the exact conditional distribution."""

import numpy as np
import pytest

from spikealign import boltzmann as bz
from spikealign.bm.evaluate import visible_marginal_exact, visible_marginal_sampled
from spikealign.bm.model import BoltzmannMachine, make_mask
from spikealign.sim import SimParams

PARAMS = SimParams(t_ref=10, tau_syn=11, min_isi=10)
SAMPLE_EVERY = 5


def small_rbm(seed, n_vis=3, n_hid=2):
    rng = np.random.default_rng(seed)
    mask = make_mask(n_vis, n_hid, "rbm")
    W = np.where(mask, bz.copy_triu(rng.uniform(-1, 1, (n_vis + n_hid,) * 2)), 0.0)
    b = rng.uniform(-1, 1, n_vis + n_hid)
    return BoltzmannMachine(W, b, n_vis, 0, mask, PARAMS)


def bound(n_states, steps):
    """Allowed D_KL: the sampling noise of a D_KL estimate, (K - 1) / (2 n_eff), with
    n_eff = samples / 4 (correlation time ~ 2 read-outs = t_ref) times a safety factor 10,
    plus an allowance of 5e-3 for the discrete-time bias of neural sampling (measured with
    these parameters, min_isi = t_ref and a PSP as long as the on-state: 1e-4 free, 1e-3
    clamped; the SSN's min_isi = t_ref + 1 gives 6e-3 .. 2e-2 here)."""
    n_eff = steps / SAMPLE_EVERY / 4
    return 10 * (n_states - 1) / (2 * n_eff) + 0.005


def free_dkl(seed, steps):
    net = small_rbm(seed)
    hist = net.sample(steps, np.random.default_rng(seed + 100), sample_every=SAMPLE_EVERY)
    q = visible_marginal_sampled(hist, net.n, net.n_visible)
    p = visible_marginal_exact(net.W, net.b, net.n_visible)
    return bz.kl_divergence(p, q)


def test_free_sampling_matches_exact_visible_marginal():
    steps = 2_000_000
    assert free_dkl(3, steps) < bound(8, steps)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 16))
def test_free_sampling_matches_exact_visible_marginal_many_seeds(seed):
    steps = 20_000_000
    assert free_dkl(seed, steps) < bound(8, steps)


def exact_conditional(net, clamped_values):
    """p(free units | clamped visible units) by enumeration, over the free units' states."""
    p, states = bz.exact_distribution(net.W, net.b)
    k = len(clamped_values)
    keep = np.all(states[:, :k] == np.asarray(clamped_values), axis=1)
    cond = p[keep]
    return cond / cond.sum()


@pytest.mark.parametrize("clamping", ["forced", "bias"])
def test_clamped_sampling_matches_exact_conditional(clamping):
    # clamp visible units 0 and 1 of a 3 + 2 RBM; the free visible unit 2 and the hidden
    # units sample p(z_2, h | z_0, z_1)
    net = small_rbm(5)
    net.clamping = clamping
    steps = 2_000_000
    for values in ((1, 0), (1, 1)):
        v = np.array([*values, 0])
        c = net.clamp_vector(v, visible_free=np.array([False, False, True]))
        st = net.phase(steps, np.random.default_rng(11), c, sample_every=SAMPLE_EVERY)
        rows = st.states.reshape(4, 8)
        row = int(values[0]) * 2 + int(values[1])
        # the clamped units hold their values (forced: all but the read-out at step 0; bias
        # +-10: a spike probability within 1e-4 of 0 or 1 per step)
        assert rows[row].sum() >= 0.995 * rows.sum()
        hist = rows[row]
        # rows of the clamped values (a read-out at step 0, before the first spike, has
        # them off)
        q = hist / hist.sum()
        assert bz.kl_divergence(exact_conditional(net, values), q) < bound(8, steps)


@pytest.mark.parametrize("clamped", [False, True])
def test_coactivation_is_the_moment_of_the_states_read_at_every_step(clamped):
    """The exact coactivation counts (accumulated per spike) equal the second moments of the
    state histogram read at every step (accumulated per state change): two code paths of the
    engine, one quantity."""
    net = small_rbm(3)
    clamp = net.clamp_vector(np.array([1, 0, 1])) if clamped else None
    T = 200_000
    st = net.phase(T, np.random.default_rng(7), clamp, sample_every=1, coactivation=True)
    z = bz.all_states(net.n).astype(np.int64)
    second = z.T @ (st.states[:, None] * z)
    assert np.array_equal(st.on, np.diag(second))
    assert np.array_equal(st.co, second - np.diag(np.diag(second)))
    C, m = net.coactivation(T, np.random.default_rng(7), clamp)
    assert np.array_equal(C, second / T) and np.array_equal(m, st.on / T)


def test_free_coactivation_approaches_the_exact_moments():
    """<z_i z_j> over a long free phase against E[z_i z_j] of the Boltzmann distribution:
    sampling noise 5 sqrt(1/4 / n_eff) with n_eff = T / (2 t_ref) (correlation time ~ t_ref),
    plus 0.03 for the discrete-time bias of neural sampling (measured here: 0.015 at most
    over seeds 3-5, the joint D_KL about 2e-3)."""
    T = 2_000_000
    for seed in (3, 4):
        net = small_rbm(seed)
        p, states = bz.exact_distribution(net.W, net.b)
        E = states.T.astype(float) @ (p[:, None] * states)
        C, m = net.coactivation(T, np.random.default_rng(seed + 100))
        n_eff = T / (2 * PARAMS.t_ref)
        tol = 5 * np.sqrt(0.25 / n_eff) + 0.03
        assert np.abs(C - E).max() < tol and np.abs(m - np.diag(E)).max() < tol
