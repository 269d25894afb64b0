"""Where SAL's drift vanishes for two units of unequal bias, under each neuron convention.

SAL moves ``W_AB`` and ``W_BA`` toward each other only if its drift vanishes on the diagonal
``W_AB = W_BA``. For two units with equal biases it does by symmetry. For unequal biases (a
hidden unit at ``b = -2`` and a visible unit at ``b = +1``, as in a digit network) it does only
when the rect PSP's ``tau_syn`` equals the minimum inter-spike interval ``min_isi``. This
script simulates the two-unit network with the core engine
(``spikealign.principle.drift.simulated_sal_drift``) at ``W_AB = W_BA = w`` and reports the
SAL drift ``dW_AB`` (anti-Hebbian triangular window of width ``t_ref``, per 1000 steps, mean
and standard error over ``--seeds`` chains of ``--steps`` steps) for

* the Boltzmann-machine convention (``tau_syn = 11``, ``min_isi = t_ref = 10``: the PSP covers
  exactly the on-state, exact sampling),
* the SSN's (paper) convention (``tau_syn = 10``, ``min_isi = 11``),
* ``tau_syn = min_isi`` (10/10 and 11/11).

A nonzero drift on the diagonal means SAL's fixed point lies off it: SAL then holds the pair
at a finite asymmetry of its own. One figure per line.

    python bench/bm_sal_fixed_point.py [--steps N] [--seeds K]
"""

from __future__ import annotations

import sys

import numpy as np

from spikealign.principle.drift import simulated_sal_drift
from spikealign.sim import SimParams

CONVENTIONS = {
    "bm_tau11_isi10": (11, 10),
    "ssn_tau10_isi11": (10, 11),
    "tau10_isi10": (10, 10),
    "tau11_isi11": (11, 11),
}


def drift_on_diagonal(tau_syn, min_isi, w, b=(-2.0, 1.0), *, steps, seeds):
    """SAL dW_AB per 1000 steps at W_AB = W_BA = w: (mean, standard error) over seeds."""
    params = SimParams(t_ref=10, tau_syn=tau_syn, psp="rect", min_isi=min_isi)
    vals = [
        simulated_sal_drift(w, b, params, steps, np.random.default_rng(s)) for s in range(seeds)
    ]
    return float(np.mean(vals)), float(np.std(vals, ddof=1) / np.sqrt(seeds))


def main(argv) -> None:
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 4_000_000
    seeds = int(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else 4
    for name, (tau, isi) in CONVENTIONS.items():
        for w in (0.3, 0.8):
            m, se = drift_on_diagonal(tau, isi, w, steps=steps, seeds=seeds)
            print(f"sal_drift_{name}_w{w}: {m:+.4f} +- {se:.4f} per 1000 steps")


if __name__ == "__main__":
    main(sys.argv[1:])
