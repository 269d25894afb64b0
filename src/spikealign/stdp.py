"""STDP windows and pair-based accumulation.

Conventions (README.md): weights are ``W[post, pre]``; an STDP matrix ``S[i, j]``
is the update of ``W[i, j]``; the spike-time difference is ``dt = t_post - t_pre`` (``dt > 0``
is causal).

Windows
-------
``exp``:  K(dt) = a_plus exp(-dt / tau_plus)       for dt > 0,
          K(dt) = a_minus exp(dt / tau_minus)      for dt < 0,   K(0) = 0.
``tri``:  K(dt) = a_plus (1 - dt / tau_plus)       for 0 < dt < tau_plus,
          K(dt) = a_minus (1 + dt / tau_minus)     for -tau_minus < dt < 0,   0 otherwise.

All four parameters are honoured (upstream passes ``tau_minus`` for both time constants). Each
may be a scalar or an ``(n, n)`` matrix of per-synapse values: entry ``[i, j]`` then belongs to
the synapse ``j -> i``.

The SAL window is anti-Hebbian: causal pairs are depressed and anti-causal pairs potentiated,
``a_plus = -A``, ``a_minus = +A`` (:func:`sal_window`). With ``tau_plus = tau_minus`` it is odd,
K(-dt) = -K(dt), so the expected updates of ``W_ij`` and ``W_ji`` are exactly opposite.

Pair-based accumulation (:func:`pair_stdp`)
-------------------------------------------
Spikes are processed in record order (time, then neuron id). When neuron ``p`` spikes at ``t``,
for every other neuron ``q`` and each of the ``n_last`` most recent spikes ``s`` of ``q`` (spikes
at or before ``t`` processed so far):

    S[p, q] += K_pq(t - s)        (p is post: causal side)
    S[q, p] += K_qp(-(t - s))     (q is post of the synapse p -> q: anti-causal side)

then ``t`` is pushed onto ``p``'s list. Each cross pair is thus counted once per direction as
long as the earlier spike is among the ``n_last`` most recent ones; simultaneous spikes add
K(0) = 0. ``K_pq`` uses the parameters of synapse ``(p, q)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

WINDOW_KINDS = {"exp": 0, "tri": 1}


def window_value_py(kind, a_plus, a_minus, tau_plus, tau_minus, dt):
    """Scalar window value, pure Python (bit-identical to its compiled twin)."""
    if dt > 0:
        if kind == 0:
            return a_plus * math.exp(-dt / tau_plus)
        if dt < tau_plus:
            return a_plus * (1.0 - dt / tau_plus)
        return 0.0
    if dt < 0:
        if kind == 0:
            return a_minus * math.exp(dt / tau_minus)
        if dt > -tau_minus:
            return a_minus * (1.0 + dt / tau_minus)
        return 0.0
    return 0.0


window_value = njit(cache=True)(window_value_py)


def _as_param(value, name: str):
    arr = np.asarray(value, dtype=float)
    if arr.ndim not in (0, 2) or (arr.ndim == 2 and arr.shape[0] != arr.shape[1]):
        raise ValueError(f"stdp window: {name} must be a scalar or a square (n, n) matrix")
    if name.startswith("tau") and np.any(arr <= 0):
        raise ValueError(f"stdp window: {name} must be > 0")
    return arr


@dataclass(frozen=True, eq=False)
class Window:
    """An STDP window (module docstring). Parameters are scalars or ``(n, n)`` matrices."""

    kind: str
    # given as scalars or (n, n) array-likes; float arrays after __post_init__
    a_plus: np.ndarray | float
    a_minus: np.ndarray | float
    tau_plus: np.ndarray | float
    tau_minus: np.ndarray | float
    _code: int = field(init=False, repr=False)

    def __post_init__(self):
        if self.kind not in WINDOW_KINDS:
            raise ValueError(f"stdp window: unknown kind {self.kind!r}; allowed: exp, tri")
        for name in ("a_plus", "a_minus", "tau_plus", "tau_minus"):
            object.__setattr__(self, name, _as_param(getattr(self, name), name))
        sizes = {p.shape[0] for p in self._params() if p.ndim == 2}
        if len(sizes) > 1:
            raise ValueError("stdp window: per-synapse matrices must all have the same size")
        object.__setattr__(self, "_code", WINDOW_KINDS[self.kind])

    def _params(self):
        return (self.a_plus, self.a_minus, self.tau_plus, self.tau_minus)

    @property
    def per_synapse(self) -> bool:
        return any(p.ndim == 2 for p in self._params())

    @property
    def code(self) -> int:
        """Integer kind code used by compiled kernels (exp 0, tri 1)."""
        return self._code

    def matrices(self, n: int) -> np.ndarray:
        """Parameters broadcast to a ``(4, n, n)`` array (a_plus, a_minus, tau_plus, tau_minus)."""
        out = np.empty((4, n, n))
        for k, p in enumerate(self._params()):
            if p.ndim == 2 and p.shape[0] != n:
                raise ValueError(
                    f"stdp window: per-synapse matrices are {p.shape}, network has {n}"
                )
            out[k] = p
        return out

    def __call__(self, dt, post: int | None = None, pre: int | None = None):
        """Window value at ``dt`` (array ok) for scalar windows or for synapse ``pre -> post``."""
        if self.per_synapse and (post is None or pre is None):
            raise ValueError("stdp window: per-synapse window needs post and pre indices")
        pars = [float(p if p.ndim == 0 else p[post, pre]) for p in self._params()]
        ap, am, tp, tm = pars
        dt = np.asarray(dt, dtype=float)
        if self.kind == "exp":
            pos = ap * np.exp(-np.abs(dt) / tp)
            neg = am * np.exp(-np.abs(dt) / tm)
        else:
            pos = ap * np.clip(1.0 - dt / tp, 0.0, None)
            neg = am * np.clip(1.0 + dt / tm, 0.0, None)
        return np.where(dt > 0, pos, np.where(dt < 0, neg, 0.0))

    def trace_tables(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Kernels of the online (trace) form of a scalar window over lags ``k = 0 .. n-1``.

        ``causal[k] = a_plus f(k / tau_plus)`` weighs a pre spike ``k`` steps before the post
        spike, ``anticausal[k] = a_minus f(k / tau_minus)`` a post spike ``k`` steps before the
        pre spike; ``f(x) = exp(-x)`` (exp) or ``(1 - x)_+`` (tri). The online rule

            S += post(t) (x) sum_k causal[k] pre(t-k) + sum_k anticausal[k] post(t-k) (x) pre(t)

        counts every pair with lag ``1 <= |dt| <= n-1`` once with the window value ``K(dt)``.
        Unlike the window, ``k = 0`` enters both sides (as in upstream's SALNet): simultaneous
        spikes add ``a_plus + a_minus``, which is 0 for the SAL window, matching ``K(0) = 0``.
        """
        if self.per_synapse:
            raise ValueError("stdp window: trace tables need a scalar window")
        k = np.arange(int(n), dtype=float)
        ap, am, tp, tm = (float(p) for p in self._params())
        if self.kind == "exp":
            return ap * np.exp(-k / tp), am * np.exp(-k / tm)
        return ap * np.clip(1.0 - k / tp, 0.0, None), am * np.clip(1.0 - k / tm, 0.0, None)

    def trace_decay(self) -> float:
        """Per-step decay ``exp(-1 / tau)`` of the recursive trace of a scalar exponential
        window with ``tau_plus == tau_minus`` (``trace(t) = decay * trace(t-1) + s(t)``)."""
        if self.kind != "exp" or self.per_synapse or float(self.tau_plus) != float(self.tau_minus):
            raise ValueError(
                "stdp window: a recursive trace needs a scalar exp window with "
                "tau_plus == tau_minus"
            )
        return math.exp(-1.0 / float(self.tau_plus))

    def with_amplitudes(self, a_plus, a_minus) -> Window:
        """The same window shape with other (scalar or per-synapse) amplitudes."""
        return Window(self.kind, a_plus, a_minus, self.tau_plus, self.tau_minus)


def exp_window(a_plus=1.0, a_minus=1.0, tau_plus=1.0, tau_minus=None) -> Window:
    """Exponential window; ``tau_minus`` defaults to ``tau_plus``."""
    return Window("exp", a_plus, a_minus, tau_plus, tau_plus if tau_minus is None else tau_minus)


def tri_window(a_plus=1.0, a_minus=1.0, tau_plus=1.0, tau_minus=None) -> Window:
    """Triangular window; ``tau_minus`` defaults to ``tau_plus``."""
    return Window("tri", a_plus, a_minus, tau_plus, tau_plus if tau_minus is None else tau_minus)


def sal_window(tau, amplitude=1.0, kind: str = "exp") -> Window:
    """The SAL window: causal pairs depressed (``a_plus = -A``), anti-causal potentiated."""
    amp = np.asarray(amplitude, dtype=float)
    return Window(kind, -amp, amp, tau, tau)


# -- pair-based accumulation -------------------------------------------------------------------


def _check_spikes(spikes, n_neurons):
    spikes = np.asarray(spikes)
    if spikes.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if spikes.ndim != 2 or spikes.shape[1] != 2:
        raise ValueError("spikes must be an (n, 2) array of (time, neuron) rows")
    ids = spikes[:, 1]
    if ids.min() < 0 or ids.max() >= n_neurons:
        raise ValueError(f"spike neuron ids must lie in [0, {n_neurons}) (0-based)")
    return spikes


def pair_stdp_reference(spikes, n_neurons: int, window: Window, n_last: int = 1) -> np.ndarray:
    """Plain-Python pair-based STDP (module docstring); the reference for :func:`pair_stdp`."""
    spikes = _check_spikes(spikes, n_neurons)
    pars = window.matrices(n_neurons)
    code = window.code
    S = np.zeros((n_neurons, n_neurons))
    history: list[list[float]] = [[] for _ in range(n_neurons)]
    for t, p in spikes:
        t, p = float(t), int(p)
        for q in range(n_neurons):
            if q == p:
                continue
            for s in history[q][-n_last:]:
                d = t - s
                # pars[:, p, q]: the 4 window parameters (a+, a-, tau+, tau-)
                S[p, q] += window_value_py(code, *pars[:, p, q], d)  # type: ignore[call-arg]
                S[q, p] += window_value_py(code, *pars[:, q, p], -d)  # type: ignore[call-arg]
        history[p].append(t)
    return S


@njit(cache=True)
def _pair_stdp_kernel(times, ids, n, code, pars, n_last, S):  # pragma: no cover - compiled
    ring = np.full((n, n_last), -np.inf)
    count = np.zeros(n, dtype=np.int64)
    for k in range(times.shape[0]):
        t = times[k]
        p = ids[k]
        for q in range(n):
            if q == p:
                continue
            m = min(count[q], n_last)
            for r in range(m):
                # oldest first, as the reference iterates history[q][-n_last:]
                idx = (count[q] - m + r) % n_last
                d = t - ring[q, idx]
                S[p, q] += window_value(
                    code, pars[0, p, q], pars[1, p, q], pars[2, p, q], pars[3, p, q], d
                )
                S[q, p] += window_value(
                    code, pars[0, q, p], pars[1, q, p], pars[2, q, p], pars[3, q, p], -d
                )
        ring[p, count[p] % n_last] = t
        count[p] += 1


def pair_stdp(spikes, n_neurons: int, window: Window, n_last: int = 1) -> np.ndarray:
    """Pair-based STDP matrix ``S[post, pre]`` of a spike record (module docstring).

    ``spikes``: ``(n, 2)`` array of ``(time, neuron)`` rows, 0-based ids, sorted by time then id.
    ``window``: from :func:`exp_window`, :func:`tri_window` or :func:`sal_window`.
    ``n_last``: how many of each partner's most recent spikes enter a pair.
    """
    if n_last < 1:
        raise ValueError(f"n_last must be >= 1 (got {n_last})")
    spikes = _check_spikes(spikes, n_neurons)
    S = np.zeros((n_neurons, n_neurons))
    if len(spikes):
        _pair_stdp_kernel(
            np.ascontiguousarray(spikes[:, 0], dtype=float),
            np.ascontiguousarray(spikes[:, 1], dtype=np.int64),
            n_neurons,
            window.code,
            window.matrices(n_neurons),
            int(n_last),
            S,
        )
    return S


# -- plasticity noise ------------------------------------------------------------------------


def truncated_normal(rng: np.random.Generator, sigma: float, size, bound: float = 1.5):
    """Normal(0, sigma) values truncated to ``[-bound sigma, bound sigma]`` by redrawing.

    Draws ``size`` values, then redraws the out-of-range ones (in array order) until none is
    left, which is the draw sequence of the paper's code. ``sigma = 0`` gives zeros (and still
    consumes one normal draw per entry).
    """
    vals = rng.normal(0.0, sigma, size=size)
    lo, hi = -bound * sigma, bound * sigma
    bad = (vals < lo) | (vals > hi)
    while bad.any():
        vals[bad] = rng.normal(0.0, sigma, size=int(bad.sum()))
        bad = (vals < lo) | (vals > hi)
    return vals


def forward_backward(
    forward: np.ndarray, backward: np.ndarray, layout: str = "clean"
) -> np.ndarray:
    """Combine per-synapse matrices: strict upper triangle (``i < j``, "forward" synapses) from
    ``forward``, strict lower triangle from ``backward``, diagonal from ``forward``.

    ``layout="upstream"`` reproduces the paper code's ``tril_indices(k=1)`` copy: the diagonal
    and the first super-diagonal ``(i, i+1)`` take the ``backward`` values too (quirk 11;
    ``docs/deviations.md``). The diagonal is irrelevant (no self-pairs).
    """
    if layout not in ("clean", "upstream"):
        raise ValueError(f"layout must be 'clean' or 'upstream' (got {layout!r})")
    out = np.array(forward, dtype=float, copy=True)
    low = np.tril_indices(out.shape[0], k=1 if layout == "upstream" else -1)
    out[low] = np.asarray(backward, dtype=float)[low]
    return out


# -- nearest-neighbour (adjacent-pair) accumulation -------------------------------------------


def nn_stdp_reference(spikes, n_neurons: int, window: Window, *, inclusive: bool = False):
    """Plain-Python nearest-neighbour STDP; the reference for :func:`nn_stdp`."""
    spikes = _check_spikes(spikes, n_neurons)
    pars = window.matrices(n_neurons)
    code = window.code
    S = np.zeros((n_neurons, n_neurons))
    history: list[list[int]] = [[] for _ in range(n_neurons)]
    for t, p in spikes:
        t, p = int(t), int(p)
        prev = history[p][-1] if history[p] else None
        for q in range(n_neurons):
            if q == p:
                continue
            before = [s for s in history[q] if s < t]
            if not before:
                continue
            s = before[-1]
            if prev is not None and (s < prev or (s == prev and not inclusive)):
                continue
            d = float(t - s)
            S[p, q] += window_value_py(code, *pars[:, p, q], d)  # type: ignore[call-arg]
            S[q, p] += window_value_py(code, *pars[:, q, p], -d)  # type: ignore[call-arg]
        history[p].append(t)
    return S


@njit(cache=True)
def _nn_stdp_kernel(times, ids, n, code, pars, inclusive, S):  # pragma: no cover - compiled
    none = np.iinfo(np.int64).min
    last = np.full(n, none, dtype=np.int64)
    before_last = np.full(n, none, dtype=np.int64)
    for k in range(times.shape[0]):
        t = times[k]
        p = ids[k]
        prev = last[p]
        for q in range(n):
            if q == p:
                continue
            s = last[q] if last[q] < t else before_last[q]
            if s == none:
                continue
            if prev != none and (s < prev or (s == prev and not inclusive)):
                continue
            d = float(t - s)
            S[p, q] += window_value(
                code, pars[0, p, q], pars[1, p, q], pars[2, p, q], pars[3, p, q], d
            )
            S[q, p] += window_value(
                code, pars[0, q, p], pars[1, q, p], pars[2, q, p], pars[3, q, p], -d
            )
        before_last[p] = last[p]
        last[p] = t


def nn_stdp(spikes, n_neurons: int, window: Window, *, inclusive: bool = False) -> np.ndarray:
    """Nearest-neighbour STDP matrix ``S[post, pre]`` of a spike record.

    Each spike of ``p`` at ``t`` is paired with the latest spike ``s < t`` of every other neuron
    ``q``, but only if ``q`` fired after ``p``'s own previous spike (``s > prev``; with
    ``inclusive=True`` also ``s == prev``, i.e. a partner spike simultaneous with ``p``'s previous
    one): ``S[p, q] += K_pq(t - s)`` and ``S[q, p] += K_qp(-(t - s))``. So only *adjacent* spikes
    of two neurons are paired (no spike of either strictly between). Same-step pairs are skipped
    (``K(0) = 0``), which makes the result independent of the id order within a step.

    ``inclusive=False`` is the pairing of the paper's ``calc_nn_stdp`` (E/I system) up to that
    id-order effect; ``inclusive=True`` counts exactly the adjacent pairs of the merged spike
    sequence that :mod:`spikealign.principle.stdd` describes.
    """
    spikes = _check_spikes(spikes, n_neurons)
    S = np.zeros((n_neurons, n_neurons))
    if len(spikes):
        _nn_stdp_kernel(
            np.ascontiguousarray(spikes[:, 0], dtype=np.int64),
            np.ascontiguousarray(spikes[:, 1], dtype=np.int64),
            n_neurons,
            window.code,
            window.matrices(n_neurons),
            bool(inclusive),
            S,
        )
    return S
