"""Dale's law: SAL on the excitatory synapses of a 2 E + 2 I system (reference section 2.10).

Neurons ``e1, e2, i1, i2`` are ids 0..3. Connections (``W[post, pre]``):

=========  =========  ==============================
name       entry      synapse
=========  =========  ==============================
``e2_e1``  W[1, 0]    e1 -> e2 (raw E->E weight)
``e1_e2``  W[0, 1]    e2 -> e1 (raw E->E weight)
``i1_e1``  W[2, 0]    e1 -> i1
``i2_e2``  W[3, 1]    e2 -> i2
``e2_i1``  W[1, 2]    i1 -> e2 (inhibitory)
``e1_i2``  W[0, 3]    i2 -> e1 (inhibitory)
=========  =========  ==============================

So each E -> E synapse has a parallel disynaptic E -> I -> E path. In the convention of
:mod:`spikealign.principle` (A = e1, B = e2), ``W_AB = W[0, 1]`` (e2 -> e1) and
``W_BA = W[1, 0]`` (e1 -> e2).

Effective weight of the pathway ``pre -> post`` through the interneuron ``I``:

    W_eff = W_EE + W_EI sigma(W_IE r + b_I) / r,      r = sigma(b_pre)

with ``sigma`` the plain logistic; the inverse subtracts the same term. SAL acts on the raw
E -> E weights only: the drift is the nearest-neighbour SAL STDP of the E spikes
(:func:`spikealign.stdp.nn_stdp`, exp window ``-1, +1, tau = t_ref``) normalised by
``t_ref / n_steps``. Every grid point is simulated with its own seed derived from the base seed
and the grid index, so results do not depend on the number of workers.

The effective weight is a mean-field approximation: the rates of e2 in the Dale system and in
the direct system with ``W_eff`` (:func:`rate_check`) differ by a small systematic amount (for
the symmetric system, ``t_ref = t_syn = 10``: about -0.006, +0.006, +0.016 at raw
``W_EE = 0, 0.5, 1`` and up to 0.025 in magnitude over ``W_EE`` in -1 .. 3, in units of
``1 / t_ref``). :func:`rate_tolerance` therefore adds such a model error to the sampling error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..config import ConfigError
from ..neuron import logistic
from ..sim import SimParams, simulate
from ..stdp import nn_stdp, sal_window
from .drift import fill_rows

NEURONS = {"e1": 0, "e2": 1, "i1": 2, "i2": 3}
CONNECTIONS = {
    "e2_e1": (1, 0),
    "e1_e2": (0, 1),
    "i1_e1": (2, 0),
    "i2_e2": (3, 1),
    "e2_i1": (1, 2),
    "e1_i2": (0, 3),
}


@dataclass(frozen=True)
class EISystem:
    """Weights (by connection name) and biases (by neuron name) of the E/I system."""

    weights: dict = field(
        default_factory=lambda: {
            "e2_e1": 0.0,
            "e1_e2": 0.0,
            "i1_e1": 4.0,
            "i2_e2": 4.0,
            "e2_i1": -1.0,
            "e1_i2": -1.0,
        }
    )
    biases: dict = field(default_factory=lambda: {"e1": 0.0, "e2": 0.0, "i1": -2.0, "i2": -2.0})

    def __post_init__(self):
        if set(self.weights) != set(CONNECTIONS):
            raise ConfigError(f"weights: need exactly the connections {', '.join(CONNECTIONS)}")
        if set(self.biases) != set(NEURONS):
            raise ConfigError(f"biases: need exactly the neurons {', '.join(NEURONS)}")

    @classmethod
    def noisy(cls, rng: np.random.Generator) -> EISystem:
        """The paper's noisy pathways (Fig 10), drawn in the upstream order: W(e1->i1),
        W(e2->i2) ~ N(4, 0.2); W(i1->e2), W(i2->e1) ~ N(-1, 0.1); b_i1, b_i2 ~ N(-2, 0.2)."""
        w = {"e2_e1": 0.0, "e1_e2": 0.0}
        w["i1_e1"] = float(rng.normal(4.0, 0.2))
        w["i2_e2"] = float(rng.normal(4.0, 0.2))
        w["e2_i1"] = float(rng.normal(-1.0, 0.1))
        w["e1_i2"] = float(rng.normal(-1.0, 0.1))
        b = {"e1": 0.0, "e2": 0.0}
        b["i1"] = float(rng.normal(-2.0, 0.2))
        b["i2"] = float(rng.normal(-2.0, 0.2))
        return cls(w, b)

    def with_weights(self, **weights) -> EISystem:
        return replace(self, weights={**self.weights, **weights})

    def network(self):
        """``(W, b)`` for the core simulator."""
        W = np.zeros((4, 4))
        for name, idx in CONNECTIONS.items():
            W[idx] = self.weights[name]
        b = np.array([self.biases[k] for k in NEURONS], dtype=float)
        return W, b

    def _path(self, post: str):
        """``(W_IE, W_EI, b_I, r)`` of the disynaptic path onto E neuron ``post``."""
        if post == "e2":  # e1 -> i1 -> e2
            return (
                self.weights["i1_e1"],
                self.weights["e2_i1"],
                self.biases["i1"],
                float(logistic(self.biases["e1"])),
            )
        if post == "e1":  # e2 -> i2 -> e1
            return (
                self.weights["i2_e2"],
                self.weights["e1_i2"],
                self.biases["i2"],
                float(logistic(self.biases["e2"])),
            )
        raise ConfigError(f"post: must be e1 or e2 (got {post!r})")

    def indirect(self, post: str) -> float:
        """The disynaptic contribution ``W_EI sigma(W_IE r + b_I) / r`` onto ``post``."""
        w_ie, w_ei, b_i, r = self._path(post)
        return float(w_ei * logistic(w_ie * r + b_i) / r)

    def effective(self, w_ee, post: str):
        """Effective weight onto ``post`` for raw E -> E weight(s) ``w_ee``."""
        return np.asarray(w_ee, dtype=float) + self.indirect(post)

    def raw(self, w_eff, post: str):
        """Inverse of :meth:`effective`."""
        return np.asarray(w_eff, dtype=float) - self.indirect(post)


def _seed(seed: int, *index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, index)]))


def sal_drift_sim(system: EISystem, *, t_ref=25, t_syn=25, n_steps=2_000_000, rng) -> tuple:
    """Simulated SAL drift ``(dW_AB, dW_BA) = (dW[e2->e1], dW[e1->e2])`` of the E synapses."""
    W, b = system.network()
    params = SimParams(int(t_ref), float(t_syn))
    spikes = simulate(W, b, int(n_steps), params, rng)
    e_spikes = spikes[spikes[:, 1] < 2]
    S = nn_stdp(e_spikes, 2, sal_window(t_ref)) * (t_ref / n_steps)
    return float(S[0, 1]), float(S[1, 0])


def _grid_task(args):
    rows, w_values, system, t_ref, t_syn, n_steps, seed = args
    out = np.empty((len(rows), len(w_values), 2))
    for r, i in enumerate(rows):
        for j, w_ba in enumerate(w_values):
            sys_ij = system.with_weights(e1_e2=float(w_values[i]), e2_e1=float(w_ba))
            out[r, j] = sal_drift_sim(
                sys_ij, t_ref=t_ref, t_syn=t_syn, n_steps=n_steps, rng=_seed(seed, i, j)
            )
    return rows, out


def drift_grid(
    system: EISystem,
    w_values,
    *,
    t_ref=25,
    t_syn=25,
    n_steps=2_000_000,
    seed=0,
    workers: int | None = 1,
    progress: bool = False,
):
    """Simulated SAL drift over raw E weights: ``grid[i, j] = (dW_AB, dW_BA)`` at
    ``W_AB = W[e2->e1] = w[i]``, ``W_BA = W[e1->e2] = w[j]`` (as :func:`.phase_plane`)."""
    w = np.asarray(w_values, dtype=float)
    if w.ndim != 1 or len(w) < 1 or not np.all(np.isfinite(w)):
        raise ConfigError("w_values: must be a non-empty 1-D sequence of finite weights")
    if int(n_steps) < 1:
        raise ConfigError(f"n_steps: must be >= 1 (got {n_steps})")
    n = len(w)
    grid = np.empty((n, n, 2))
    tasks = [([i], w, system, t_ref, t_syn, int(n_steps), seed) for i in range(n)]
    return fill_rows(_grid_task, tasks, workers, grid, progress=progress, desc="E/I grid")


def rate_check(system: EISystem, w_values, *, t_ref=25, t_syn=25, n_steps=500_000, seed=0):
    """Rate of e2 (``count * t_ref / n_steps``) driven by e1 in a *Dale* system (e1 -> e2 with
    raw weight ``w`` plus e1 -> i1 -> e2; the reverse pathway removed) and in a *direct* system
    (e1 -> e2 with the effective weight, no interneuron path). Returns ``(w_eff, dale, direct)``.
    """
    w = np.asarray(w_values, dtype=float)
    params = SimParams(int(t_ref), float(t_syn))
    dale, direct = [], []
    base = system.with_weights(e1_e2=0.0, e1_i2=0.0)
    w_eff = system.effective(w, "e2")
    for k, wk in enumerate(w):
        for sys_k, out, tag in (
            (base.with_weights(e2_e1=float(wk)), dale, 0),
            (base.with_weights(e2_e1=float(w_eff[k]), e2_i1=0.0), direct, 1),
        ):
            W, b = sys_k.network()
            spikes = simulate(W, b, int(n_steps), params, _seed(seed, 1000 + k, tag))
            out.append(np.count_nonzero(spikes[:, 1] == 1) * t_ref / n_steps)
    return w_eff, np.array(dale), np.array(direct)


def rate_standard_error(rate, n_steps, t_ref):
    """Conservative standard error of a rate estimated as ``count * t_ref / n_steps``
    (:func:`rate_check`): ``t_ref sqrt(count) / n_steps = sqrt(rate t_ref / n_steps)``.

    It takes the variance of the spike count equal to its mean (Poisson; the binomial variance
    of one draw per step, ``n p (1 - p)``, is smaller). Refractoriness makes the trains more
    regular than that, and it outweighs the slow co-fluctuations that e2 inherits from e1: the
    long-window Fano factor (count variance / mean over blocks of 2e4 steps) of e2 in both
    systems of :func:`rate_check` was measured at 0.11 - 0.42 (symmetric system, ``t_ref = 10``,
    raw ``W_EE`` in -1 .. 3, 2e7 steps each). The true standard error is thus about 0.35 - 0.65
    times this bound.
    """
    if int(n_steps) < 1 or not t_ref > 0:
        raise ConfigError(f"n_steps and t_ref must be positive (got {n_steps}, {t_ref})")
    rate = np.asarray(rate, dtype=float)
    return np.sqrt(np.maximum(rate, 0.0) * float(t_ref) / int(n_steps))


def rate_tolerance(dale, direct, n_steps, t_ref, *, z: float = 5.0, model_error: float = 0.0):
    """Largest ``|dale - direct|`` (per weight) still consistent with the rate check passing:
    ``z`` combined standard errors of the two independent estimates
    (:func:`rate_standard_error`) plus ``model_error``, an allowance for the mean-field error of
    the effective weight (module docstring) at the weights checked."""
    se_dale = rate_standard_error(dale, n_steps, t_ref)
    se_direct = rate_standard_error(direct, n_steps, t_ref)
    if not (z > 0 and model_error >= 0 and math.isfinite(model_error)):
        raise ConfigError(f"z must be > 0 and model_error >= 0 (got {z}, {model_error})")
    return float(model_error) + float(z) * np.hypot(se_dale, se_direct)
