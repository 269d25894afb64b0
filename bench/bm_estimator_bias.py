"""How biased the triangular-window coactivation estimate is, on a digit Boltzmann machine.

For the network of a finished bm run (``results.npz``: ``final_weights``, ``final_biases``;
default: a fresh ``digits-quick`` network trained here for 4 epochs), simulates wake phases
(an image clamped) and free sleep phases, and compares on the same spikes

* the exact time average ``C[i, j] = 1/T sum_t z_i z_j`` (the engine's counts), with
* the SSN's estimate ``S_tri t_ref / T`` (pair STDP with the triangular window of width
  ``t_ref``: zero for same-step spikes, on-time past the phase end counted),
* the window estimate with the same-step coincidences added back (``+ t_ref`` per pair of
  spikes in one step).

Prints one figure per line: the ratio window / exact over the hidden x data pairs (median and
5-95 % range over pairs with a coactivation above 1e-3) for wake and sleep, and the largest
absolute difference of the corrected estimate.

    python bench/bm_estimator_bias.py [RUN_DIR] [--phases N]
"""

from __future__ import annotations

import sys

import numpy as np

from spikealign.bm import load_config
from spikealign.bm.train import Trainer
from spikealign.stdp import Window


def coincidences(spikes, n):
    """Pairs of spikes in the same step, as an (n, n) count matrix (symmetric)."""
    out = np.zeros((n, n))
    t, i = spikes[:, 0], spikes[:, 1]
    for step in np.unique(t):
        ids = i[t == step]
        for a in ids:
            for b in ids:
                if a != b:
                    out[a, b] += 1
    return out


def measure(net, clamps, T, t_ref, rng):
    tri = Window("tri", 1.0, 1.0, float(t_ref), float(t_ref))
    n = net.n
    exact = np.zeros((n, n))
    window = np.zeros((n, n))
    same = np.zeros((n, n))
    for clamp in clamps:
        st = net.phase(T, rng, clamp, windows=(tri,), record=True, coactivation=True)
        exact += st.co / T
        window += st.stdp[0] * t_ref / T
        same += coincidences(st.spikes, n) * t_ref / T
    k = len(clamps)
    return exact / k, window / k, (window + same) / k


def summarise(name, exact, window, corrected, pairs):
    sel = pairs & (exact > 1e-3)
    r = window[sel] / exact[sel]
    print(f"{name}_window_over_exact_median: {np.median(r):.3f} ratio")
    print(f"{name}_window_over_exact_p05: {np.quantile(r, 0.05):.3f} ratio")
    print(f"{name}_window_over_exact_p95: {np.quantile(r, 0.95):.3f} ratio")
    print(f"{name}_corrected_max_abs_difference: {np.abs(corrected - exact)[pairs].max():.2e}")


def main(argv):
    phases = int(argv[argv.index("--phases") + 1]) if "--phases" in argv else 20
    cfg = load_config("digits-quick")
    tr = Trainer(cfg)
    state = tr.initial_state()
    run_dir = next((a for a in argv if not a.startswith("--") and not a.isdigit()), None)
    if run_dir:
        with np.load(f"{run_dir}/results.npz") as a:
            state.W, state.b = a["final_weights"], a["final_biases"]
    else:
        for _ in range(4):
            tr.epoch(state)
    net = tr.network(state)
    d = tr.setup.data
    rng = np.random.default_rng(1)
    n_data = net.n_data
    pairs = np.zeros((net.n, net.n), dtype=bool)
    pairs[n_data:, :n_data] = True
    pairs[:n_data, n_data:] = True
    wake = [net.clamp_vector(d.x_train[k], d.y_train[k]) for k in range(phases)]
    summarise("wake", *measure(net, wake, cfg.wake_steps, cfg.sim.t_ref, rng), pairs)
    summarise("sleep", *measure(net, [None] * phases, cfg.sleep_steps, cfg.sim.t_ref, rng), pairs)


if __name__ == "__main__":
    main(sys.argv[1:])
