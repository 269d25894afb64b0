"""Boltzmann utilities against an independent brute force."""

import itertools
import math

import numpy as np
import pytest

from spikealign import boltzmann as bz


def brute_force(W, b):
    n = len(b)
    states = list(itertools.product([0, 1], repeat=n))  # neuron 0 varies slowest
    weights = []
    for z in states:
        e = sum(b[i] * z[i] for i in range(n))
        e += 0.5 * sum(W[i][j] * z[i] * z[j] for i in range(n) for j in range(n))
        weights.append(math.exp(e))
    Z = sum(weights)
    return np.array([w / Z for w in weights]), np.array(states)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_exact_distribution_matches_brute_force(n):
    rng = np.random.default_rng(n)
    W = bz.copy_triu(rng.uniform(-2, 2, (n, n)))
    b = rng.uniform(-1, 1, n)
    p, states = bz.exact_distribution(W, b)
    q, ref_states = brute_force(W.tolist(), b.tolist())
    np.testing.assert_array_equal(states, ref_states)
    np.testing.assert_allclose(p, q, rtol=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-14)


def test_state_order_neuron0_is_msb():
    states = bz.all_states(3)
    assert states[1].tolist() == [0, 0, 1]
    assert states[4].tolist() == [1, 0, 0]
    assert bz.state_index(states).tolist() == list(range(8))


def test_moments_brute_force():
    rng = np.random.default_rng(0)
    W = bz.copy_triu(rng.normal(size=(4, 4)))
    b = rng.normal(size=4)
    p, states = bz.exact_distribution(W, b)
    marg, C = bz.moments(p, states)
    for i in range(4):
        assert marg[i] == pytest.approx(sum(pk for pk, z in zip(p, states, strict=True) if z[i]))
        for j in range(4):
            expect = sum(pk for pk, z in zip(p, states, strict=True) if z[i] and z[j])
            assert C[i, j] == pytest.approx(expect, rel=1e-12)


def test_asymmetric_weights_act_through_symmetric_part():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 3))
    np.fill_diagonal(W, 0)
    p1, _ = bz.exact_distribution(W, np.zeros(3))
    p2, _ = bz.exact_distribution((W + W.T) / 2, np.zeros(3))
    np.testing.assert_allclose(p1, p2, rtol=1e-12)


def test_kl_divergence():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.75, 0.0])
    expect = 0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75)
    assert bz.kl_divergence(p, q) == pytest.approx(expect)
    assert bz.kl_divergence(p, p) == 0.0
    assert bz.kl_divergence(p, np.array([1.0, 0.0, 0.0])) == math.inf
    # additive smoothing makes unvisited states finite
    assert math.isfinite(bz.kl_from_counts(p, np.array([10, 0, 0]), pseudocount=0.5))


def test_empirical_distribution_from_states_and_counts():
    z = np.array([[0, 1], [0, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(bz.empirical_distribution(z), [0.25, 0.5, 0, 0.25])
    np.testing.assert_allclose(
        bz.empirical_distribution(np.array([1, 2, 0, 1])), [0.25, 0.5, 0, 0.25]
    )


def test_copy_triu_and_asymmetry():
    A = np.arange(9.0).reshape(3, 3)
    S = bz.copy_triu(A)
    np.testing.assert_array_equal(S, [[0, 1, 2], [1, 0, 5], [2, 5, 0]])
    W = np.array([[0, 1.0, 2.0], [0.0, 0, 3.0], [2.0, 1.0, 0]])
    diffs = [1.0, 0.0, 2.0]  # W01-W10, W02-W20, W12-W21
    assert bz.asymmetry(W) == pytest.approx(np.var(diffs))


def test_dimension_limit():
    with pytest.raises(ValueError, match="dim <= 20"):
        bz.exact_distribution(np.zeros((21, 21)), np.zeros(21))
