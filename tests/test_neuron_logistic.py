"""Core: the spike probability keeps full relative precision in both tails."""

import math

import numpy as np
import pytest

from spikealign.neuron import logistic, silence_probability, spike_probability


@pytest.mark.parametrize("u", [-700.0, -60.0, -30.0, -5.0, 0.0, 2.0, 30.0, 60.0])
def test_spike_probability_relative_precision(u):
    t_ref = 10.0
    # exact in higher precision via log-space: p = 1 / (1 + t_ref e^-u)
    x = u - math.log(t_ref)
    p_exact = math.exp(x - math.log1p(math.exp(x))) if x < 0 else 1 / (1 + math.exp(-x))
    q_exact = math.exp(-x - math.log1p(math.exp(-x))) if x > 0 else 1 / (1 + math.exp(x))
    assert float(spike_probability(u, t_ref)) == pytest.approx(p_exact, rel=1e-14)
    assert float(silence_probability(u, t_ref)) == pytest.approx(q_exact, rel=1e-14)


def test_logistic_shapes_and_symmetry():
    x = np.linspace(-40, 40, 81)
    np.testing.assert_allclose(logistic(x) + logistic(-x), 1.0, rtol=0, atol=1e-15)
    assert logistic(0.0).shape == ()
    assert logistic(-800.0) == 0.0 and logistic(800.0) == 1.0
