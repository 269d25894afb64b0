"""Benchmark of the microcircuit engines; prints one figure per line, ``name: value unit``.

* ``*_fast`` / ``*_reference``: time per simulated step of a training pattern (forward
  plasticity, nudging, the paper's recordings) for 1-1-1 (the paper) and 10-20-5 networks;
  ``*_ratio``: reference time / fast time.
* ``mc_run_sal_*``: a whole run of the ``sal`` preset (teacher, training, symmetrization,
  validation, free validation) shortened to a few epochs, per step; and the projected time of
  the paper's full run (150 epochs: 78 M steps, plus 18 M steps of free validation).

Times are CPU seconds of this process (``time.process_time``), which a busy shared machine
distorts less than wall time; the engines are single-threaded.

Usage: ``PYTHONPATH=src python bench/bench_microcircuits.py [--quick]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from spikealign.microcircuits import load_config, simulate
from spikealign.microcircuits.drive import Drive, run_pattern
from spikealign.microcircuits.network import NetParams, Network
from spikealign.microcircuits.protocol import student_total_steps, teacher_steps
from spikealign.microcircuits.recording import Recorder

PAPER_STEPS = 150 * 26 * 20000  # the paper's student run


def network(dims, seed=0):
    n = len(dims)
    net = Network(
        NetParams(
            dims=tuple(dims),
            lr_up=(0.0,) + (0.2,) * (n - 2) + (0.003,),
            lr_down=(0.0,) + (0.001,) * (n - 2) + (0.0,),
        )
    )
    rng = np.random.default_rng(seed)
    weights = []
    for layer in range(1, n):
        entry = {"w_up": rng.uniform(-3, 3, (dims[layer], dims[layer - 1])) / dims[layer - 1]}
        if layer < n - 1:
            entry["w_down"] = rng.uniform(-3, 3, (dims[layer], dims[layer + 1]))
        weights.append(entry)
    net.set_weights(weights)
    net.distribute_weights()
    net.set_bias([-1.0] * (n - 1))
    return net


def per_step(dims, engine, n_steps, repeats=3):
    """Best-of-``repeats`` seconds per step of training patterns of ``n_steps`` steps."""
    quantities = (
        [["u_in"]]
        + [["u_pyr", "v_api", "w_up", "w_down"]] * (len(dims) - 2)
        + [["u_pyr", "v_nudge", "u_tgt", "w_up", "validation", "symmetrization"]]
    )
    best = float("inf")
    for r in range(repeats + 1):
        net = network(dims)
        rec = Recorder(net, quantities, n_steps, 20000)
        rng = np.random.default_rng(r)
        drive = Drive(
            u_in=np.full(dims[0], 0.8),
            u_tgt=np.full(dims[-1], 0.5),
            n_steps=n_steps,
            lag=min(2000, n_steps // 10),
            plast_up=True,
        )
        t0 = time.process_time()
        run_pattern(net, drive, rng, engine=engine, recorder=rec)
        dt = (time.process_time() - t0) / n_steps
        if r > 0 or engine == "reference":  # r = 0 warms up (compilation)
            best = min(best, dt)
    return best


def main(quick: bool = False):
    scale = 0.2 if quick else 1.0
    for dims, n_fast, n_ref in (((1, 1, 1), 2_000_000, 20_000), ((10, 20, 5), 400_000, 2_000)):
        name = "-".join(map(str, dims))
        fast = per_step(dims, "fast", int(n_fast * scale))
        ref = per_step(dims, "reference", int(n_ref * scale), repeats=1)
        print(f"mc_step_{name}_fast: {fast * 1e9:.1f} ns/step", flush=True)
        print(f"mc_step_{name}_reference: {ref * 1e6:.1f} us/step", flush=True)
        print(f"mc_step_{name}_ratio: {ref / fast:.0f} x", flush=True)
    epochs = 2 if quick else 10
    cfg = load_config("sal", [f"student_simulation_settings.num_epochs={epochs}"])
    simulate(load_config("sal", ["student_simulation_settings.num_epochs=1"]), 0)  # warm-up
    t0 = time.process_time()
    simulate(cfg, 0)
    wall = time.process_time() - t0
    steps = teacher_steps(cfg) + student_total_steps(cfg)
    print(f"mc_run_sal_{epochs}_epochs_fast: {wall / steps * 1e9:.1f} ns/step", flush=True)
    full = load_config("sal")
    projected = wall / steps * (teacher_steps(full) + student_total_steps(full))
    print(f"mc_run_sal_paper_projected: {projected:.1f} s", flush=True)
    print(f"mc_paper_student_steps: {PAPER_STEPS / 1e6:.0f} M steps", flush=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
