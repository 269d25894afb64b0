"""Spike records and what is read off them.

A spike record is an ``(n, 2)`` int64 array of ``(time, neuron)`` rows: times in steps,
**0-based** neuron ids, sorted by time and then by id. (The paper's code writes 1-based float
ids, the NEST convention: :func:`from_upstream` / :func:`to_upstream` convert.)

Binary states (neural sampling): neuron ``i`` is "on" at time ``T`` if it spiked at some step
``s`` with ``s < T <= s + t_on`` (``t_on`` = the refractory period ``t_ref``). States are read at
``T = 0, dt, 2 dt, ...`` below the duration.
"""

from __future__ import annotations

import numpy as np

from .boltzmann import state_index


def as_record(times, ids) -> np.ndarray:
    """Build a sorted spike record from separate time and id arrays."""
    times = np.asarray(times, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    rec = np.stack([times, ids], axis=1) if len(times) else np.zeros((0, 2), np.int64)
    return sort_record(rec)


def sort_record(spikes) -> np.ndarray:
    """Sort rows by time, then neuron id."""
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    order = np.lexsort((spikes[:, 1], spikes[:, 0]))
    return spikes[order]


def from_upstream(spikes) -> np.ndarray:
    """Convert the paper's ``(time, id + 1)`` float rows to a record."""
    spikes = np.asarray(spikes, dtype=float).reshape(-1, 2)
    return as_record(np.rint(spikes[:, 0]), np.rint(spikes[:, 1]) - 1)


def to_upstream(spikes) -> np.ndarray:
    """Convert a record to the paper's ``(time, id + 1)`` float rows."""
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    return np.stack([spikes[:, 0].astype(float), spikes[:, 1] + 1.0], axis=1)


def per_neuron(spikes, n_neurons: int) -> list[np.ndarray]:
    """Spike times of each neuron (list of sorted int64 arrays)."""
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    return [spikes[spikes[:, 1] == i, 0] for i in range(n_neurons)]


def spike_counts(spikes, n_neurons: int) -> np.ndarray:
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    return np.bincount(spikes[:, 1], minlength=n_neurons)[:n_neurons]


def on_fraction(spikes, n_neurons: int, duration: int, t_on: int) -> np.ndarray:
    """Estimated fraction of time each neuron is on: ``count * t_on / duration``."""
    return spike_counts(spikes, n_neurons) * (t_on / duration)


def states_from_spikes(spikes, n_neurons: int, t_on: int, duration: int, dt: int) -> np.ndarray:
    """Binary states ``(m, n_neurons)`` read at ``T = 0, dt, ... < duration`` (module docstring)."""
    times = np.arange(0, duration, dt, dtype=np.int64)
    z = np.zeros((len(times), n_neurons), dtype=np.uint8)
    for i, s in enumerate(per_neuron(spikes, n_neurons)):
        if len(s) == 0:
            continue
        # latest spike strictly before T
        k = np.searchsorted(s, times, side="left") - 1
        valid = k >= 0
        last = np.where(valid, s[np.clip(k, 0, None)], -(10**18))
        z[:, i] = valid & (times - last <= t_on)
    return z


def coactivation_counts(spikes, n_neurons: int, t_on: int, duration: int):
    """Exact time averages of the binary states, as integer step counts over ``T = 0 ..
    duration - 1`` (module docstring: a neuron is on in the ``t_on`` steps after a spike):
    ``(co, on)`` with ``co[i, j]`` the number of steps at which ``z_i = z_j = 1`` (diagonal:
    ``on``) and ``on[i]`` those with ``z_i = 1``. ``co / duration`` is the coactivation
    ``<z_i z_j>`` of the phase. Plain reading of every step (the compiled engine accumulates
    the same counts per spike, :mod:`spikealign.sim.fast`)."""
    z = states_from_spikes(spikes, n_neurons, t_on, duration, 1).astype(np.int64)
    return z.T @ z, z.sum(axis=0)


def state_histogram(spikes, n_neurons: int, t_on: int, duration: int, dt: int) -> np.ndarray:
    """Counts of each of the 2^n states among the sampled states (neuron 0 = MSB)."""
    z = states_from_spikes(spikes, n_neurons, t_on, duration, dt)
    return np.bincount(state_index(z), minlength=2**n_neurons).astype(np.int64)
