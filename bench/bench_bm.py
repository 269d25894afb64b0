"""Benchmark of the spiking Boltzmann machine (digit network of ``digits-quick``).

Prints one figure per line, ``name: value unit``: the time of one wake+sleep cycle (a
minibatch update), ns per neuron-step of the wake and the sleep phases, for the exact
coactivation estimator (``stdp.coactivation: exact``, the default) and the triangular-window
estimate it replaced (``window``), the ratio of the two, and the speed-up of the fast engine
over the plain reference engine on the same cycle; with ``--full`` the wall time of
a whole ``digits-quick`` training and its accuracies. Times are CPU times of this process
(``time.process_time``), so a busy machine changes them little.

    python bench/bench_bm.py [--full]
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from spikealign.bm import load_config
from spikealign.bm.train import Trainer


def cycle_times(coactivation: str, reps: int = 10, engine: str = "fast") -> dict:
    """CPU seconds of one wake+sleep cycle, one wake and one sleep batch."""
    cfg = load_config("digits-quick", {"stdp": {"coactivation": coactivation}})
    tr = Trainer(cfg, engine=engine)
    state = tr.initial_state()
    d = tr.setup.data
    idx = np.arange(cfg.batch_size)
    tr.minibatch(state, idx)  # compile
    n = tr.setup.mask.shape[0]
    t0 = time.process_time()
    for r in range(reps):
        tr.minibatch(state, (idx + r * cfg.batch_size) % len(d.x_train))
    cycle = (time.process_time() - t0) / reps
    net = tr.network(state)
    wake = sleep = 0.0
    for _ in range(reps):
        t0 = time.process_time()
        tr.wake(net, d.x_train[idx], d.y_train[idx], state.rng)
        wake += (time.process_time() - t0) / reps
        t0 = time.process_time()
        tr.sleep(net, state.rng)
        sleep += (time.process_time() - t0) / reps
    return {
        "n": n,
        "cycle": cycle,
        "epoch": cycle * tr.n_batches(),
        "wake_ns": wake / (cfg.batch_size * cfg.wake_steps * n) * 1e9,
        "sleep_ns": sleep / (cfg.sleep_phases * cfg.sleep_steps * n) * 1e9,
    }


def main(full: bool) -> None:
    exact = cycle_times("exact")
    window = cycle_times("window")
    print(f"bm_network_units: {exact['n']} neurons")
    for name, t in (("exact", exact), ("window", window)):
        print(f"bm_{name}_wake_sleep_cycle: {t['cycle'] * 1e3:.1f} ms")
        print(f"bm_{name}_wake_ns_per_neuron_step: {t['wake_ns']:.1f} ns")
        print(f"bm_{name}_sleep_ns_per_neuron_step: {t['sleep_ns']:.1f} ns")
        print(f"bm_{name}_epoch: {t['epoch']:.2f} s")
    print(f"bm_exact_over_window_cycle: {exact['cycle'] / window['cycle']:.2f} x")
    # the plain reference engine (spikealign.sim.reference, one neuron at a time): one cycle
    ref = cycle_times("exact", reps=1, engine="reference")
    print(f"bm_reference_wake_sleep_cycle: {ref['cycle'] * 1e3:.1f} ms")
    print(f"bm_fast_over_reference_speedup: {ref['cycle'] / exact['cycle']:.1f} x")
    if full:
        cfg = load_config("digits-quick")
        from spikealign.bm.run import run

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            m = run(cfg, f"{tmp}/run", show_progress=False, make_figure=False)
            wall = time.perf_counter() - t0
        print(f"bm_digits_quick_training: {wall:.1f} s")
        print(f"bm_digits_quick_validation_accuracy: {m['validation_accuracy']:.3f} fraction")
        print(f"bm_digits_quick_test_accuracy: {m['test_accuracy']:.3f} fraction")


if __name__ == "__main__":
    main("--full" in sys.argv[1:])
