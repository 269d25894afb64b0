"""Benchmark of the analytic STDD and the full figure-11 grid. One figure per line:
``name: value unit``.

    PYTHONPATH=src python bench/bench_principle.py [--skip-fig11] [--workers N]

* ``stdd_t_max_102``: one analytic STDD at t_max 102 (Fig 2c settings: rect, t_ref = t_syn =
  50), the fast path (vectorised chain, boundary-elimination stationary solve). Upstream's ``stddc``
  takes about 4.6 s here; the target is <= 50 ms.
* ``stdd_reference_loop_built_t_max_102``: the same STDD by the plain loop-built reference
  (:mod:`spikealign.principle.reference`: Python loops over matrix entries, sparse LU, explicit
  propagation), and the ratio.
* ``fig11_grid_total``: the full Fig 11 data (3 PSPs x 81 bias pairs x 10 x 10 weights = 24,300
  STDDs at t_max 20, plus 243 attractor lines), in worker processes; upstream about 25
  CPU-minutes and several GB. Peak memory: the largest resident set of the main process plus
  that of the largest worker times the number of workers (an upper bound: forked workers share
  pages with the main process).
"""

from __future__ import annotations

import argparse
import resource
import time


def _best_ms(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def _median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-fig11", action="store_true", help="only the per-STDD timings")
    ap.add_argument("--workers", type=int, default=None, help="processes for the fig 11 grid")
    args = ap.parse_args()

    from spikealign.principle import stdd
    from spikealign.principle.reference import reference_stdd

    kw = dict(t_ref=50, t_syn=50, t_max=102, psp="rect")
    stdd(0.8, 0.4, -0.5, -0.5, **kw)  # compile/load the numba kernel
    fast = _median_ms(lambda: stdd(0.8, 0.4, -0.5, -0.5, **kw), 30)
    fast_sim = _median_ms(lambda: stdd(0.8, 0.4, -0.5, -0.5, chain="simulator", **kw), 30)
    ref = _best_ms(lambda: reference_stdd(0.8, 0.4, -0.5, -0.5, **kw), 2)
    print(f"stdd_t_max_102: {fast:.2f} ms")
    print(f"stdd_simulator_chain_t_max_102: {fast_sim:.2f} ms")
    print(f"stdd_reference_loop_built_t_max_102: {ref:.0f} ms")
    print(f"stdd_speedup_vs_reference: {ref / fast:.0f} x")
    small = dict(t_ref=10, t_syn=10 / 3, t_max=20, psp="alpha")
    print(
        f"stdd_t_max_20_alpha: "
        f"{_median_ms(lambda: stdd(0.5, -0.5, 0.25, 0.0, **small), 200):.3f} ms"
    )
    if args.skip_fig11:
        return

    from spikealign.principle.drift import default_workers
    from spikealign.principle.figures import fig11_data

    workers = default_workers() if args.workers is None else args.workers
    t = time.perf_counter()
    b_range, w, grids, dev, lines = fig11_data(quick=False, workers=workers)
    total = time.perf_counter() - t
    n_stdd = grids.shape[0] * grids.shape[1] * grids.shape[2] * grids.shape[3] * grids.shape[4]
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak = main_mb + (workers * child_mb if workers > 1 else 0.0)
    print(f"fig11_grid_stdds: {n_stdd} STDDs")
    print(f"fig11_grid_workers: {workers} processes")
    print(f"fig11_grid_total: {total:.1f} s")
    print(f"fig11_cpu_per_stdd_incl_attractors: {total * 1e3 / n_stdd * workers:.3f} ms")
    print(f"fig11_peak_memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
