"""Benchmark of the spiking Boltzmann machine (digit network of ``digits-quick``).

Prints one figure per line, ``name: value unit``: the time of one wake+sleep cycle (a
minibatch update), ns per neuron-step of the wake and the sleep phases, and with ``--full``
the wall time of a whole ``digits-quick`` training and its test accuracy.

    python bench/bench_bm.py [--full]
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from spikealign.bm import load_config
from spikealign.bm.train import Trainer


def main(full: bool) -> None:
    cfg = load_config("digits-quick")
    tr = Trainer(cfg)
    state = tr.initial_state()
    d = tr.setup.data
    idx = np.arange(cfg.batch_size)
    tr.minibatch(state, idx)  # compile
    n = tr.setup.mask.shape[0]
    reps = 10
    t0 = time.perf_counter()
    for r in range(reps):
        tr.minibatch(state, (idx + r * cfg.batch_size) % len(d.x_train))
    cycle = (time.perf_counter() - t0) / reps
    net = tr.network(state)
    t0 = time.perf_counter()
    tr.wake(net, d.x_train[idx], d.y_train[idx], state.rng)
    wake = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.sleep(net, state.rng)
    sleep = time.perf_counter() - t0
    wake_ns = wake / (cfg.batch_size * cfg.wake_steps * n) * 1e9
    sleep_ns = sleep / (cfg.sleep_phases * cfg.sleep_steps * n) * 1e9
    print(f"bm_network_units: {n} neurons")
    print(f"bm_wake_sleep_cycle: {cycle * 1e3:.1f} ms")
    print(f"bm_wake_ns_per_neuron_step: {wake_ns:.1f} ns")
    print(f"bm_sleep_ns_per_neuron_step: {sleep_ns:.1f} ns")
    print(f"bm_epoch_estimate: {cycle * tr.n_batches():.1f} s")
    if full:
        from spikealign.bm.run import run

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            m = run(cfg, f"{tmp}/run", show_progress=False, make_figure=False)
            wall = time.perf_counter() - t0
        print(f"bm_digits_quick_training: {wall:.1f} s")
        print(f"bm_digits_quick_test_accuracy: {m['test_accuracy']:.3f} fraction")


if __name__ == "__main__":
    main("--full" in sys.argv[1:])
