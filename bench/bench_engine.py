"""Benchmark of the event-driven sampling engine against the stepping engine it replaced.

Prints one figure per line, ``name: value unit``; every ratio compares the two engines in the
same run (``sim.fast``, event-driven, and ``sim.stepwise``, the previous compiled engine that
walks every step). CPU time of this process is measured (``time.process_time``), so a busy
machine inflates both engines alike.

* the paper's 7-neuron network (the figure-4 target): ns per step with no statistics, with the
  training statistics (two STDP windows) and with the validation statistics (+ state
  histogram); ns per spike; ratios to the stepping engine
* random networks of N = 20, 50, 200, 1000 neurons at the paper's rates (about 0.01 spikes
  per neuron and step): ns per step and per spike (fixed-point potentials above 12 neurons),
  and the stepping engine on the same network
* a sparse network (N = 1000, 2 % of the synapses): ns per step and per spike
* memory: peak RSS added by a 1e6- and a 1e9-step phase (flat in the phase length)
* the full ``syn_noise_sal`` paper run on one core, and the v2 figures 4 + 5 sweeps projected
  on 2 cores from the measured cost per step (skip with ``--no-full-run``)

Usage: python bench/bench_engine.py [--no-full-run] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import numpy as np

from spikealign.sim import SimParams, phase_statistics
from spikealign.ssn import Trainer, load_config
from spikealign.ssn.setup import draw_target

MEMORY_PROBE = """
import resource, sys, numpy as np
from spikealign.sim import SimParams, phase_statistics
from spikealign.stdp import sal_window, tri_window
rng = np.random.default_rng(0)
W = rng.uniform(-1, 1, (7, 7)); b = rng.uniform(-1, 1, 7)
p = SimParams(t_ref=50, tau_syn=50, n_last_psp=1)
w = (tri_window(1.0, 1.0, 50, 50), sal_window(50))
phase_statistics(W, b, 1000, p, rng, windows=w, sample_every=25)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
phase_statistics(W, b, int(sys.argv[1]), p, rng, windows=w, sample_every=25)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def line(name, value, unit):
    print(f"{name}: {value:.4g} {unit}", flush=True)


def cpu_time(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def per_step(W, b, n_steps, params, engine, **kw):
    rng = np.random.default_rng(1)
    phase_statistics(W, b, 1000, params, rng, engine=engine, **kw)  # compile / load
    t, st = cpu_time(lambda: phase_statistics(W, b, n_steps, params, rng, engine=engine, **kw))
    return t / n_steps * 1e9, t / max(int(st.counts.sum()), 1) * 1e9


def paper_network(n_steps):
    cfg = load_config("syn_noise_sal")
    W, b = draw_target(cfg)
    params = SimParams(t_ref=50, tau_syn=50, n_last_psp=1)
    windows = Trainer(cfg).windows
    cases = (
        ("no statistics", {}),
        ("training statistics (2 STDP windows)", {"windows": windows}),
        ("validation statistics (2 windows + states)", {"windows": windows, "sample_every": 25}),
    )
    for name, kw in cases:
        fast, fast_spike = per_step(W, b, n_steps, params, "fast", **kw)
        step, _ = per_step(W, b, n_steps, params, "stepwise", **kw)
        line(f"7 neurons, {name}: event-driven", fast, "ns/step")
        line(f"7 neurons, {name}: event-driven", fast_spike, "ns/spike")
        line(f"7 neurons, {name}: stepping engine", step, "ns/step")
        line(f"7 neurons, {name}: speed-up over the stepping engine", step / fast, "x")


def random_network(n, seed=0, density=1.0):
    """Symmetric couplings scaled so that the rates stay near the paper's (about 0.01 spikes
    per neuron and step at t_ref = 50)."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1, 1, (n, n)) * np.sqrt(7.0 / (n * density))
    if density < 1.0:
        W *= rng.random((n, n)) < density
    W = np.triu(W, 1)
    return W + W.T, rng.uniform(-1, 1, n)


def scaling(sizes, n_steps):
    for n in sizes:
        W, b = random_network(n)
        params = SimParams(t_ref=50, tau_syn=50, n_last_psp=1)
        steps = max(int(n_steps * 7 / n), 20_000)
        fast, fast_spike = per_step(W, b, steps, params, "fast")
        line(f"N = {n}, dense, event-driven", fast, "ns/step")
        line(f"N = {n}, dense, event-driven", fast_spike, "ns/spike")
        ordered = SimParams(t_ref=50, tau_syn=50, n_last_psp=1, potentials="ordered")
        step_steps = max(steps // (10 if n >= 200 else 1), 20_000)
        step, _ = per_step(W, b, step_steps, ordered, "stepwise")
        line(f"N = {n}, dense, stepping engine", step, "ns/step")
        line(f"N = {n}, dense, speed-up over the stepping engine", step / fast, "x")
    W, b = random_network(1000, density=0.02)
    params = SimParams(t_ref=50, tau_syn=50, n_last_psp=1)
    fast, fast_spike = per_step(W, b, max(n_steps // 100, 20_000), params, "fast")
    line("N = 1000, 2 % of synapses, event-driven", fast, "ns/step")
    line("N = 1000, 2 % of synapses, event-driven", fast_spike, "ns/spike")


def memory():
    for steps in (10**6, 10**9):
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(steps)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        line(
            f"memory added by a {steps:.0e}-step phase (7 neurons, all statistics)",
            float(out[0]),
            "MB",
        )


def full_run():
    from spikealign.ssn.run import run
    from spikealign.sweep.kinds import SSN_NS_PER_STEP
    from spikealign.sweep.presets import build_specs

    cfg = load_config("syn_noise_sal")
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), time.process_time()
        run(cfg, d, show_progress=False, make_figure=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    line("full syn_noise_sal run (3.05e9 steps, one core), wall", wall, "s")
    line("full syn_noise_sal run (3.05e9 steps, one core), CPU", cpu, "s")
    ns = cpu / cfg.total_steps * 1e9
    line("full syn_noise_sal run, average CPU", ns, "ns/step")
    # each spec's cost is its step count times SSN_NS_PER_STEP
    _, specs = build_specs(["fig4", "fig5"])
    steps = sum(s.cost for s in specs) / (SSN_NS_PER_STEP * 1e-9)
    line(
        "v2 figures 4 + 5 sweeps (720 runs), projected on 2 cores from that average",
        steps * ns * 1e-9 / 2 / 3600,
        "h",
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-full-run", action="store_true")
    ap.add_argument("--quick", action="store_true", help="shorter phases (noisier figures)")
    args = ap.parse_args()
    n_steps = 2_000_000 if args.quick else 20_000_000
    paper_network(n_steps)
    scaling((20, 50, 200, 1000), n_steps)
    memory()
    if not args.no_full_run:
        full_run()


if __name__ == "__main__":
    main()
