"""Simulators of networks of stochastic sampling neurons (the shared core of every model
family that uses them: SSN training, the two-neuron SAL system, the Dale's-law E/I system).

Engines with identical output for the same ``numpy.random.Generator`` state:

* ``"reference"``: :func:`spikealign.sim.reference.simulate_reference`, a readable loop;
* ``"fast"``: :func:`spikealign.sim.fast.run_phase`, compiled with numba and event-driven;
* ``"stepwise"``: :mod:`spikealign.sim.stepwise`, the previous compiled engine that walks every
  step (ordered potentials only), kept as the benchmark baseline.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from ..spikes import coactivation_counts, spike_counts, state_histogram
from ..stdp import Window, pair_stdp_reference
from . import checks
from .fast import (
    N_ROWS,
    N_SLOTS,
    PhaseStats,
    advance,
    begin_part,
    make_network,
    make_rules,
    make_stats,
    new_state,
    refresh,
    run_phase,
    window_arrays,
)
from .params import SimParams
from .reference import simulate_reference

ENGINES = ("fast", "reference", "stepwise")
#: largest network whose binary states can be histogrammed (2^N int64 counters: 128 MB)
MAX_SAMPLED_NEURONS = 24

__all__ = ["ENGINES", "Chain", "PhaseStats", "SimParams", "simulate", "phase_statistics"]


def check_clamp(clamp, n: int) -> np.ndarray:
    """``clamp`` as an int8 array of length ``n`` (None: all free), values in {-1, 0, 1}
    (:func:`.checks.clamp`: integer dtypes only)."""
    return checks.clamp(clamp, n)


def _check(W, b, n_steps, engine, params, rng):
    """The arguments of every simulation, checked before anything is compiled
    (:mod:`.checks`): ``(W, b, n_steps)`` as float64 arrays and an int."""
    W, b = checks.network(W, b)
    n_steps = checks.steps("n_steps", n_steps)
    checks.engine(engine, ENGINES)
    checks.sim_params(params)
    checks.generator(rng)
    return W, b, n_steps


def simulate(
    W, b, n_steps: int, params: SimParams, rng: np.random.Generator, *, engine: str = "fast"
) -> np.ndarray:
    """Spike record ``(time, neuron)`` of ``n_steps`` steps of the network ``(W, b)`` from rest."""
    stats = phase_statistics(W, b, n_steps, params, rng, engine=engine, record=True)
    return cast(np.ndarray, stats.spikes)  # record=True: never None


def phase_statistics(
    W,
    b,
    n_steps: int,
    params: SimParams,
    rng: np.random.Generator,
    *,
    windows: tuple[Window, ...] = (),
    n_last_stdp: int = 1,
    sample_every: int = 0,
    record: bool = False,
    engine: str = "fast",
    clamp=None,
    coactivation: bool = False,
) -> PhaseStats:
    """Simulate from rest and return :class:`PhaseStats`.

    Each non-refractory neuron spikes in a step with probability ``1 / (1 + t_ref e^-u_i)``,
    ``u_i = b_i + sum_j W[i, j] PSP_j`` (:class:`SimParams`); all times are in steps.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Weights ``W[post, pre]`` (finite).
    b : array_like, shape (N,)
        Biases (finite).
    n_steps : int
        Steps to simulate, from rest.
    params : SimParams
        Neuron and synapse parameters.
    rng : numpy.random.Generator
        The random stream (same state, same spikes in every engine).
    windows : tuple of Window
        STDP windows whose pair sums (``spikealign.stdp.pair_stdp`` with ``n_last_stdp``) are
        accumulated, ``S[post, pre]`` with ``dt = t_post - t_pre``.
    n_last_stdp : int
        Each spike pairs with this many of the latest spikes of every other neuron.
    sample_every : int
        Read the binary state every so many steps (0: do not); neuron ``i`` is on if it
        spiked within the last ``t_ref`` steps (``spikealign.spikes``).
    record : bool
        Also return the spike record.
    engine : str
        ``"fast"`` (event-driven, compiled), ``"reference"`` (readable loop) or
        ``"stepwise"`` (the previous compiled engine); identical spikes.
    clamp : array_like of int, shape (N,), optional
        Per neuron -1 (free), 0 (forced silent: never spikes) or 1 (forced on: spikes at
        every step it is not refractory, i.e. every ``min_isi`` steps from step 0); None: all
        free.
    coactivation : bool
        Also count, exactly, the steps at which each neuron is on (``PhaseStats.on``) and
        each pair is on together (``PhaseStats.co``): ``z_i(T) = 1`` for
        ``s < T <= s + t_ref`` after a spike ``s``, over ``T = 0 .. n_steps - 1``.
        ``co / n_steps`` is the coactivation ``<z_i z_j>`` of the phase, same-step spikes and
        the end of the phase included (the triangular STDP window, zero at dt = 0, misses the
        first and counts past the second). Needs ``min_isi >= t_ref`` (a neuron's on-windows
        do not overlap).

    Returns
    -------
    PhaseStats
        Spike counts, STDP sums, state histogram, spike record and coactivations as asked.
    """
    W, b, n_steps = _check(W, b, n_steps, engine, params, rng)
    _check_coactivation(coactivation, params)
    n = len(b)
    clamp = check_clamp(clamp, n)
    windows = checks.windows(windows, n)
    n_last_stdp = checks.last_spikes("n_last_stdp", n_last_stdp)
    sample_every = checks.steps("sample_every", sample_every)
    record = checks.flag("record", record)
    if sample_every > 0 and n > MAX_SAMPLED_NEURONS:
        raise ValueError(
            f"sample_every: a state histogram has 2^N entries; at most "
            f"{MAX_SAMPLED_NEURONS} neurons (got {n}); use spike counts instead"
        )
    if engine == "reference":
        spikes = simulate_reference(W, b, n_steps, params, rng, clamp)
        stdp = np.array([pair_stdp_reference(spikes, n, w, n_last_stdp) for w in windows])
        stdp = stdp.reshape(len(windows), n, n)
        states = (
            state_histogram(spikes, n, params.t_ref, n_steps, sample_every)
            if sample_every > 0
            else None
        )
        co, on = _coactivation_of(spikes, n, params, n_steps, coactivation)
        return PhaseStats(
            spike_counts(spikes, n).astype(np.int64),
            stdp,
            states,
            spikes if record else None,
            co,
            on,
        )

    if engine == "stepwise":
        st = _stepwise(
            W,
            b,
            n_steps,
            params,
            rng,
            windows,
            n_last_stdp,
            sample_every,
            record or coactivation,
            clamp,
        )
        st.co, st.on = _coactivation_of(st.spikes, n, params, n_steps, coactivation)
        st.spikes = st.spikes if record else None
        return st
    net = make_network(W, b, params, clamp)
    rules = make_rules(windows, n, n_last_stdp)
    stats = make_stats(
        n,
        len(windows),
        n_steps,
        params.min_isi,
        sample_every=sample_every,
        record=record,
        coactivation=coactivation,
    )
    k = run_phase(int(n_steps), net, rules, stats, rng)
    spikes = np.stack([stats.rec_t[:k], stats.rec_i[:k]], axis=1) if record else None
    return PhaseStats(
        stats.counts,
        stats.S,
        stats.hist if sample_every > 0 else None,
        spikes,
        stats.co if coactivation else None,
        stats.on if coactivation else None,
    )


def _check_coactivation(coactivation, params: SimParams) -> None:
    if not isinstance(coactivation, bool | np.bool_):
        raise TypeError(f"coactivation must be a bool (got {type(coactivation).__name__})")
    if coactivation and params.min_isi < params.t_ref:
        raise ValueError(
            f"coactivation: needs min_isi >= t_ref (a neuron's on-windows must not "
            f"overlap; got min_isi {params.min_isi}, t_ref {params.t_ref})"
        )


def _coactivation_of(spikes, n, params, n_steps, coactivation):
    """``(co, on)`` of a recorded phase from rest (the readable count), or ``(None, None)``."""
    if not coactivation:
        return None, None
    co, on = coactivation_counts(spikes, n, params.t_ref, int(n_steps))
    np.fill_diagonal(co, 0)
    return co, on


def _stepwise(W, b, n_steps, params, rng, windows, n_last_stdp, sample_every, record, clamp):
    """The previous, step-walking compiled engine (:mod:`.stepwise`), for comparisons."""
    from . import stepwise

    if params.potential_mode(len(b)) != "ordered":
        raise ValueError(
            "engine 'stepwise' computes ordered potentials only "
            "(set SimParams(potentials='ordered'))"
        )
    n = len(b)
    table, changes, binary = stepwise.prepare(params)
    codes, utau, pars = window_arrays(windows, n)
    S = np.zeros((len(windows), n, n))
    hist = np.zeros(2**n if sample_every > 0 else 0, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    times, ids, _ = stepwise.run_phase(
        int(n_steps),
        W,
        b,
        params.log_t_ref,
        int(params.min_isi),
        int(params.t_ref),
        table,
        changes,
        binary,
        int(params.n_last_psp),
        rng,
        codes,
        utau,
        pars,
        int(n_last_stdp),
        S,
        int(sample_every),
        hist,
        counts,
        bool(record),
        clamp,
    )
    spikes = np.stack([times, ids], axis=1) if record else None
    return PhaseStats(counts, S, hist if sample_every > 0 else None, spikes)


class Chain:
    """A network simulated in parts (event-driven engine): each :meth:`run` continues where
    the previous one stopped (spikes, refractoriness, thresholds and accumulated hazards
    carry over, and the random stream continues), so ``run(a); run(b)`` emits exactly the
    spikes of one ``run(a + b)``. :meth:`set_network` changes the weights, biases or clamps
    between parts; they act from the present step on (e.g. persistent sleep chains of a
    learning Boltzmann machine).

    The statistics of a part are those of its spikes: spike counts, pairs of its spikes with
    the ``n_last_stdp`` latest partner spikes (also from earlier parts), and the binary states
    read at the multiples of ``sample_every`` inside the part; recorded times are absolute
    steps (:attr:`time` is the next step).
    """

    def __init__(
        self, W, b, params: SimParams, rng: np.random.Generator, *, clamp=None, n_last_stdp: int = 1
    ):
        W, b, _ = _check(W, b, 0, "fast", params, rng)
        n_last_stdp = checks.last_spikes("n_last_stdp", n_last_stdp)
        self.params, self.rng, self.n_last_stdp = params, rng, n_last_stdp
        self._net = make_network(W, b, params, check_clamp(clamp, len(b)))
        self._state = new_state(self._net, self.n_last_stdp, rng)
        self.time = 0

    @property
    def n(self) -> int:
        return len(self._net.b)

    STATE_KEYS = ("nrn", "inv", "clock", "ring", "psp")

    def state_arrays(self) -> dict:
        """The dynamic state as plain arrays (for checkpoints; :meth:`restore`)."""
        out = {k: v.copy() for k, v in zip(self.STATE_KEYS, self._state[:5], strict=True)}
        out["time"] = np.int64(self.time)
        return out

    @classmethod
    def restore(
        cls,
        W,
        b,
        params: SimParams,
        rng: np.random.Generator,
        arrays: dict,
        *,
        clamp=None,
        n_last_stdp: int = 1,
    ) -> Chain:
        """A chain continuing from :meth:`state_arrays` (with the network it then had and the
        random generator in the state it then had). The arrays are checked against the chain
        before anything is compiled (:func:`.checks.chain_state`: shapes, dtypes, ``time``
        and the engine's invariants)."""
        W, b, _ = _check(W, b, 0, "fast", params, rng)
        n_last_stdp = checks.last_spikes("n_last_stdp", n_last_stdp)
        net = make_network(W, b, params, check_clamp(clamp, len(b)))
        n, ring_len = len(b), max(params.n_last_psp, n_last_stdp, 2)
        fresh = [
            np.zeros((N_ROWS, n), np.int64),
            np.zeros(n),
            np.zeros(N_SLOTS, np.int64),
            np.zeros((n, ring_len), np.int64),
            np.zeros(n),
        ]  # new_state's arrays
        saved, time = checks.chain_state(arrays, cls.STATE_KEYS, fresh, net, params, ring_len)
        chain = cls(W, b, params, np.random.default_rng(0), clamp=clamp, n_last_stdp=n_last_stdp)
        chain.rng = rng
        st = list(chain._state)
        for k, a in enumerate(saved):
            st[k][...] = a
        chain.time = time
        refresh(chain.time, chain._net, chain._state)  # the hazard cache from the PSPs
        return chain

    def set_network(self, W=None, b=None, clamp=None):
        """New weights / biases / clamps (None: unchanged), acting from :attr:`time` on."""
        W = self._net.W if W is None else W
        b = self._net.b if b is None else b
        W, b = checks.network(W, b)
        if len(b) != self.n:
            raise ValueError(f"set_network: the chain has {self.n} neurons (got {len(b)})")
        clamp = self._net.clamp if clamp is None else check_clamp(clamp, self.n)
        self._net = make_network(W, b, self.params, clamp)
        refresh(self.time, self._net, self._state)

    def run(
        self,
        n_steps: int,
        *,
        windows: tuple[Window, ...] = (),
        sample_every: int = 0,
        record: bool = False,
        coactivation: bool = False,
    ) -> PhaseStats:
        """Simulate the next ``n_steps`` steps; statistics of this part only (``coactivation``:
        the steps of this part at which neurons and pairs are on, on-windows of earlier
        spikes included; :func:`phase_statistics`)."""
        n = self.n
        _check_coactivation(coactivation, self.params)
        n_steps = checks.steps("n_steps", n_steps, self.time)
        windows = checks.windows(windows, n)
        sample_every = checks.steps("sample_every", sample_every)
        record = checks.flag("record", record)
        if sample_every > 0 and n > MAX_SAMPLED_NEURONS:
            raise ValueError(f"sample_every: at most {MAX_SAMPLED_NEURONS} neurons (got {n})")
        rules = make_rules(windows, n, self.n_last_stdp)
        stats = make_stats(
            n,
            len(windows),
            n_steps,
            self.params.min_isi,
            sample_every=sample_every,
            record=record,
            coactivation=coactivation,
        )
        t0, t1 = self.time, self.time + int(n_steps)
        if t0 > 0:
            begin_part(t0, int(sample_every), self._net, self._state)
        k = advance(t0, t1, self._net, rules, stats, self.rng, self._state)
        self.time = t1
        spikes = np.stack([stats.rec_t[:k], stats.rec_i[:k]], axis=1) if record else None
        return PhaseStats(
            stats.counts,
            stats.S,
            stats.hist if sample_every > 0 else None,
            spikes,
            stats.co if coactivation else None,
            stats.on if coactivation else None,
        )
