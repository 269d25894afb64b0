"""SAL drift of the two weights, phase-plane grids, the attractor line and its deviation.

Drift (reference section 1.6). For an STDD ``p`` over ``dt = t_A - t_B`` and an STDP window
``K`` (``spikealign.stdp``; ``dt = t_post - t_pre``):

    dW_AB = sum_dt p(dt) K(dt)        (A is post, B is pre)
    dW_BA = sum_dt p(dt) K(-dt)       (B is post: its dt is t_B - t_A = -dt)

with the ``dt = 0`` bin left out (``K(0) = 0``; the bin may hold NaN). For an antisymmetric
window, ``K(-dt) = -K(dt)``, so ``dW_BA = -dW_AB`` exactly: SAL keeps ``W_AB + W_BA`` and moves
both weights toward their mean. Per-synapse windows (``(2, 2)`` parameter matrices) use entry
``[0, 1]`` for ``W_AB`` and ``[1, 0]`` for ``W_BA``.

Phase plane (section 1.8). ``phase_plane(w, ...)[i, j] = (dW_AB, dW_BA)`` at ``W_AB = w[i]``,
``W_BA = w[j]``. The *attractor line* is the zero set of ``dW_AB``: for every ``W_BA`` on a grid
(optionally upscaled by cubic interpolation), the roots in ``W_AB`` of a cubic spline through
``dW_AB(., W_BA)``. Its *mean relative deviation from the diagonal* is

    D = 1/(x_end - x_start) int (|x - y| / 2) / |(x + y) / 2| dx

over the attractor points ``(x, y) = (W_BA, W_AB)`` (trapezoid rule), as upstream. Note the
``1/|mean|``: ``D`` is large when the attractor passes near the origin off the diagonal.

Grids run in worker processes (``workers``) in row blocks; only the drift grid is kept.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from ..config import ConfigError
from ..stdp import Window
from .chain import BYTES_PER_STATE, ChainSpec, check_memory, spike_probabilities, stationary
from .stdd import assemble, half_histograms, resolve_ties


def _window_values(window: Window, dt):
    if not isinstance(window, Window):
        raise ConfigError(
            "window: must be a spikealign.stdp Window (exp_window, tri_window, sal_window)"
        )
    dt = np.asarray(dt, dtype=float)
    if window.per_synapse:
        if any(p.ndim == 2 and p.shape != (2, 2) for p in window._params()):
            raise ConfigError("window: per-synapse parameters must be (2, 2) for two neurons")
        k_ab = window(dt, post=0, pre=1)
        k_ba = window(-dt, post=1, pre=0)
    else:
        k_ab = window(dt)
        k_ba = window(-dt)
    mask = dt != 0
    return np.where(mask, k_ab, 0.0), np.where(mask, k_ba, 0.0)


def sal_drift(dt, p, window: Window):
    """``(dW_AB, dW_BA)`` of an STDD ``(dt, p)`` under ``window`` (module docstring)."""
    dt = np.asarray(dt)
    p = np.asarray(p, dtype=float)
    if dt.shape != p.shape or dt.ndim != 1:
        raise ValueError("sal_drift: dt and p must be 1-D arrays of the same length")
    k_ab, k_ba = _window_values(window, dt)
    q = np.where(dt != 0, p, 0.0)
    return float(q @ k_ab), float(q @ k_ba)


# -- phase planes ----------------------------------------------------------------------------


def simulated_sal_drift(
    w: float, biases, params, steps: int, rng, window: Window | None = None
) -> float:
    """SAL's drift ``dW_AB`` per 1000 steps, measured in a two-unit network on the diagonal.

    Simulates units A, B with ``W_AB = W_BA = w`` and biases ``(b_A, b_B)`` for ``steps`` steps
    with the core engine (:func:`spikealign.sim.phase_statistics`, ``params`` a
    :class:`~spikealign.sim.SimParams`) and returns the summed window ``K(t_A - t_B)`` over every
    spike pair, scaled to 1000 steps: the simulation counterpart of :func:`sal_drift` on the
    diagonal. The default window is SAL's anti-Hebbian triangle of half-width ``t_ref``.
    """
    from ..sim import phase_statistics  # the engine imports nothing from here; keep it lazy

    if window is None:
        window = Window("tri", -1.0, 1.0, params.t_ref, params.t_ref)
    W = np.array([[0.0, float(w)], [float(w), 0.0]])
    stats = phase_statistics(
        W, np.asarray(biases, float), int(steps), params, rng, windows=(window,)
    )
    return float(stats.stdp[0][0, 1] / steps * 1e3)


def _rows_task(args):
    """Worker: drift for rows ``rows`` of a phase plane."""
    rows, w_values, b_a, b_b, spec, ties, k_ab, k_ba = args
    kappa = spec.kappa()
    out = np.empty((len(rows), len(w_values), 2))
    for r, i in enumerate(rows):
        for j, w_ba in enumerate(w_values):
            a, b, na, nb = spike_probabilities(
                w_values[i], w_ba, b_a, b_b, spec, kappa, complements=True
            )
            p = stationary(a, b, na, nb)
            right, left = half_histograms(p, a, b, ties, na, nb)
            _, full = assemble(right, left, "zero")
            out[r, j, 0] = full @ k_ab
            out[r, j, 1] = full @ k_ba
    return rows, out


def default_workers() -> int:
    """Worker processes for grids: ``SPIKEALIGN_WORKERS`` if set, else the CPU count."""
    env = os.environ.get("SPIKEALIGN_WORKERS")
    if env:
        return max(1, int(env))
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def fill_rows(
    fn, tasks, workers: int | None, grid: np.ndarray, *, progress: bool = False, desc: str = "grid"
) -> np.ndarray:
    """Run row tasks (``fn(task) -> (rows, values)``) with :func:`run_tasks` and write each
    result into ``grid[rows]``; a progress bar over tasks when ``progress``."""

    def store(res):
        rows, out = res
        grid[rows] = out

    bar = None
    if progress:
        from ..progress import progress as make_bar

        bar = make_bar(total=len(tasks), desc=desc, unit="rows")
    try:
        run_tasks(fn, tasks, workers, store, bar)
    finally:
        if bar is not None:
            bar.close()
    return grid


def run_tasks(fn, tasks, workers: int | None, on_result, progress_bar=None):
    """Run ``fn(task)`` for every task, in ``workers`` processes (1: in this process), calling
    ``on_result(result)`` as results arrive. At most ``2 * workers`` tasks are in flight, so
    memory stays bounded by what the callers keep."""
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ConfigError(f"workers: must be >= 1 (got {workers})")
    tasks = list(tasks)
    if workers == 1 or len(tasks) <= 1:
        for t in tasks:
            on_result(fn(t))
            if progress_bar is not None:
                progress_bar.update(1)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as ex:
        pending = set()
        it = iter(tasks)
        for t in it:
            pending.add(ex.submit(fn, t))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                on_result(fut.result())
                if progress_bar is not None:
                    progress_bar.update(1)
            for t in it:
                pending.add(ex.submit(fn, t))
                if len(pending) >= 2 * workers:
                    break


def _check_grid(w_values):
    w = np.asarray(w_values, dtype=float)
    if w.ndim != 1 or len(w) < 1:
        raise ConfigError("w_values: must be a non-empty 1-D sequence of weights")
    if not np.all(np.isfinite(w)):
        raise ConfigError("w_values: must be finite")
    return w


def phase_plane(
    w_values,
    *,
    b_a,
    b_b,
    t_ref,
    t_syn,
    t_max,
    window,
    psp="rect",
    chain="upstream",
    ties=None,
    workers: int | None = 1,
    progress: bool = False,
):
    """SAL drift on the grid ``W_AB = w[i]``, ``W_BA = w[j]``: array ``(n, n, 2)`` holding
    ``(dW_AB, dW_BA)`` (module docstring; STDD options as :func:`spikealign.principle.stdd`).

    workers: processes to use (1: serial; None: all CPUs). Results do not depend on it.
    """
    w = _check_grid(w_values)
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    ties = resolve_ties(spec.chain, ties)
    n = len(w)
    nw = default_workers() if workers is None else int(workers)
    check_memory(
        n * n * 2 * 8 + max(1, nw) * BYTES_PER_STATE * spec.t_max**2,
        f"a {n} x {n} phase plane at t_max={spec.t_max}",
    )
    c = spec.t_max - 1
    dt = np.arange(-c, c + 1)
    k_ab, k_ba = _window_values(window, dt)
    grid = np.empty((n, n, 2))
    block = max(1, int(np.ceil(n / (4 * max(1, nw)))))
    tasks = [
        (list(range(s, min(n, s + block))), w, float(b_a), float(b_b), spec, ties, k_ab, k_ba)
        for s in range(0, n, block)
    ]
    return fill_rows(_rows_task, tasks, nw, grid, progress=progress, desc="phase plane")


def upscale(w_values, grid, n: int):
    """Cubic interpolation of a drift grid onto an ``n x n`` linspace grid over the same range
    (extrapolation allowed, as upstream). Returns ``(w_hd, grid_hd)``."""
    from scipy.interpolate import RegularGridInterpolator

    w = _check_grid(w_values)
    grid = np.asarray(grid, dtype=float)
    w_hd = np.linspace(w[0], w[-1], int(n))
    X, Y = np.meshgrid(w_hd, w_hd, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], axis=-1)
    out = np.empty((len(w_hd), len(w_hd), grid.shape[-1]))
    method = "cubic" if len(w) >= 4 else "linear"
    for k in range(grid.shape[-1]):
        ip = RegularGridInterpolator(
            (w, w), grid[..., k], method=method, bounds_error=False, fill_value=None
        )
        out[..., k] = ip(pts).reshape(len(w_hd), len(w_hd))
    return w_hd, out


def attractor(w_values, grid, *, n_upscale: int | None = 100, warn_multiple: bool = False):
    """Attractor line of a phase plane: rows ``(W_BA, W_AB)`` where ``dW_AB = 0``.

    For each ``W_BA`` of the (upscaled) grid, the roots in ``W_AB`` of a cubic spline through
    ``dW_AB(., W_BA)`` (no extrapolation). ``n_upscale=None`` uses the grid as it is.
    """
    from scipy.interpolate import CubicSpline

    w = _check_grid(w_values)
    grid = np.asarray(grid, dtype=float)[..., :1]  # only dW_AB is needed
    if n_upscale is not None:
        w, grid = upscale(w, grid, n_upscale)
    dw_ab = grid[..., 0]
    # one spline per column (axis 0 = W_AB), all fitted at once
    all_roots = CubicSpline(w, dw_ab, axis=0, extrapolate=False).roots()
    rows: list[tuple[float, float]] = []
    for k, w_ba in enumerate(w):
        roots = np.asarray(all_roots[k], dtype=float)
        roots = roots[np.isfinite(roots)]
        if len(roots) > 1 and warn_multiple:
            warnings.warn(f"attractor: {len(roots)} roots at W_BA={w_ba:g}", stacklevel=2)
        rows.extend((w_ba, r) for r in roots)
    return np.array(rows, dtype=float).reshape(-1, 2)


def rotate_attractor(points):
    """Map attractor points ``(x, y)`` to ``(mean, -(x - y) / 2)``."""
    pts = np.asarray(points, dtype=float)
    return np.column_stack([0.5 * (pts[:, 0] + pts[:, 1]), -0.5 * (pts[:, 0] - pts[:, 1])])


def attractor_deviation(points) -> float:
    """Mean relative deviation of the attractor from the diagonal (module docstring); NaN if
    the attractor has fewer than two points."""
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2 or pts[-1, 0] == pts[0, 0]:
        return float("nan")
    x, y = pts[:, 0], pts[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 0.5 * np.abs(x - y) / np.abs(0.5 * (x + y))
    return float(np.trapezoid(d, x=x) / abs(x[-1] - x[0]))
