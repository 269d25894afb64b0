"""spikealign.io.to_neo / from_neo: spike records as Neo spike trains, checked with Elephant."""

import numpy as np
import pytest

from spikealign import io
from spikealign.sim import SimParams, simulate
from spikealign.spikes import spike_counts

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")


@pytest.fixture(scope="module")
def record():
    """A real record: 5 coupled sampling neurons, 20 000 steps."""
    rng = np.random.default_rng(3)
    n = 5
    W = rng.uniform(-1, 1, (n, n))
    W = (W + W.T) / 2
    np.fill_diagonal(W, 0)
    b = rng.uniform(-1, 0.5, n)
    spikes = simulate(W, b, 20_000, SimParams(t_ref=10, tau_syn=10), np.random.default_rng(4))
    assert len(spikes) > 500
    return spikes, n, 20_000


def test_round_trip_and_times(record):
    spikes, n, n_steps = record
    trains = io.to_neo(spikes, n, dt_ms=0.1, n_steps=n_steps)
    assert len(trains) == n
    for i, tr in enumerate(trains):
        assert isinstance(tr, neo.SpikeTrain)
        assert tr.units == pq.ms
        assert float(tr.t_start) == 0.0 and float(tr.t_stop) == pytest.approx(n_steps * 0.1)
        assert tr.annotations["neuron"] == i and tr.name == f"neuron {i}"
        mine = spikes[spikes[:, 1] == i, 0]
        np.testing.assert_allclose(tr.times.magnitude, mine * 0.1)
    back = io.from_neo(trains, dt_ms=0.1)
    assert back.dtype == np.int64
    np.testing.assert_array_equal(back, spikes)
    # other units on the way back (seconds) give the same record
    in_s = [tr.rescale("s") for tr in trains]
    np.testing.assert_array_equal(io.from_neo(in_s, dt_ms=0.1), spikes)


def test_elephant_mean_firing_rate_matches_our_counts(record):
    statistics = pytest.importorskip("elephant.statistics")
    spikes, n, n_steps = record
    dt_ms = 0.1
    trains = io.to_neo(spikes, n, dt_ms=dt_ms, n_steps=n_steps)
    ours_hz = spike_counts(spikes, n) / (n_steps * dt_ms * 1e-3)
    for i, tr in enumerate(trains):
        rate = statistics.mean_firing_rate(tr).rescale("Hz").magnitude
        assert rate == pytest.approx(ours_hz[i], rel=1e-12)


def test_t_stop_choices():
    spikes = np.array([[2, 0], [5, 1]])
    assert float(io.to_neo(spikes, 3, dt_ms=0.5)[0].t_stop) == 3.0  # (last step + 1) * dt
    assert float(io.to_neo(spikes, 3, dt_ms=0.5, t_stop_ms=10)[2].t_stop) == 10.0
    trains = io.to_neo(np.zeros((0, 2), np.int64), 2, dt_ms=1.0, n_steps=4)
    assert [len(t) for t in trains] == [0, 0] and float(trains[1].t_stop) == 4.0
    unsorted = io.to_neo(spikes[::-1], 2, dt_ms=1.0)
    assert unsorted[0].times.magnitude.tolist() == [2.0]


@pytest.mark.parametrize(
    ("spikes", "n", "kw", "match"),
    [
        (np.zeros((3,), np.int64), 2, {}, "shape"),
        (np.zeros((2, 3), np.int64), 2, {}, "shape"),
        (np.array([[0.5, 0.0]]), 2, {}, "integers"),
        (np.array([[True, False]]), 2, {}, "integers"),
        (np.array([[1, 2]]), 2, {}, "n_neurons=2"),
        (np.array([[1, -1]]), 2, {}, "0-based"),
        (np.array([[-1, 0]]), 2, {}, ">= 0"),
        (np.array([[1, 0]]), 0, {}, "n_neurons"),
        (np.array([[1, 0]]), 2, {"dt_ms": 0.0}, "dt_ms"),
        (np.array([[1, 0]]), 2, {"dt_ms": float("nan")}, "dt_ms"),
        (np.array([[1, 0]]), 2, {"dt_ms": float("inf")}, "dt_ms"),
        (np.array([[1, 0]]), 2, {"dt_ms": "fast"}, "dt_ms"),
        (np.array([[5, 0]]), 2, {"n_steps": 5}, "step 5"),
        (np.array([[5, 0]]), 2, {"t_stop_ms": 5.0}, "after the last spike"),
        (np.array([[5, 0]]), 2, {"n_steps": 9, "t_stop_ms": 9.0}, "not both"),
        (np.zeros((0, 2), np.int64), 2, {}, "empty record"),
    ],
)
def test_invalid_inputs_are_named(spikes, n, kw, match):
    kw = {"dt_ms": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        io.to_neo(spikes, n, **kw)


def test_from_neo_refuses_times_between_steps():
    train = neo.SpikeTrain([0.25], units="ms", t_stop=1.0)
    with pytest.raises(ValueError, match="whole steps"):
        io.from_neo([train], dt_ms=0.1)


def test_missing_neo_is_one_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_neo(name, *args, **kwargs):
        if name == "neo" or name.startswith("neo."):
            raise ImportError("No module named 'neo'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_neo)
    with pytest.raises(io.NeoMissingError, match=r"pip install 'spikealign\[neo\]'"):
        io.to_neo(np.array([[0, 0]]), 1, dt_ms=1.0)
