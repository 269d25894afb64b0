"""Core nearest-neighbour STDP (spikealign.stdp.nn_stdp)."""

import numpy as np
import pytest

from spikealign.sim import SimParams, simulate
from spikealign.spikes import as_record
from spikealign.stdp import exp_window, nn_stdp, nn_stdp_reference, tri_window


@pytest.mark.parametrize("inclusive", [False, True])
@pytest.mark.parametrize("window", [exp_window(-1.0, 0.7, 3.0, 5.0), tri_window(1.0, -0.5, 4.0)])
def test_compiled_equals_reference(inclusive, window):
    rng = np.random.default_rng(3)
    W = np.array([[0, 1.0, 0.5], [0.3, 0, -1], [1, 1, 0]])
    rec = simulate(W, np.array([0.5, 0.2, 1.0]), 20_000, SimParams(3, 3), rng)
    assert len(rec) > 1000
    np.testing.assert_array_equal(
        nn_stdp(rec, 3, window, inclusive=inclusive),
        nn_stdp_reference(rec, 3, window, inclusive=inclusive),
    )


def test_per_synapse_parameters():
    rng = np.random.default_rng(4)
    a = rng.uniform(0.5, 1.5, (3, 3))
    w = exp_window(-a, a, 2.0 + a, 3.0)
    rec = as_record(rng.integers(0, 300, 200), rng.integers(0, 3, 200))
    rec = np.unique(rec, axis=0)
    np.testing.assert_array_equal(nn_stdp(rec, 3, w), nn_stdp_reference(rec, 3, w))


def test_pairs_only_adjacent_spikes():
    w = exp_window(1.0, 1.0, 1e9)  # K = 1 for every pair: S counts pairs
    # B(1) at 0, A(0) at 3, A at 5, B at 9, B at 12, A at 13
    rec = as_record([0, 3, 5, 9, 12, 13], [1, 0, 0, 1, 1, 0])
    S = nn_stdp(rec, 2, w)
    # adjacent pairs: (B0, A3), (A5, B9), (B12, A13): each adds 1 to S[0,1] and to S[1,0]
    assert S[0, 1] == pytest.approx(3.0) and S[1, 0] == pytest.approx(3.0)


def test_inclusive_pairs_across_a_simultaneous_spike():
    w = exp_window(1.0, 1.0, 1e9)
    rec = as_record([0, 0, 4], [0, 1, 0])  # A and B at 0, then A at 4
    assert nn_stdp(rec, 2, w)[0, 1] == pytest.approx(0.0)  # strict: B0 is not after A's 0
    assert nn_stdp(rec, 2, w, inclusive=True)[0, 1] == pytest.approx(1.0)


def test_independent_of_id_order_within_a_step():
    w = exp_window(-1.0, 0.5, 3.0, 2.0)
    rng = np.random.default_rng(9)
    rec = np.unique(np.stack([rng.integers(0, 200, 150), rng.integers(0, 2, 150)], 1), axis=0)
    swapped = as_record(rec[:, 0], 1 - rec[:, 1])
    S = nn_stdp(rec, 2, w, inclusive=True)
    S2 = nn_stdp(swapped, 2, w, inclusive=True)
    np.testing.assert_allclose(S2, S[::-1, ::-1], rtol=1e-12)
