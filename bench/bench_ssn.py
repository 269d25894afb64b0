"""Benchmark of the SSN simulators and training (a script, not a test).

Prints one figure per line, ``name: value unit``:

* fast (event-driven) simulator ns/step (7 neurons, the paper's target network, 1e7 steps,
  no statistics), and the previous stepping engine on the same phase
* the same with the training statistics streamed (two STDP windows) and with the validation
  statistics (two windows + state histogram)
* reference simulator ns/step and the fast/reference ratio
* seconds per training cycle of the paper config (50 000-step sleep phase + both STDP passes)
* peak memory of one validation cycle with val_factor 1000 (measured in a fresh process)
* wall time of the full syn_noise_sal run (3.05e9 steps) on one core (skip with --no-full-run)

Usage: python bench/bench_ssn.py [--no-full-run]
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
from spikealign.ssn.run import run
from spikealign.ssn.setup import draw_target
from spikealign.ssn.train import initial_state

MEMORY_PROBE = """
import resource, numpy as np
from spikealign.ssn import Trainer, load_config
from spikealign.ssn.train import initial_state
cfg = load_config("syn_noise_sal")
tr = Trainer(cfg)
st = initial_state(cfg, tr.problem)
tr.training_cycles(st, 1)            # compile / load every kernel first
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tr.validation_cycle(st)              # 5e7 steps, val_factor 1000
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak / 1024, (peak - base) / 1024)
"""


def line(name, value, unit):
    print(f"{name}: {value:.4g} {unit}", flush=True)


def timed(fn, repeat=3):
    """Best CPU time of this process over ``repeat`` calls (a busy machine inflates wall time
    but hardly the CPU time of a single-threaded kernel)."""
    best = np.inf
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-full-run", action="store_true")
    args = ap.parse_args()

    cfg = load_config("syn_noise_sal")
    W, b = draw_target(cfg)
    params = SimParams(t_ref=50, tau_syn=50, n_last_psp=1)
    tr = Trainer(cfg)
    windows = tr.windows
    rng = np.random.default_rng(0)
    phase_statistics(W, b, 10_000, params, rng, windows=windows, sample_every=25)  # warm up

    n = 10_000_000
    t = timed(lambda: phase_statistics(W, b, n, params, rng))
    fast = t / n * 1e9
    line("fast simulator, 7 neurons, 1e7 steps", fast, "ns/step")
    t = timed(lambda: phase_statistics(W, b, n, params, rng, windows=windows))
    line("fast simulator + training statistics (2 STDP windows)", t / n * 1e9, "ns/step")
    t = timed(lambda: phase_statistics(W, b, n, params, rng, windows=windows, sample_every=25))
    line("fast simulator + validation statistics (2 windows + states)", t / n * 1e9, "ns/step")

    n_ref = 100_000
    t = timed(lambda: phase_statistics(W, b, n_ref, params, rng, engine="reference"), repeat=1)
    ref = t / n_ref * 1e9
    line("reference simulator, 7 neurons", ref, "ns/step")
    line("fast / reference speed-up", ref / fast, "x")
    t = timed(lambda: phase_statistics(W, b, n, params, rng, engine="stepwise"))
    line("previous (stepping) compiled simulator, 7 neurons", t / n * 1e9, "ns/step")
    line("fast / stepping speed-up", t / n * 1e9 / fast, "x")

    st = initial_state(cfg, tr.problem)
    tr.training_cycles(st, 10)
    k = 2000
    t = timed(lambda: tr.training_cycles(st, k), repeat=1)
    line("training cycle of the paper config (50 000 steps + both STDP passes)", t / k, "s")

    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    line("validation cycle (val_factor 1000, 5e7 steps): process peak RSS", float(out[0]), "MB")
    line("validation cycle (val_factor 1000): memory added by the cycle", float(out[1]), "MB")

    if not args.no_full_run:
        full = load_config("syn_noise_sal")
        with tempfile.TemporaryDirectory() as d:
            t0, c0 = time.perf_counter(), time.process_time()
            m = run(full, d, show_progress=False, make_figure=False)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        line("full syn_noise_sal run (3.05e9 steps, one core), wall", wall, "s")
        line("full syn_noise_sal run (3.05e9 steps, one core), CPU", cpu, "s")
        line("full syn_noise_sal run, average", m["ns_per_step"], "ns/step")


if __name__ == "__main__":
    main()
