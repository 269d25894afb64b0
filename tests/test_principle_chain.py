"""Two-neuron age chain: transition matrix, stationary distribution, input validation."""

import numpy as np
import pytest
from scipy.integrate import quad

from spikealign.config import ConfigError
from spikealign.principle import stdd
from spikealign.principle.chain import (
    ChainSpec,
    spike_probabilities,
    stationary,
    stationary_sparse,
    transition_matrix,
)
from spikealign.principle.reference import reference_transition_matrix
from spikealign.psp import make_psp

CASES = [
    # (t_ref, t_syn, t_max, psp, chain, weights and biases)
    (3, 3.0, 7, "rect", "upstream", (0.4, 0.8, -0.5, 0.3)),
    (4, 4.0, 9, "rect", "simulator", (-1.5, 2.0, 1.0, -1.0)),
    (5, 5 / 3, 12, "alpha", "upstream", (1.0, 1.0, 0.25, -0.25)),
    (6, 3.0, 8, "exp", "simulator", (2.5, -0.7, 2.0, -2.0)),
    (5, 2.0, 11, "cutoff", "upstream", (0.0, 0.0, 0.0, 0.0)),
    (4, 2.0, 10, "tail", "upstream", (-3.0, 3.0, 0.5, 0.5)),
    (1, 1.0, 2, "rect", "upstream", (0.3, -0.3, 0.0, 1.0)),
    (10, 10.0, 20, "rect", "upstream", (0.8, 0.4, -0.5, -0.5)),
]


@pytest.mark.parametrize("t_ref,t_syn,t_max,psp,chain,w", CASES)
def test_vectorised_matrix_equals_loop_built(t_ref, t_syn, t_max, psp, chain, w):
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    a, b = spike_probabilities(*w, spec)
    fast = transition_matrix(a, b).toarray()
    ref = reference_transition_matrix(*w, spec).toarray()
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-15)
    # column-stochastic
    np.testing.assert_allclose(fast.sum(axis=0), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("t_ref,t_syn,t_max,psp,chain,w", CASES)
def test_stationary_solves_Tp_eq_p(t_ref, t_syn, t_max, psp, chain, w):
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    a, b = spike_probabilities(*w, spec)
    p = stationary(a, b)
    T = transition_matrix(a, b)
    assert p.sum() == pytest.approx(1.0, abs=1e-13)
    assert p.min() > -1e-15
    np.testing.assert_allclose(T @ p.ravel(), p.ravel(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(p.ravel(), stationary_sparse(T), rtol=0, atol=1e-13)


def test_stationary_at_paper_size():
    spec = ChainSpec(50, 50, 102, "rect", "upstream")
    a, b = spike_probabilities(0.8, 0.4, -0.5, -0.5, spec)
    p = stationary(a, b)
    T = transition_matrix(a, b)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs(T @ p.ravel() - p.ravel()).max() < 1e-15


def test_refractoriness_variants():
    """upstream: a neuron may spike again t_ref steps after a spike; simulator: t_ref + 1."""
    up = ChainSpec(5, 5, 12, "rect", "upstream")
    sim = ChainSpec(5, 5, 12, "rect", "simulator")
    assert (up.min_isi, sim.min_isi) == (5, 6)
    a_up, _ = spike_probabilities(0.0, 0.0, 0.0, 0.0, up)
    a_sim, _ = spike_probabilities(0.0, 0.0, 0.0, 0.0, sim)
    # A's age before the step must be >= min_isi - 1
    assert np.all(a_up[:4] == 0) and np.all(a_up[4:] > 0)
    assert np.all(a_sim[:5] == 0) and np.all(a_sim[5:] > 0)


def test_simulator_chain_reads_the_simulator_psp_table():
    from spikealign.sim import SimParams

    spec = ChainSpec(10, 10 / 3, 40, "alpha", "simulator")
    table = SimParams(10, 10 / 3, "alpha").psp_table()
    k = spec.kappa()
    assert k[0] == 0.0
    np.testing.assert_array_equal(k[1:], table[1:40])


@pytest.mark.parametrize("t_syn", [10 / 3, 5.0, 10.0, 25.0])
def test_alpha_psp_integrates_to_t_ref(t_syn):
    kern = make_psp("alpha", 10, t_syn)
    val, err = quad(lambda x: float(kern(x)), 0, np.inf, limit=200)
    assert val == pytest.approx(10.0, rel=1e-9)
    assert kern.integral == 10.0


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(t_ref=10, t_syn=10, t_max=10), "t_max: must be larger than t_ref"),
        (dict(t_ref=10, t_syn=10, t_max=5), "t_max: must be larger than t_ref"),
        (dict(t_ref=10, t_syn=0, t_max=22), "t_syn: must be > 0"),
        (dict(t_ref=10, t_syn=-2.0, t_max=22), "t_syn: must be > 0"),
        (dict(t_ref=10, t_syn=10, t_max=22, psp="gauss"), "psp: unknown PSP shape 'gauss'"),
        (dict(t_ref=10, t_syn=10, t_max=22, chain="ssn"), "chain: must be one of"),
        (dict(t_ref=2.5, t_syn=10, t_max=22), "t_ref: must be an integer"),
        (dict(t_ref=10, t_syn=10, t_max=10**6), "needs about"),
        (dict(t_ref=10, t_syn=10, t_max=22, center="mid"), "center: must be one of"),
        (dict(t_ref=10, t_syn=10, t_max=22, ties="both"), "ties: must be one of"),
    ],
)
def test_bad_input_fails_with_one_line(kwargs, message):
    with pytest.raises(ConfigError) as info:
        stdd(0.5, 0.5, 0.0, 0.0, **kwargs)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_non_finite_weight_rejected():
    with pytest.raises(ConfigError, match="w_ab: must be a finite number"):
        stdd(np.nan, 0.5, 0.0, 0.0, t_ref=5, t_syn=5, t_max=12)


def test_memory_limit_is_configurable(monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_MAX_MEMORY", "1000")
    with pytest.raises(ConfigError, match="SPIKEALIGN_MAX_MEMORY"):
        stdd(0.5, 0.5, 0.0, 0.0, t_ref=5, t_syn=5, t_max=12)


def test_tiny_probabilities_keep_relative_precision():
    """Subtraction-free stationary solve: states of mass ~1e-30 keep their relative precision
    (checked against a 50-digit dense solve); a plain LU solve does not."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    w_ab, w_ba, b_a, b_b = 3.0, -3.0, 10.0, -30.0
    spec = ChainSpec(3, 3, 7, "rect", "upstream")
    n, c = 7, 6
    after = [float(spec.kappa()[min(k + 1, c)]) for k in range(n)]

    def sig(u):
        return 1 / (1 + 3 * mp.e ** (-mp.mpf(u)))

    T = mp.zeros(n * n, n * n)
    for i in range(n):
        for j in range(n):
            a = sig(b_a + w_ab * after[j]) if i >= 2 else mp.mpf(0)
            b = sig(b_b + w_ba * after[i]) if j >= 2 else mp.mpf(0)
            ip, jp, f = min(i + 1, c), min(j + 1, c), i * n + j
            T[ip * n + jp, f] += (1 - a) * (1 - b)
            T[jp, f] += a * (1 - b)
            T[ip * n, f] += (1 - a) * b
            T[0, f] += a * b
    A = T - mp.eye(n * n)
    for k in range(n * n):
        A[n * n - 1, k] = 1
    rhs = mp.zeros(n * n, 1)
    rhs[n * n - 1] = 1
    exact = np.array([float(x) for x in mp.lu_solve(A, rhs)]).reshape(n, n)
    a, b, na, nb = spike_probabilities(w_ab, w_ba, b_a, b_b, spec, complements=True)
    p = stationary(a, b, na, nb)
    live = exact > 1e-200
    assert exact[live].min() < 1e-25  # the test does probe tiny masses
    np.testing.assert_allclose(p[live], exact[live], rtol=1e-11)
    assert np.all(p[~live] < 1e-190)
