"""A spiking Boltzmann machine: layers of sampling neurons with visible, label and hidden units.

Neurons are the shared core's sampling neurons (:mod:`spikealign.sim`): neuron ``i`` spikes
with probability ``1 / (1 + t_ref exp(-u_i))`` when it is not refractory, is "on" (``z_i = 1``)
for ``t_ref`` steps after a spike, and a spike acts on the others through the PSP kernel with
weight ``W[post, pre]``. For a symmetric ``W`` with zero diagonal the network samples (up to the
discrete-time bias of neural sampling) the Boltzmann distribution
``p(z) ∝ exp(z^T W z / 2 + b^T z)``.

Unit order: visible ``0 .. n_visible-1``, then label ``n_visible .. n_visible+n_label-1``, then
hidden. Visible + label units are the "data" units (clamped in the wake phase); neuron 0 is the
most significant bit of a state index (:mod:`spikealign.boltzmann`).

Synapses: one full matrix ``W[post, pre]`` whose two directions are separate parameters:
``W[h, v]`` (visible -> hidden, "forward") and ``W[v, h]`` (hidden -> visible, "backward") are not
tied and are learned by the same local rule, so nothing but SAL or Kolen-Pollack keeps them
equal. ``mask[post, pre]`` says which synapses exist: the bipartite RBM mask connects data
units with hidden units in both directions; ``full`` connects every pair (zero diagonal).

Clamping a unit to a value (:meth:`BoltzmannMachine.clamp_vector`):

* ``forced`` (default): the simulator's forced states: a unit clamped to 1 spikes whenever it
  is not refractory (every ``min_isi`` steps from step 0), a unit clamped to 0 never spikes.
* ``bias`` (the paper code's unused RBM classes, ``reference-model`` 2.9): the unit's bias is
  replaced by ``+clamp_bias`` or ``-clamp_bias``; it stays a stochastic neuron.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..boltzmann import copy_triu
from ..sim import SimParams, phase_statistics

CLAMPINGS = ("forced", "bias")
CONNECTIVITIES = ("rbm", "full")


def engine_has_clamp() -> bool:
    """Whether :func:`spikealign.sim.phase_statistics` takes forced states (``clamp=``)."""
    return "clamp" in inspect.signature(phase_statistics).parameters


def make_mask(n_data: int, n_hidden: int, connectivity: str = "rbm") -> np.ndarray:
    """``mask[post, pre]`` (bool) of the existing synapses; no self-connections.

    ``rbm``: data units (visible + label) <-> hidden units, both directions; ``full``: all pairs.
    """
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be one of {CONNECTIVITIES} (got {connectivity!r})")
    n = n_data + n_hidden
    if connectivity == "full":
        mask = np.ones((n, n), dtype=bool)
    else:
        mask = np.zeros((n, n), dtype=bool)
        mask[n_data:, :n_data] = True
        mask[:n_data, n_data:] = True
    np.fill_diagonal(mask, False)
    return mask


def reciprocal_pairs(mask) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(i, j)``, ``i < j``, of the pairs with synapses in both directions."""
    mask = np.asarray(mask, dtype=bool)
    both = np.triu(mask & mask.T, k=1)
    i, j = np.nonzero(both)
    return i, j


def pair_asymmetry(W, mask) -> float:
    """Weight asymmetry over the reciprocal synapse pairs: population variance of
    ``W_ij - W_ji`` over the pairs ``i < j`` with both synapses (``mask``).

    For a full mask this is :func:`spikealign.boltzmann.asymmetry`; for an RBM it leaves out
    the pairs without synapses (whose zero differences would dilute the variance)."""
    i, j = reciprocal_pairs(mask)
    if len(i) == 0:
        return 0.0
    W = np.asarray(W, dtype=float)
    return float(np.var(W[i, j] - W[j, i]))


def initial_parameters(
    mask, rng: np.random.Generator, weight_std: float, synaptic_noise: float, bias_std: float = 0.0
):
    """``W0 = mask * (copy_triu(N(0, weight_std)) + N(0, synaptic_noise)[N x N])``, then
    ``b0 = N(0, bias_std)[N]`` (draws in this order, as the SSN's ``train_bm.py``). The added
    full matrix is the asymmetric "synaptic noise": the two directions of a pair start apart."""
    mask = np.asarray(mask, dtype=bool)
    n = mask.shape[0]
    W = copy_triu(rng.normal(0.0, weight_std, size=(n, n)))
    W = W + rng.normal(0.0, synaptic_noise, size=(n, n))
    b = rng.normal(0.0, bias_std, size=n)
    return np.where(mask, W, 0.0), b


@dataclass
class BoltzmannMachine:
    """Weights, biases and layout of a spiking Boltzmann machine (module docstring).

    ``W[post, pre]`` (N x N, zero where ``mask`` is False), ``b`` (N,), ``n_visible``,
    ``n_label`` (the data units come first), ``params`` (neuron and PSP), ``clamping``.
    """

    W: np.ndarray
    b: np.ndarray
    n_visible: int
    n_label: int = 0
    mask: np.ndarray | None = None
    params: SimParams = SimParams(t_ref=10, tau_syn=11, min_isi=10)
    clamping: str = "forced"
    clamp_bias: float = 10.0
    engine: str = "fast"

    def __post_init__(self):
        self.W = np.array(self.W, dtype=float)
        self.b = np.array(self.b, dtype=float)
        n = self.b.shape[0]
        if self.W.shape != (n, n):
            raise ValueError(f"W must be ({n}, {n}) for {n} biases (got {self.W.shape})")
        if not (0 < self.n_visible and self.n_visible + self.n_label <= n):
            raise ValueError("n_visible + n_label must lie in [1, N]")
        if self.mask is None:
            self.mask = np.ones((n, n), dtype=bool)
            np.fill_diagonal(self.mask, False)
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.clamping not in CLAMPINGS:
            raise ValueError(f"clamping must be one of {CLAMPINGS} (got {self.clamping!r})")
        if self.clamping == "forced" and not engine_has_clamp():
            raise ValueError(
                "clamping: forced needs a simulator with forced states "
                "(phase_statistics(clamp=...)); use clamping: bias"
            )
        self.W = np.where(self.mask, self.W, 0.0)

    @classmethod
    def rbm(
        cls,
        n_visible: int,
        n_hidden: int,
        n_label: int = 0,
        *,
        rng: np.random.Generator,
        weight_std: float = 0.05,
        synaptic_noise: float = 0.0,
        bias_std: float = 0.0,
        connectivity: str = "rbm",
        **kw,
    ) -> BoltzmannMachine:
        """A network with random initial parameters (:func:`initial_parameters`)."""
        mask = make_mask(n_visible + n_label, n_hidden, connectivity)
        W, b = initial_parameters(mask, rng, weight_std, synaptic_noise, bias_std)
        return cls(W, b, n_visible, n_label, mask, **kw)

    # -- layout ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.b.shape[0]

    @property
    def n_data(self) -> int:
        return self.n_visible + self.n_label

    @property
    def n_hidden(self) -> int:
        return self.n - self.n_data

    @property
    def visible(self) -> slice:
        return slice(0, self.n_visible)

    @property
    def label(self) -> slice:
        return slice(self.n_visible, self.n_data)

    @property
    def hidden(self) -> slice:
        return slice(self.n_data, self.n)

    def asymmetry(self) -> float:
        return pair_asymmetry(self.W, self.mask)

    # -- clamping and sampling -------------------------------------------------------------
    def clamp_vector(self, visible=None, label=None, *, visible_free=None) -> np.ndarray:
        """Per-unit clamp (-1 free, 0 off, 1 on): ``visible`` (n_visible binary values or
        None: free), ``label`` (class index, one-hot vector, or None: free);
        ``visible_free`` (bool mask over the visible units) frees some of them again."""
        c = np.full(self.n, -1, dtype=np.int8)
        if visible is not None:
            v = np.asarray(visible)
            if v.shape != (self.n_visible,):
                raise ValueError(f"visible must have {self.n_visible} values (got {v.shape})")
            c[self.visible] = (v > 0.5).astype(np.int8)
            if visible_free is not None:
                c[: self.n_visible][np.asarray(visible_free, dtype=bool)] = -1
        if label is not None:
            if self.n_label == 0:
                raise ValueError("this network has no label units")
            lab = np.asarray(label)
            if lab.ndim == 0:
                onehot = np.zeros(self.n_label, dtype=np.int8)
                onehot[int(lab)] = 1
            else:
                onehot = (lab > 0.5).astype(np.int8)
            c[self.label] = onehot
        return c

    def phase(
        self,
        n_steps: int,
        rng: np.random.Generator,
        clamp=None,
        *,
        windows=(),
        n_last_stdp: int = 1,
        sample_every: int = 0,
        record: bool = False,
        coactivation: bool = False,
    ):
        """Simulate one phase from rest with ``clamp`` (:meth:`clamp_vector`; None: free);
        returns :class:`spikealign.sim.PhaseStats` (``coactivation``: with the exact on-step
        counts ``co`` and ``on``, :func:`spikealign.sim.phase_statistics`)."""
        b = self.b
        kw = {}
        if clamp is not None and np.any(np.asarray(clamp) >= 0):
            clamp = np.asarray(clamp)
            if self.clamping == "forced":
                kw["clamp"] = clamp
            else:
                b = b.copy()
                b[clamp == 1] = self.clamp_bias
                b[clamp == 0] = -self.clamp_bias
        return phase_statistics(
            self.W,
            b,
            int(n_steps),
            self.params,
            rng,
            windows=windows,
            n_last_stdp=n_last_stdp,
            sample_every=sample_every,
            record=record,
            engine=self.engine,
            coactivation=coactivation,
            **kw,
        )

    def coactivation(self, n_steps: int, rng: np.random.Generator, clamp=None):
        """``(C, m)``: the time averages over one phase of ``n_steps`` steps from rest with
        ``clamp`` (:meth:`clamp_vector`; None: free) of the binary states,

            C[i, j] = 1/T sum_t z_i(t) z_j(t),    m[i] = 1/T sum_t z_i(t),    T = n_steps,

        where a unit is on (``z = 1``) in the ``t_ref`` steps after each of its spikes
        (``s < t <= s + t_ref``). Exact: spikes in the same step (clamped units fire in
        lockstep) and on-windows cut by the end of the phase count as they are. The diagonal
        is ``C[i, i] = m[i]`` (``z_i z_i = z_i``). The training rule uses this estimator
        (``stdp.coactivation: exact``)."""
        T = int(n_steps)
        if T < 1:
            raise ValueError(f"n_steps must be >= 1 (got {n_steps})")
        st = self.phase(T, rng, clamp, coactivation=True)
        m = st.on / T
        C = st.co / T
        np.fill_diagonal(C, m)
        return C, m

    def sample(
        self,
        n_steps: int,
        rng: np.random.Generator,
        *,
        visible=None,
        label=None,
        sample_every: int | None = None,
    ) -> np.ndarray:
        """Histogram of the binary states (``2^N`` counts, neuron 0 most significant) read
        every ``sample_every`` steps (default ``t_ref // 2``) of a phase with the given units
        clamped. Only for small networks (N <= 20)."""
        if self.n > 20:
            raise ValueError(f"sample: state histograms need N <= 20 units (got {self.n})")
        se = sample_every or max(1, self.params.t_ref // 2)
        return self.phase(n_steps, rng, self.clamp_vector(visible, label), sample_every=se).states

    def on_fractions(self, n_steps: int, rng: np.random.Generator, clamp=None) -> np.ndarray:
        """Fraction of time each unit is on, ``counts t_ref / n_steps``."""
        st = self.phase(n_steps, rng, clamp)
        return st.counts * self.params.t_ref / n_steps
