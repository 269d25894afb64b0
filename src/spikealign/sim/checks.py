"""Checks of the simulator API's arguments (:mod:`spikealign.sim`), made where they enter and
before anything is compiled or simulated.

A value of the wrong kind raises :class:`TypeError`, a value of the right kind out of range (a
shape, a bound, a non-finite number, an inconsistent saved state) :class:`ValueError`; both name
the argument (``n_steps must be an integer ...``). The bounds are those of the engines'
arithmetic (:mod:`spikealign.limits`). Numbers: an integer argument takes ``int`` or a numpy
integer (also a 0-d integer array, as ``np.load`` returns), never ``bool`` or a float, even an
integral one (a float step count was silently truncated before); arrays take integer or float
dtypes, never ``bool`` (read as 0/1), complex (its imaginary part dropped) or ``object``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..limits import MAX_LAST_SPIKES, MAX_PHASE_STEPS


def _is_integer(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu"


def _type_name(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of dtype {value.dtype} and shape {value.shape}"
    return type(value).__name__


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(name: str, value, low: int, high: int | None = None, *, high_text: str = "") -> int:
    """``value`` as an ``int`` in ``[low, high]`` (``high`` None: no upper bound)."""
    if not _is_integer(value):
        raise TypeError(
            f"{name} must be an integer (int or numpy integer; got "
            f"{_type_name(value)} {_short(value)})"
        )
    v = int(value)
    if v < low or (high is not None and v > high):
        upper = f" and <= {high_text or high}" if high is not None else ""
        raise ValueError(f"{name} must be >= {low}{upper} (got {v})")
    return v


def steps(name: str, value, start: int = 0) -> int:
    """A step count ``v >= 0`` with ``start + v < MAX_PHASE_STEPS`` (``start``: the step a
    :class:`~spikealign.sim.Chain` has reached; limits: why)."""
    v = integer(name, value, 0)
    if start + v >= MAX_PHASE_STEPS:
        if start == 0:
            raise ValueError(f"{name} must be >= 0 and < 2**49 (the longest phase; got {v})")
        raise ValueError(
            f"{name} must be >= 0 and keep the chain below 2**49 steps (got {v} at step {start})"
        )
    return v


def last_spikes(name: str, value) -> int:
    """A number of latest spikes per neuron: ``1 .. MAX_LAST_SPIKES`` (limits: why)."""
    return integer(name, value, 1, MAX_LAST_SPIKES)


def real(name: str, value) -> float | int:
    """A finite real number (int or float, numpy ones as Python ones), not bool or complex."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"{name} must be a real number (int or float; got {_type_name(value)} {_short(value)})"
        )
    v = int(value) if isinstance(value, np.integer) else value
    v = float(v) if isinstance(v, np.floating) else v
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite (got {v})")
    return v


def flag(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False (got {_type_name(value)} {_short(value)})")
    return bool(value)


def real_array(name: str, value, ndim: int) -> np.ndarray:
    """``value`` as a C-contiguous float64 array of ``ndim`` dimensions with finite entries;
    integer and float dtypes only."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a {ndim}-D array of real numbers ({exc})") from None
    kind = a.dtype.kind
    if kind not in "iuf":
        what = {
            "b": "bool (it would be read as 0/1)",
            "c": "complex (the imaginary part would be dropped)",
        }.get(kind, str(a.dtype))
        raise TypeError(f"{name} must hold real numbers (an int or float dtype; got {what})")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array (got shape {a.shape})")
    with np.errstate(over="ignore"):  # float128 beyond the float64 range: inf, refused below
        a = np.ascontiguousarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(
            f"{name} must be finite (got {np.count_nonzero(~np.isfinite(a))} "
            "NaN or infinite entries)"
        )
    return a


def network(W, b) -> tuple[np.ndarray, np.ndarray]:
    """Biases ``b`` (N,) and weights ``W`` (N, N) [post, pre] as float64 arrays."""
    b = real_array("b", b, 1)
    W = real_array("W", W, 2)
    n = b.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be ({n}, {n}) for {n} biases (got {W.shape})")
    return W, b


def clamp(value, n: int) -> np.ndarray:
    """``clamp`` as an int8 array of length ``n`` (None: all free), values in {-1, 0, 1}."""
    if value is None:
        return np.full(n, -1, dtype=np.int8)
    try:
        c = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"clamp must be a 1-D array of -1, 0 and 1 ({exc})") from None
    if c.dtype.kind not in "iu":
        hint = (
            " (a bool array would read True as forced on and False as forced silent)"
            if c.dtype.kind == "b"
            else ""
        )
        raise TypeError(
            f"clamp must hold integers -1 (free), 0 (silent) or 1 (forced on); "
            f"got dtype {c.dtype}{hint}"
        )
    if c.shape != (n,):
        raise ValueError(f"clamp must have shape ({n},) (got {c.shape})")
    if not np.all(np.isin(c, (-1, 0, 1))):
        raise ValueError("clamp values must be -1 (free), 0 (silent) or 1 (forced on)")
    return c.astype(np.int8)


def generator(value) -> np.random.Generator:
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. "
            f"numpy.random.default_rng(seed) (got {_type_name(value)})"
        )
    return value


def sim_params(value):
    from .params import SimParams

    if not isinstance(value, SimParams):
        raise TypeError(f"params must be a spikealign.sim.SimParams (got {_type_name(value)})")
    return value


def engine(value, engines: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"engine must be one of {engines} (got {_type_name(value)})")
    if value not in engines:
        raise ValueError(f"engine must be one of {engines} (got {value!r})")
    return value


def windows(value, n: int) -> tuple:
    """STDP windows: a tuple or list of :class:`spikealign.stdp.Window` with finite
    parameters, per-synapse ones of the network's size."""
    from ..stdp import Window

    if not isinstance(value, tuple | list) or not all(isinstance(w, Window) for w in value):
        raise TypeError(
            "windows must be a tuple of spikealign.stdp.Window (got "
            f"{_type_name(value)} {_short(value)})"
        )
    for k, w in enumerate(value):
        for p in w._params():
            if p.ndim == 2 and p.shape[0] != n:
                raise ValueError(
                    f"windows[{k}]: per-synapse parameters are {p.shape}, the "
                    f"network has {n} neurons"
                )
            if not np.all(np.isfinite(p)):
                raise ValueError(f"windows[{k}]: parameters must be finite")
    return tuple(value)


def _crossing(start, room, h):
    """:func:`spikealign.sim.fast._crossing` in exact integers (numpy, elementwise)."""
    from .fast import FAR, NEVER

    with np.errstate(divide="ignore"):
        inv = np.where(h > 0, 1.0 / np.maximum(h, 1).astype(float), 0.0)
    far = (h <= 0) | (room.astype(float) * inv > FAR)
    q = np.where(h > 0, room // np.maximum(h, 1), 0)
    return np.where(far, NEVER, start + q)


def _psps(times, nspk, time, table, n_last_psp, ring_len):
    """PSP of each neuron as the engine holds it at ``time`` (:func:`.fast._psp_value` at
    ``time - 1``, the latest n_last_psp spikes added oldest first; a spike at ``time - 1``
    that pushed the oldest out has not yet replaced it). ``times``: ring, newest first."""
    n = times.shape[0]
    last = times[:, 0] if times.shape[1] else np.zeros(n, np.int64)
    late = (nspk > n_last_psp) & (last == time - 1) & (ring_len > n_last_psp)
    lo = late.astype(np.int64)  # newest-first index of the newest counted
    hi = lo + np.minimum(nspk, n_last_psp)  # ... and one past the oldest
    v = np.zeros(n)
    for k in range(times.shape[1] - 1, -1, -1):  # oldest first
        age = time - 1 - times[:, k]
        use = (k >= lo) & (k < hi) & (age >= 0) & (age < len(table))
        v = v + np.where(use, table[np.clip(age, 0, len(table) - 1)], 0.0)
    return v


def chain_state(
    arrays, keys: tuple[str, ...], expected: list[np.ndarray], net, params, ring_len: int
) -> tuple[list[np.ndarray], int]:
    """The saved state of a :class:`~spikealign.sim.Chain` (``Chain.state_arrays``) checked
    against the chain it continues: every array present with the shape and dtype of
    ``expected`` (a fresh state of that chain), ``time`` a step count, and the invariants the
    event-driven engine keeps (:mod:`.fast`): spike times before ``time``, increasing and
    ``min_isi`` apart, refractoriness from the latest spike, ``0 <= acc <= thr``, hazards in
    range with their reciprocals, threshold crossings and the next-event clock as the engine
    computes them, pending changes not in the past, PSPs only of neurons that spiked and
    within the kernel's range. Returns the arrays and ``time``; ValueError naming the first
    inconsistency."""
    from ..neuron import HAZARD_QUANTA_MAX, HAZARD_SCALE
    from . import fast as F

    if not isinstance(arrays, Mapping):  # a dict or np.load's NpzFile
        raise TypeError(
            f"arrays must be the mapping of Chain.state_arrays (got {_type_name(arrays)})"
        )
    for key in (*keys, "time"):
        if key not in arrays:
            raise ValueError(
                f"Chain.restore: arrays lacks {key!r} (Chain.state_arrays saves "
                f"{', '.join((*keys, 'time'))})"
            )
    out = []
    for key, want in zip(keys, expected, strict=True):
        a = np.asarray(arrays[key])
        if a.shape != want.shape or a.dtype != want.dtype:
            raise ValueError(
                f"Chain.restore: {key} has shape {a.shape} / {a.dtype}, "
                f"expected {want.shape} / {want.dtype}"
            )
        out.append(np.array(a))  # a copy: the chain owns its state
    time = steps("Chain.restore: time", arrays["time"])
    nrn, inv, clock, ring, psp = out
    n = nrn.shape[1]

    def bad(what):
        raise ValueError(f"Chain.restore: inconsistent state at time {time}: {what}")

    nspk, head, free_at = nrn[F.NSPK], nrn[F.HEAD], nrn[F.FREE_AT]
    if np.any(nspk < 0) or np.any((head < 0) | (head >= ring_len)):
        bad("spike counts must be >= 0 and ring heads inside the ring (nrn)")
    m = np.minimum(nspk, ring_len)
    back = np.arange(ring_len)
    have = back[None, :] < m[:, None]  # newest first
    times = ring[np.arange(n)[:, None], (head[:, None] - back[None, :]) % ring_len]
    if np.any(have & ((times < 0) | (times >= time))):
        bad(f"spike times must lie in [0, {time}) (ring)")
    gaps = times[:, :-1] - times[:, 1:]
    if np.any(have[:, 1:] & (gaps < params.min_isi)):
        bad(f"a neuron's spikes must be at least min_isi = {params.min_isi} steps apart (ring)")
    last = np.where(nspk > 0, times[:, 0], 0)
    # a spike at time - 1 enters its neuron's PSP at time (the first change of every kernel is
    # at age 1); if it pushed the oldest of n_last_psp spikes out, the PSP still holds that
    # spike, which the ring keeps only if it is longer than n_last_psp
    exact = ~((nspk > params.n_last_psp) & (last == time - 1) & (ring_len <= params.n_last_psp))
    if np.any(free_at != np.where(nspk > 0, last + params.min_isi, 0)):
        bad("refractoriness must end min_isi steps after the latest spike (nrn)")
    thr, acc, hq, since = nrn[F.THR], nrn[F.ACC], nrn[F.HQ], nrn[F.SINCE]
    if np.any(thr < 0) or np.any(thr > 1000 * HAZARD_SCALE):
        bad("thresholds must be Exp(1) draws in fixed point (nrn)")
    if np.any((acc < 0) | (acc > thr)):
        bad("accumulated hazards must lie in [0, threshold] (nrn)")
    if np.any((hq < 0) | (hq > HAZARD_QUANTA_MAX)):
        bad("hazards must lie in [0, HAZARD_QUANTA_MAX] (nrn)")
    if np.any((since < 0) | (since > time)):
        bad(f"hazards must be booked up to a step in [0, {time}] (nrn)")
    if not np.array_equal(inv, np.where(hq > 0, 1.0 / np.maximum(hq, 1).astype(float), 0.0)):
        bad("inv must be the reciprocals of the hazards")
    if not np.array_equal(nrn[F.CROSS], _crossing(np.maximum(since, free_at), thr - acc, hq)):
        bad("threshold crossings must follow from hazards and thresholds (nrn)")
    for row, name in ((F.PNEXT, "PSP"), (F.SNEXT, "state")):
        if np.any(nrn[row] < time):
            bad(f"pending {name} changes must not lie before time (nrn)")
    if np.any(nrn[F.CHANGED] != 0) or np.any(nrn[F.TOUCHED] != 0):
        bad("no event may be half processed (nrn)")
    if clock[F.NEXT_EVENT] != min(
        F.NEVER, int(nrn[F.PNEXT].min(initial=F.NEVER)), int(nrn[F.SNEXT].min(initial=F.NEVER))
    ):
        bad("the next event must be the earliest pending change (clock)")
    if not (0 <= clock[F.Z_SINCE] <= time):
        bad(f"the binary state must be held since a step in [0, {time}] (clock)")
    if not np.array_equal(
        psp[exact], _psps(times, nspk, time, net.table, params.n_last_psp, ring_len)[exact]
    ):
        bad("PSPs must be the kernel's values at the latest spikes (psp)")
    peak = params.n_last_psp * float(np.max(np.abs(net.table), initial=0.0))
    if not np.all(np.isfinite(psp)) or np.any(np.abs(psp) > peak):
        bad("PSPs must be finite and within n_last_psp times the kernel's peak (psp)")
    if n <= 62:
        bits = np.int64(0)
        for j in np.flatnonzero(psp != 0.0):
            bits |= np.int64(1) << np.int64(j)
        if clock[F.PSP_MASK] != bits:
            bad("the pattern of non-zero PSPs must match psp (clock)")
    return out, time
