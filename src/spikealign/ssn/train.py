"""Spike-based wake-sleep training of a sampling network, with SAL and Kolen-Pollack options.

One wake-sleep cycle (``reference-model`` 2.5):

1. Sleep phase: simulate the free network for ``D`` steps (``D = dur t_ref``; a validation
   cycle uses ``val_factor D``), from rest.
2. Sleep statistics: coactivation ``C_hat = S_ws / D * t_ref`` (pair STDP with the triangular
   sleep window; each pair adds the overlap of the two neurons' on-windows / t_ref) and on-
   fractions ``r_hat = n_spikes / D * t_ref``.
3. Gradient step against the exact target moments (there is no sampled wake phase):
   ``W <- W + lr_w (C_wake - C_hat)``, ``b <- b + lr_b (m* - r_hat)``; ``C_wake = C*``, or with
   ``target_scaling`` (paper v3) ``C* F / t_ref`` (:mod:`spikealign.ssn.setup`).
4. Kolen-Pollack (``lr.kp > 0``): ``W <- (1 - lr_kp) W``. Weight decay of both ``W_ij`` and
   ``W_ji`` shrinks their difference geometrically while the symmetric gradient is shared.
5. SAL (``lr.symm > 0``): ``W <- W + lr_symm S_sal / D * t_ref`` with the anti-Hebbian SAL
   window on the same sleep spikes.
6. Clip ``W`` to ``[-max_w, max_w]`` and ``b`` to ``[-max_b, max_b]``.
7. ``zero_diagonal`` (paper v3): ``diag(W) := 0``. (The cycle-0 sleep still runs with the
   random diagonal of ``W0``; a self-PSP falls into the neuron's own refractory period.)

This is the order of the paper's v3 code; on the main branch steps 4 and 7 do not exist.

Validation cycles (0, val_step, 2 val_step, ...) also read the sampled distribution of binary
states every ``t_ref // 2`` steps and record ``D_KL(target || sampled)``, the weights and biases
(after the update) and the asymmetry ``Var(triu(W - W^T))``. With ``validation_trains = False``
they only measure.

Two engines give bit-identical results for the same config: ``"reference"`` (readable
simulator and Python update) and ``"fast"`` (the compiled simulator with the cycles of a
validation block run inside one compiled loop).
"""

from __future__ import annotations

import json
import time
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..boltzmann import asymmetry, empirical_distribution, kl_divergence
from ..sim import SimParams, phase_statistics
from ..sim.fast import make_network, make_rules, make_stats, run_phase
from .config import SSNConfig
from .setup import Problem, make_problem


def sim_params(cfg: SSNConfig) -> SimParams:
    sp = cfg.sim_params
    return SimParams(t_ref=sp.t_ref, tau_syn=sp.tau_syn, psp=sp.psp, n_last_psp=sp.num_last_spikes)


def apply_update(
    W,
    b,
    S_ws,
    S_sal,
    counts,
    C_t,
    m_t,
    dur,
    t_ref,
    lr_w,
    lr_b,
    lr_kp,
    lr_symm,
    max_w,
    max_b,
    zero_diag=False,
):
    """Steps 3-7 of a cycle (module docstring), numpy version. Returns new ``(W, b)``."""
    W = W + lr_w * (C_t - S_ws / dur * t_ref)
    b = b + lr_b * (m_t - counts / dur * t_ref)
    if lr_kp > 0:
        W = (1.0 - lr_kp) * W
    if lr_symm > 0:
        W = W + lr_symm * (S_sal / dur * t_ref)
    W = np.clip(W, -max_w, max_w)
    if zero_diag:
        np.fill_diagonal(W, 0.0)
    return W, np.clip(b, -max_b, max_b)


#: the constants of the update (steps 3-7), as one record for the compiled loop
UpdateRule = namedtuple(
    "UpdateRule",
    ["C_t", "m_t", "t_ref", "lr_w", "lr_b", "lr_kp", "lr_symm", "max_w", "max_b", "zero_diag"],
)


@njit(cache=True)
def _apply_update_inplace(W, b, S, counts, dur, rule):  # pragma: no cover - twin of apply_update
    n = b.shape[0]
    C_t, m_t, t_ref = rule.C_t, rule.m_t, rule.t_ref
    lr_w, lr_kp, lr_symm, max_w = rule.lr_w, rule.lr_kp, rule.lr_symm, rule.max_w
    for i in range(n):
        for j in range(n):
            w = W[i, j] + lr_w * (C_t[i, j] - S[0, i, j] / dur * t_ref)
            if lr_kp > 0:
                w = (1.0 - lr_kp) * w
            if lr_symm > 0:
                w = w + lr_symm * (S[1, i, j] / dur * t_ref)
            W[i, j] = 0.0 if rule.zero_diag and i == j else min(max(w, -max_w), max_w)
        v = b[i] + rule.lr_b * (m_t[i] - counts[i] / dur * t_ref)
        b[i] = min(max(v, -rule.max_b), rule.max_b)


@njit(cache=True)
def _train_cycles(n_cycles, dur, net, rules, rule, stats, rng):  # pragma: no cover - compiled
    """n_cycles sleep phases of dur steps, each followed by the update of net.W and net.b (in
    place: the network record holds the training arrays)."""
    for _ in range(n_cycles):
        stats.S[:] = 0.0
        stats.counts[:] = 0
        run_phase(dur, net, rules, stats, rng)
        _apply_update_inplace(net.W, net.b, stats.S, stats.counts, float(dur), rule)


@dataclass
class TrainState:
    """Everything that evolves during training; enough to resume bit-identically."""

    W: np.ndarray
    b: np.ndarray
    cycle: int  # next cycle to run
    rng: np.random.Generator
    val_cycles: list = field(default_factory=list)
    dkls: list = field(default_factory=list)
    distrs: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    biases: list = field(default_factory=list)
    asyms: list = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_arrays(self) -> dict:
        n = self.b.shape[0]
        return {
            "W": self.W,
            "b": self.b,
            "cycle": np.int64(self.cycle),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "val_cycles": np.array(self.val_cycles, dtype=np.int64),
            "dkls": np.array(self.dkls, dtype=float),
            "distrs": np.array(self.distrs, dtype=float).reshape(-1, 2**n),
            "weights": np.array(self.weights, dtype=float).reshape(-1, n, n),
            "biases": np.array(self.biases, dtype=float).reshape(-1, n),
            "asyms": np.array(self.asyms, dtype=float),
            "elapsed_s": np.float64(self.elapsed_s),
        }

    @classmethod
    def from_arrays(cls, a) -> TrainState:
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(a["rng_state"]))
        return cls(
            W=np.array(a["W"]),
            b=np.array(a["b"]),
            cycle=int(a["cycle"]),
            rng=rng,
            val_cycles=list(a["val_cycles"]),
            dkls=list(a["dkls"]),
            distrs=list(a["distrs"]),
            weights=list(a["weights"]),
            biases=list(a["biases"]),
            asyms=list(a["asyms"]),
            elapsed_s=float(a["elapsed_s"]),
        )


def initial_state(cfg: SSNConfig, problem: Problem) -> TrainState:
    rng = np.random.default_rng(cfg.seed.sim)  # type: ignore[union-attr]
    return TrainState(W=problem.W0.copy(), b=problem.b0.copy(), cycle=0, rng=rng)


class Trainer:
    """Runs the cycles of one config; holds configuration, not hidden state.

    ``step_block(state)`` advances ``state`` by one validation block (a validation cycle
    followed by the training cycles up to the next one) and returns it.
    """

    def __init__(self, cfg: SSNConfig, engine: str = "fast", problem: Problem | None = None):
        if engine not in ("fast", "reference"):
            raise ValueError(f"engine must be 'fast' or 'reference' (got {engine!r})")
        self.cfg = cfg
        self.engine = engine
        self.problem = problem if problem is not None else make_problem(cfg)
        self.params = sim_params(cfg)
        p = self.problem
        self.windows = (p.ws_rule, p.sal_rule) if cfg.lr.symm > 0 else (p.ws_rule,)
        lr = cfg.lr
        self._update_args = (
            p.C_wake,
            p.m_target,
            float(cfg.sleep_steps),
            float(cfg.t_ref),
            lr.weight,
            lr.bias,
            lr.kp,
            lr.symm,
            cfg.max_w,
            cfg.max_b,
        )

    # -- one cycle (both engines) -------------------------------------------------------------
    def _phase(self, state: TrainState, steps: int, sample: bool):
        return phase_statistics(
            state.W,
            state.b,
            steps,
            self.params,
            state.rng,
            windows=self.windows,
            n_last_stdp=self.cfg.stdp.num_last_spikes,
            sample_every=self.cfg.state_interval if sample else 0,
            engine=self.engine,
        )

    def _update(self, state: TrainState, stats, steps: int):
        C_t, m_t, _, t_ref, lr_w, lr_b, lr_kp, lr_symm, max_w, max_b = self._update_args
        S_sal = stats.stdp[1] if len(self.windows) > 1 else np.zeros_like(state.W)
        state.W, state.b = apply_update(
            state.W,
            state.b,
            stats.stdp[0],
            S_sal,
            stats.counts.astype(float),
            C_t,
            m_t,
            float(steps),
            t_ref,
            lr_w,
            lr_b,
            lr_kp,
            lr_symm,
            max_w,
            max_b,
            self.cfg.zero_diagonal,
        )

    def validation_cycle(self, state: TrainState):
        cfg = self.cfg
        steps = cfg.validation_steps
        stats = self._phase(state, steps, sample=True)
        if cfg.validation_trains:
            self._update(state, stats, steps)
        sampled = empirical_distribution(stats.states)
        state.val_cycles.append(state.cycle)
        state.dkls.append(kl_divergence(self.problem.target_distr, sampled))
        state.distrs.append(sampled)
        state.weights.append(state.W.copy())
        state.biases.append(state.b.copy())
        state.asyms.append(asymmetry(state.W))
        state.cycle += 1

    def training_cycles(self, state: TrainState, n_cycles: int):
        if n_cycles <= 0:
            return
        cfg = self.cfg
        if self.engine == "reference":
            for _ in range(n_cycles):
                stats = self._phase(state, cfg.sleep_steps, sample=False)
                self._update(state, stats, cfg.sleep_steps)
            state.cycle += n_cycles
            return
        W = np.array(state.W, dtype=float, order="C")
        b = np.array(state.b, dtype=float, order="C")
        # every synapse may change: all pairs are inputs (zero terms change no sum)
        net = make_network(W, b, self.params, dense=True)
        rules = make_rules(self.windows, cfg.dim, cfg.stdp.num_last_spikes)
        stats = make_stats(cfg.dim, len(self.windows), 0, self.params.min_isi)
        C_t, m_t, _, t_ref, lr_w, lr_b, lr_kp, lr_symm, max_w, max_b = self._update_args
        rule = UpdateRule(
            C_t=np.ascontiguousarray(C_t, dtype=float),
            m_t=np.ascontiguousarray(m_t, dtype=float),
            t_ref=float(t_ref),
            lr_w=float(lr_w),
            lr_b=float(lr_b),
            lr_kp=float(lr_kp),
            lr_symm=float(lr_symm),
            max_w=float(max_w),
            max_b=float(max_b),
            zero_diag=bool(cfg.zero_diagonal),
        )
        _train_cycles(int(n_cycles), int(cfg.sleep_steps), net, rules, rule, stats, state.rng)
        state.W, state.b = W, b
        state.cycle += n_cycles

    def step_block(
        self, state: TrainState, on_cycles: Callable[[int], None] | None = None, chunk: int = 200
    ) -> TrainState:
        """Run the validation cycle at ``state.cycle`` and the training cycles after it."""
        cfg = self.cfg
        if state.cycle % cfg.val_step != 0:
            raise ValueError(f"a block starts at a validation cycle, not {state.cycle}")
        t0 = time.perf_counter()
        self.validation_cycle(state)
        if on_cycles:
            on_cycles(1)
        end = min(state.cycle - 1 + cfg.val_step, cfg.num_epochs)
        while state.cycle < end:
            k = min(chunk, end - state.cycle)
            self.training_cycles(state, k)
            if on_cycles:
                on_cycles(k)
        state.elapsed_s += time.perf_counter() - t0
        return state

    def done(self, state: TrainState) -> bool:
        return state.cycle >= self.cfg.num_epochs


def train(cfg: SSNConfig, engine: str = "fast") -> TrainState:
    """Train from scratch without writing anything (see :mod:`spikealign.ssn.run` for runs)."""
    trainer = Trainer(cfg, engine)
    state = initial_state(cfg, trainer.problem)
    while not trainer.done(state):
        trainer.step_block(state)
    return state
