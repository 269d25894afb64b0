"""Wake-sleep STDP training of a spiking Boltzmann machine, with SAL and Kolen-Pollack.

One update (a minibatch of ``B`` data samples):

1. Wake phases: for each sample, simulate ``wake_steps`` steps from rest with the visible
   (and label) units clamped to the sample and the hidden units free. Coactivations
   ``C_wake = a * mean_samples(<z_i z_j>)`` and on-fractions ``m_wake = mean_samples(<z_i>)``,
   the exact time averages of the binary states over each phase
   (:meth:`BoltzmannMachine.coactivation`, ``stdp.coactivation: exact``), times the
   per-synapse amplitude ``a_ij = 1 + eta_ij`` of the coactivation rule (plasticity noise).
   (``stdp.coactivation: window``: the SSN's estimate instead, pair STDP with the triangular
   window of width ``t_ref``, ``C = S_ws / D t_ref``, ``m = counts / D t_ref``: zero for
   spikes in the same step, which clamped units always are, and counting on-time past the
   end of the phase; kept to measure that bias, docs/bm.md.)
2. Sleep phases: ``sleep_phases`` free phases of ``sleep_steps`` steps from rest (with
   ``sleep_chain: persistent`` each continues its chain of the previous update instead:
   :class:`spikealign.sim.Chain`); ``C_sleep``, ``m_sleep`` the same way, and the SAL sums
   ``S_sal`` (anti-Hebbian triangular window) on the same sleep spikes.
3. ``W <- W + lr_w (C_wake - C_sleep)``, ``b <- b + lr_b (m_wake - m_sleep)``.
4. Kolen-Pollack (``lr.kp > 0``): ``W <- (1 - lr_kp) W``.
5. SAL (``lr.symm > 0``): ``W <- W + lr_symm mean_phases(S_sal) / D_sleep * t_ref``.
6. Clip ``W`` to ``[-max_w, max_w]``, ``b`` to ``[-max_b, max_b]``; ``W := 0`` where no synapse
   exists (``mask``).

The rule is local: ``W_ij`` (synapse ``j -> i``) and ``W_ji`` are separate parameters, each
updated from the spikes of ``i`` and ``j`` through its own (noisy) window. Both get the same
expected gradient, so an initial difference (synaptic noise) never shrinks and different
amplitudes (plasticity noise) let the two drift apart; SAL and KP shrink the differences.

Evaluation (:mod:`spikealign.bm.evaluate`): every ``eval.every`` epochs and after the last on
the **validation** images (``eval.n_validation`` of them in between, all at the end); with
``eval.select: best`` the parameters of the best validation score are kept (early stopping).
The **test** images are evaluated once, after training, on the selected parameters.

Randomness: the initial weights and the four noise matrices of the rules come from
``Generator(seed.init)`` (:func:`make_setup`); the minibatch order and all spikes from
``Generator(seed.sim)``, whose state is checkpointed, so a resumed run ends bit-identical;
evaluations use their own generators (``seed.sim``, epoch), so they change nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..sim import Chain, SimParams
from ..stdp import Window, forward_backward, truncated_normal
from .config import BMConfig
from .data import Dataset, load_task
from .model import BoltzmannMachine, initial_parameters, make_mask, pair_asymmetry


def sim_params(cfg: BMConfig) -> SimParams:
    """Neuron parameters; ``min_isi`` defaults to ``t_ref`` (config docstring)."""
    sp = cfg.sim
    return SimParams(t_ref=sp.t_ref, tau_syn=sp.tau_syn, psp=sp.psp, min_isi=sp.min_isi or sp.t_ref)


def noisy_amplitudes(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    """``1 + eta``: forward synapses (``i < j``) from one truncated-normal draw, backward from
    a second (:func:`spikealign.stdp.forward_backward`)."""
    fwd = truncated_normal(rng, sigma, (n, n))
    bwd = truncated_normal(rng, sigma, (n, n))
    return 1.0 + forward_backward(fwd, bwd)


def make_rules(
    n: int, tau: float, ws_noise: float, sal_noise: float, rng: np.random.Generator
) -> tuple[Window, Window]:
    """Coactivation (triangular, ``a = 1 + eta``) and SAL (``-a'`` causal, ``+a'`` anti-causal)
    windows with per-synapse amplitudes ("plasticity noise")."""
    a_ws = noisy_amplitudes(rng, ws_noise, n)
    a_sal = noisy_amplitudes(rng, sal_noise, n)
    return Window("tri", a_ws, a_ws, tau, tau), Window("tri", -a_sal, a_sal, tau, tau)


@dataclass
class Setup:
    """Everything fixed for a run: data, mask, initial parameters and the rules."""

    data: Dataset
    mask: np.ndarray
    W0: np.ndarray
    b0: np.ndarray
    ws_rule: Window
    sal_rule: Window
    n_visible: int
    n_label: int


def make_setup(cfg: BMConfig, data: Dataset | None = None) -> Setup:
    d = (
        data
        if data is not None
        else load_task(
            cfg.task,
            threshold=cfg.data.threshold,
            size=cfg.data.size,
            n_train=cfg.data.n_train,
            n_test=cfg.data.n_test,
            n_validation=cfg.data.n_validation,
        )
    )
    n_label = d.n_classes
    n_data = d.n_visible + n_label
    mask = make_mask(n_data, cfg.network.n_hidden, cfg.network.connectivity)
    n = mask.shape[0]
    rng = np.random.default_rng(cfg.seed.init)
    W0, b0 = initial_parameters(mask, rng, cfg.init.weight, cfg.init.synaptic_noise)
    if cfg.init.visible_bias == "data":
        p = np.clip(d.x_train.mean(0), 0.02, 0.98)
        b0[: d.n_visible] = np.log(p / (1 - p))
        if n_label:
            b0[d.n_visible : n_data] = np.log(1.0 / (n_label - 1))
    ws, sal = make_rules(n, cfg.stdp_tau, cfg.stdp.noise, cfg.sal_noise, rng)
    return Setup(d, mask, W0, b0, ws, sal, d.n_visible, n_label)


#: a visible unit is "active" if its pixel is on in at least this fraction of the training
#: images (the others almost never spike, so no spike timing can align their synapses)
ACTIVE_PIXEL = 0.02


def active_pairs(setup: Setup) -> np.ndarray:
    """``(N, N)`` bool: pairs of units that both carry data, i.e. neither is a visible unit
    whose pixel is on in fewer than :data:`ACTIVE_PIXEL` of the training images (label and
    hidden units always count). ``asym_active`` is the pair asymmetry over these pairs."""
    n = setup.mask.shape[0]
    ok = np.ones(n, dtype=bool)
    ok[: setup.n_visible] = setup.data.x_train.mean(axis=0) >= ACTIVE_PIXEL
    return ok[:, None] & ok[None, :]


def apply_update(
    W,
    b,
    mask,
    C_wake,
    C_sleep,
    m_wake,
    m_sleep,
    S_sal,
    *,
    lr_w,
    lr_b,
    lr_kp=0.0,
    lr_symm=0.0,
    max_w=np.inf,
    max_b=np.inf,
):
    """Steps 3-6 of an update (module docstring); ``S_sal`` already divided by the sleep
    length and multiplied by ``t_ref``. Returns new ``(W, b)``."""
    W = W + lr_w * (C_wake - C_sleep)
    b = b + lr_b * (m_wake - m_sleep)
    if lr_kp > 0:
        W = (1.0 - lr_kp) * W
    if lr_symm > 0:
        W = W + lr_symm * S_sal
    W = np.where(mask, np.clip(W, -max_w, max_w), 0.0)
    return W, np.clip(b, -max_b, max_b)


def moments(stats_list, n_steps: int, t_ref: int, window: int = 0):
    """``(C, m)`` averaged over phases from a window's pair sums (``stdp.coactivation:
    window``): ``C = S[window] / D t_ref``, ``m = counts / D t_ref``; also the SAL sums."""
    S = np.mean([s.stdp[window] for s in stats_list], axis=0)
    c = np.mean([s.counts for s in stats_list], axis=0)
    return S / n_steps * t_ref, c / n_steps * t_ref


def exact_moments(stats_list, n_steps: int, amplitude):
    """``(C, m)`` averaged over phases from the exact on-step counts (``stdp.coactivation:
    exact``): ``C = amplitude * co / D`` (per-synapse amplitude ``1 + eta``), ``m = on / D``."""
    co = np.mean([s.co for s in stats_list], axis=0)
    on = np.mean([s.on for s in stats_list], axis=0)
    return amplitude * (co / n_steps), on / n_steps


@dataclass
class TrainState:
    """Everything that evolves during training; enough to resume bit-identically."""

    W: np.ndarray
    b: np.ndarray
    epoch: int  # epochs finished
    rng: np.random.Generator
    asym: list = field(default_factory=list)  # after each epoch (index 0: initial)
    asym_active: list = field(default_factory=list)  # the same over the active pairs
    # validation evaluations (eval.every epochs and the last)
    eval_epochs: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    val_completion: list = field(default_factory=list)
    dkl_sampled: list = field(default_factory=list)
    dkl_exact: list = field(default_factory=list)
    n_eval: list = field(default_factory=list)
    # eval.select: best: the parameters of the best validation score so far
    best_epoch: int = -1
    best_score: float = -np.inf
    best_W: np.ndarray | None = None
    best_b: np.ndarray | None = None
    # the one test evaluation, after training (NaN before)
    test_accuracy: float = np.nan
    test_completion: float = np.nan
    elapsed_s: float = 0.0
    # persistent sleep chains (sleep_chain: persistent): the Chain objects, or their saved
    # arrays until the trainer rebuilds them
    chains: list | None = None
    chain_arrays: list | None = None

    LISTS = (
        "asym",
        "asym_active",
        "eval_epochs",
        "val_accuracy",
        "val_completion",
        "dkl_sampled",
        "dkl_exact",
        "n_eval",
    )
    SCALARS = ("best_epoch", "best_score", "test_accuracy", "test_completion", "elapsed_s")

    def to_arrays(self) -> dict:
        out: dict[str, Any] = {
            "W": self.W,
            "b": self.b,
            "epoch": np.int64(self.epoch),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
        }
        for k in self.SCALARS:
            out[k] = np.float64(getattr(self, k))
        if self.best_W is not None:
            out["best_W"], out["best_b"] = self.best_W, self.best_b
        for k in self.LISTS:
            out[k] = np.array(getattr(self, k), dtype=float)
        saved = (
            [c.state_arrays() for c in self.chains]
            if self.chains is not None
            else self.chain_arrays or []
        )
        for i, arrays in enumerate(saved):
            for key, v in arrays.items():
                out[f"chain{i}_{key}"] = v
        return out

    @classmethod
    def from_arrays(cls, a) -> TrainState:
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(a["rng_state"]))
        lists: dict[str, Any] = {k: [float(v) for v in a[k]] for k in cls.LISTS}
        lists["eval_epochs"] = [int(v) for v in lists["eval_epochs"]]
        lists["n_eval"] = [int(v) for v in lists["n_eval"]]
        chains: list[dict[str, np.ndarray]] = []
        while f"chain{len(chains)}_time" in a:
            pre = f"chain{len(chains)}_"
            chains.append({k[len(pre) :]: np.array(a[k]) for k in a if k.startswith(pre)})
        scalars: dict[str, Any] = {k: float(a[k]) for k in cls.SCALARS}
        scalars["best_epoch"] = int(scalars["best_epoch"])
        best: dict[str, Any] = (
            {"best_W": np.array(a["best_W"]), "best_b": np.array(a["best_b"])}
            if "best_W" in a.files
            else {}
        )
        return cls(
            W=np.array(a["W"]),
            b=np.array(a["b"]),
            epoch=int(a["epoch"]),
            rng=rng,
            chain_arrays=chains or None,
            **lists,
            **scalars,
            **best,
        )


class Trainer:
    """Runs the updates of one config; holds configuration, not evolving state."""

    def __init__(self, cfg: BMConfig, engine: str = "fast", setup: Setup | None = None):
        if engine not in ("fast", "reference"):
            raise ValueError(f"engine must be 'fast' or 'reference' (got {engine!r})")
        if cfg.sleep_chain == "persistent" and engine != "fast":
            raise ValueError("sleep_chain: persistent runs on the fast (event-driven) engine only")
        self.cfg = cfg
        self.engine = engine
        self.setup = setup if setup is not None else make_setup(cfg)
        self.params = sim_params(cfg)
        self.t_ref = cfg.sim.t_ref
        self.exact = cfg.stdp.coactivation == "exact"
        # the windows of each phase: the exact estimator needs none for the coactivations
        self.wake_windows = () if self.exact else (self.setup.ws_rule,)
        sal = (self.setup.sal_rule,) if cfg.lr.symm > 0 else ()
        self.sleep_windows = sal if self.exact else (self.setup.ws_rule, *sal)
        self.sal_window = 0 if self.exact else 1
        self.active_pairs = active_pairs(self.setup)

    def network(self, state: TrainState, W=None, b=None) -> BoltzmannMachine:
        """The network of ``state`` (or of the parameters ``W``, ``b``)."""
        s = self.setup
        W = state.W if W is None else W
        b = state.b if b is None else b
        return BoltzmannMachine(
            W,
            b,
            s.n_visible,
            s.n_label,
            s.mask,
            self.params,
            clamping=self.cfg.clamping,
            clamp_bias=self.cfg.clamp_bias,
            engine=self.engine,
        )

    def initial_state(self) -> TrainState:
        s = self.setup
        st = TrainState(
            W=s.W0.copy(), b=s.b0.copy(), epoch=0, rng=np.random.default_rng(self.cfg.seed.sim)
        )
        st.asym.append(pair_asymmetry(st.W, s.mask))
        st.asym_active.append(pair_asymmetry(st.W, s.mask & self.active_pairs))
        return st

    # -- phases ------------------------------------------------------------------------------
    def wake(self, net: BoltzmannMachine, xs, ys, rng):
        """Stats of one wake phase per sample (data units clamped, hidden free)."""
        cfg = self.cfg
        out = []
        for k in range(len(xs)):
            clamp = net.clamp_vector(xs[k], None if ys is None else ys[k])
            out.append(
                net.phase(
                    cfg.wake_steps,
                    rng,
                    clamp,
                    windows=self.wake_windows,
                    n_last_stdp=cfg.stdp.num_last_spikes,
                    coactivation=self.exact,
                )
            )
        return out

    def sleep(self, net: BoltzmannMachine, rng, state: TrainState | None = None):
        cfg = self.cfg
        if cfg.sleep_chain == "persistent" and state is not None:
            return [
                chain.run(cfg.sleep_steps, windows=self.sleep_windows, coactivation=self.exact)
                for chain in self.chains(state)
            ]
        return [
            net.phase(
                cfg.sleep_steps,
                rng,
                None,
                windows=self.sleep_windows,
                n_last_stdp=cfg.stdp.num_last_spikes,
                coactivation=self.exact,
            )
            for _ in range(cfg.sleep_phases)
        ]

    def chains(self, state: TrainState) -> list:
        """The persistent sleep chains of ``state`` under its present weights (built from
        rest, or from a checkpoint's arrays, on first use)."""
        k = self.cfg.stdp.num_last_spikes
        if state.chains is None:
            if state.chain_arrays:
                state.chains = [
                    Chain.restore(state.W, state.b, self.params, state.rng, a, n_last_stdp=k)
                    for a in state.chain_arrays
                ]
                state.chain_arrays = None
            else:
                state.chains = [
                    Chain(state.W, state.b, self.params, state.rng, n_last_stdp=k)
                    for _ in range(self.cfg.sleep_phases)
                ]
        for chain in state.chains:
            chain.set_network(state.W, state.b)
        return state.chains

    def update(self, state: TrainState, wake_stats, sleep_stats) -> None:
        """Steps 3-6 from the phase statistics (module docstring)."""
        cfg = self.cfg
        if self.exact:
            a = self.setup.ws_rule.a_plus
            C_w, m_w = exact_moments(wake_stats, cfg.wake_steps, a)
            C_s, m_s = exact_moments(sleep_stats, cfg.sleep_steps, a)
        else:
            C_w, m_w = moments(wake_stats, cfg.wake_steps, self.t_ref)
            C_s, m_s = moments(sleep_stats, cfg.sleep_steps, self.t_ref)
        S_sal = (
            moments(sleep_stats, cfg.sleep_steps, self.t_ref, window=self.sal_window)[0]
            if cfg.lr.symm > 0
            else None
        )
        state.W, state.b = apply_update(
            state.W,
            state.b,
            self.setup.mask,
            C_w,
            C_s,
            m_w,
            m_s,
            S_sal,
            lr_w=cfg.lr.weight,
            lr_b=cfg.lr.bias,
            lr_kp=cfg.lr.kp,
            lr_symm=cfg.lr.symm,
            max_w=cfg.max_w,
            max_b=cfg.max_b,
        )

    def minibatch(self, state: TrainState, idx) -> None:
        d = self.setup.data
        net = self.network(state)
        ys = None if d.y_train is None else d.y_train[idx]
        wake = self.wake(net, d.x_train[idx], ys, state.rng)
        sleep = self.sleep(net, state.rng, state)
        self.update(state, wake, sleep)

    def n_batches(self) -> int:
        n = len(self.setup.data.x_train)
        return -(-n // self.cfg.batch_size)

    def epoch(self, state: TrainState, on_batch=None) -> None:
        """One pass over the training set in a random order (the last batch may be smaller);
        then the asymmetry, and an evaluation when due."""
        t0 = time.perf_counter()
        n = len(self.setup.data.x_train)
        order = state.rng.permutation(n)
        bs = self.cfg.batch_size
        for start in range(0, n, bs):
            self.minibatch(state, order[start : start + bs])
            if on_batch:
                on_batch(1)
        state.epoch += 1
        state.asym.append(pair_asymmetry(state.W, self.setup.mask))
        state.asym_active.append(pair_asymmetry(state.W, self.setup.mask & self.active_pairs))
        if state.epoch % self.cfg.eval.every == 0 or self.done(state):
            self.evaluate(state)
        if self.done(state):
            self.test(state)
        state.elapsed_s += time.perf_counter() - t0

    def evaluate(self, state: TrainState) -> None:
        """A validation evaluation (all validation images after the last epoch, else
        ``eval.n_validation``); with ``eval.select: best`` it keeps the best parameters."""
        from .evaluate import evaluate, score

        res = evaluate(
            self.network(state),
            self.setup.data,
            self.cfg,
            epoch=state.epoch,
            final=self.done(state),
            part="validation",
        )
        state.eval_epochs.append(state.epoch)
        state.val_accuracy.append(res["accuracy"])
        state.val_completion.append(res["completion"])
        state.dkl_sampled.append(res["dkl_sampled"])
        state.dkl_exact.append(res["dkl_exact"])
        state.n_eval.append(res["n_eval"])
        sc = score(res)
        if self.cfg.eval.select == "best" and sc > state.best_score:
            state.best_score, state.best_epoch = sc, state.epoch
            state.best_W, state.best_b = state.W.copy(), state.b.copy()

    def selected(self, state: TrainState) -> tuple[np.ndarray, np.ndarray, int]:
        """``(W, b, epoch)`` that the run reports: the last, or the best on validation."""
        if self.cfg.eval.select == "best" and state.best_W is not None:
            return state.best_W, state.best_b, state.best_epoch  # type: ignore[return-value]
        return state.W, state.b, state.epoch

    def test(self, state: TrainState) -> None:
        """The one evaluation on the test images, after training, on the selected
        parameters (its draws come from their own generator)."""
        from .evaluate import evaluate

        W, b, _ = self.selected(state)
        res = evaluate(
            self.network(state, W, b),
            self.setup.data,
            self.cfg,
            epoch=state.epoch,
            final=True,
            part="test",
        )
        state.test_accuracy = res["accuracy"]
        state.test_completion = res["completion"]

    def done(self, state: TrainState) -> bool:
        return state.epoch >= self.cfg.epochs


def train(cfg: BMConfig, engine: str = "fast") -> tuple[TrainState, Trainer]:
    """Train from scratch without writing anything (:mod:`spikealign.bm.run` for runs)."""
    trainer = Trainer(cfg, engine)
    state = trainer.initial_state()
    while not trainer.done(state):
        trainer.epoch(state)
    return state, trainer
