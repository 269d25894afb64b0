"""Teacher-student protocol (reference model §3.4-3.5).

**Teacher.** A network with fixed weights (the paper: ``W_up = 2`` in both layers), in the
self-predicting state, is shown the training inputs and then the validation inputs once, with
no target and no plasticity. Its mean output potential after the learning lag becomes the
target of each input.

**Student.** Random initial weights (``W_up`` hidden, ``W_down`` hidden, ``W_up`` output, per
hidden layer in that order, from ``default_rng(weights_init_seed)``), the self-predicting state
(after copying the feedback in ``bp`` mode), then ``num_epochs`` epochs of
``len_epoch + len_validation`` patterns. Pattern ``p`` of an epoch is

* **training** for ``p < len_epoch - len_symmetrization``: forward plasticity after the lag;
* **symmetrization** for ``len_epoch - len_symmetrization <= p < len_epoch``: training inputs
  and targets, ``lambda_api = 1``, interneuron paths off, no forward plasticity, SAL on every
  step (``sal`` and ``fa`` modes; in ``fa`` its rate is 0);
* **validation** for ``p >= len_epoch``: no plasticity, the output still nudged (the paper's
  loss, :attr:`StudentResult.loss_nudged`).

Training indices per epoch are drawn with replacement (``rng.choice``) from
``default_rng(training_seed)`` when ``shuffle_training`` is on, else cycled in order; then the
validation indices the same way. The *free* validation loss (:attr:`StudentResult.loss_free`)
comes from presenting each epoch's validation patterns again, with nudging off, to a copy of
the network taken at the end of the epoch, with its own random stream; the main run is not
affected by it.

Loss of a pattern: ``sum((u_out - u_tgt)**2) / n_out``; per epoch its mean over the validation
patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import MicrocircuitConfig
from .drive import Drive, run_pattern
from .network import NetParams, Network
from .recording import Recorder, SpikeLog

ROLE_TRAIN, ROLE_SYMM, ROLE_VAL = 0, 1, 2
ROLE_NAMES = ("training", "symmetrization", "validation")

Tick = Callable[[int], None]


# -- sequences --------------------------------------------------------------------------------


def _as_patterns(values, n: int) -> np.ndarray:
    """Inputs as a (P, n) array; scalars are broadcast to all n neurons."""
    return np.array([np.broadcast_to(np.asarray(v, float), (n,)) for v in values]).reshape(-1, n)


def _indices(rng: np.random.Generator, n_items: int, length: int, shuffle: bool) -> np.ndarray:
    if length == 0:
        return np.zeros(0, np.int64)
    if shuffle:
        return rng.choice(n_items, length)  # with replacement, as the paper's code
    return np.resize(np.arange(n_items), length)  # ordered, cycled


def pattern_sequence(
    n_train: int,
    n_val: int,
    *,
    seed: int,
    len_epoch: int,
    len_validation: int,
    num_epochs: int,
    shuffle_training: bool,
    shuffle_validation: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``(index, is_validation)`` of every pattern of the run, epoch by epoch."""
    rng = np.random.default_rng(seed)
    index, is_val = [], []
    for _ in range(num_epochs):
        index.append(_indices(rng, n_train, len_epoch, shuffle_training))
        index.append(_indices(rng, n_val, len_validation, shuffle_validation))
        is_val += [False] * len_epoch + [True] * len_validation
    return np.concatenate(index).astype(np.int64), np.array(is_val, bool)


def epoch_roles(len_epoch: int, len_symmetrization: int, len_validation: int) -> np.ndarray:
    """Role of each pattern of one epoch (:data:`ROLE_TRAIN` / ``SYMM`` / ``VAL``)."""
    roles = np.full(len_epoch + len_validation, ROLE_TRAIN, np.int8)
    roles[len_epoch - len_symmetrization : len_epoch] = ROLE_SYMM
    roles[len_epoch:] = ROLE_VAL
    return roles


def pattern_loss(u_out: np.ndarray, u_tgt: np.ndarray) -> np.ndarray:
    """``sum((u_out - u_tgt)**2) / n_out`` per pattern (rows)."""
    return np.sum((u_out - u_tgt) ** 2, axis=-1) / u_out.shape[-1]


# -- networks ---------------------------------------------------------------------------------


def draw_weights(dims, up_limits, down_limits, seed: int) -> list[dict]:
    """Uniform random weights: per hidden layer ``W_up`` then ``W_down``, then the output's
    ``W_up`` (the paper's order for one hidden layer)."""
    rng = np.random.default_rng(seed)
    weights = []
    for layer in range(1, len(dims)):
        entry = {"w_up": rng.uniform(up_limits[0], up_limits[1], (dims[layer], dims[layer - 1]))}
        if layer < len(dims) - 1:
            entry["w_down"] = rng.uniform(
                down_limits[0], down_limits[1], (dims[layer], dims[layer + 1])
            )
        weights.append(entry)
    return weights


def initial_weights(init, dims, seed) -> list[dict]:
    """Explicit weights of an ``*_initial_parameters`` section, or drawn ones."""
    if init.weights is not None:
        return [{k: v for k, v in lw.model_dump().items() if v is not None} for lw in init.weights]
    lim = init.random_weights_init_limits
    up, down = (lim.up, lim.down) if hasattr(lim, "up") else (lim, lim)
    return draw_weights(dims, up, down, seed)


def build_network(cfg: MicrocircuitConfig, role: str, seeds: dict) -> Network:
    """Teacher or student network with its initial weights, self-predicting state and
    biases (the paper's order: weights, ``distribute_weights``, biases)."""
    net = Network(NetParams.from_config(cfg.network_properties, cfg.options))
    init = getattr(cfg, f"{role}_initial_parameters")
    net.set_weights(initial_weights(init, cfg.dims, seeds[f"{role}_weights_init_seed"]))
    if role == "teacher":
        net.distribute_weights()
    else:
        s = cfg.student_simulation_settings
        if s.set_sps:
            net.distribute_weights(update_down=s.update_down)
    net.set_bias(init.bias)
    return net


# -- presenting patterns ----------------------------------------------------------------------


@dataclass
class Presentation:
    u_out: np.ndarray  # (P, n_out) mean output potential after the lag
    counts: np.ndarray  # (P, n_neurons) spikes per pattern


def present(
    net: Network,
    u_in: np.ndarray,
    u_tgt: np.ndarray | None,
    roles: np.ndarray,
    *,
    t_pattern: int,
    rng: np.random.Generator,
    engine: str,
    update_up: bool,
    update_down: bool,
    set_sps: bool,
    nudge: bool = True,
    recorder: Recorder | None = None,
    spikes: SpikeLog | None = None,
    tick: Tick | None = None,
) -> Presentation:
    """Present patterns ``u_in[p]`` (targets ``u_tgt[p]``) in the given roles (``Network.run``
    of the paper, one pattern after the other)."""
    p_ = net.params
    n_steps = t_pattern * p_.t_ref
    n_pat = len(u_in)
    u_out = np.zeros((n_pat, net.layout.dims[-1]))
    counts = np.zeros((n_pat, net.layout.n_neurons), np.int64)
    for p in range(n_pat):
        role = roles[p]
        net.flags[0] = float(role == ROLE_VAL)
        net.flags[1] = float(role == ROLE_SYMM)
        if role == ROLE_SYMM:
            net.set_symmetrization()
        target = None if u_tgt is None else u_tgt[p]
        drive = Drive(
            u_in=u_in[p],
            u_tgt=target,
            n_steps=n_steps,
            lag=p_.learning_lag,
            nudge=nudge,
            plast_up=update_up and role == ROLE_TRAIN and target is not None,
            sal=update_down and role == ROLE_SYMM,
            copy_bp=not update_down,
            set_sps=set_sps,
        )
        out = run_pattern(net, drive, rng, engine=engine, recorder=recorder, spikes=spikes)
        if role == ROLE_SYMM:
            net.unset_symmetrization()
        u_out[p], counts[p] = out.u_out, out.counts
        if tick is not None:
            tick(n_steps)
    return Presentation(u_out, counts)


# -- teacher ----------------------------------------------------------------------------------


@dataclass
class TeacherResult:
    u_in: np.ndarray  # (P_train + P_val, n_in)
    u_out: np.ndarray  # (P_train + P_val, n_out)
    targets: np.ndarray  # (P_train + P_val, n_out) what the student learns
    n_train: int
    weights: dict[str, np.ndarray]
    counts: np.ndarray

    @property
    def train_targets(self):
        return self.targets[: self.n_train]

    @property
    def val_targets(self):
        return self.targets[self.n_train :]


def teacher_steps(cfg: MicrocircuitConfig) -> int:
    n = len(cfg.u_input.training) + len(cfg.u_input.validation)
    return n * cfg.teacher_simulation_settings.t_pattern * cfg.network_properties.t_ref


def run_teacher(
    cfg: MicrocircuitConfig, seeds: dict, *, engine: str, tick: Tick | None = None
) -> TeacherResult:
    dims = cfg.dims
    net = build_network(cfg, "teacher", seeds)
    weights = net.weights()
    train = _as_patterns(cfg.u_input.training, dims[0])
    val = _as_patterns(cfg.u_input.validation, dims[0])
    u_in = np.concatenate([train, val])
    roles = np.concatenate([epoch_roles(len(train), 0, len(val))])
    rng = np.random.default_rng(seeds["teacher_poisson_seed"])
    pres = present(
        net,
        u_in,
        None,
        roles,
        t_pattern=cfg.teacher_simulation_settings.t_pattern,
        rng=rng,
        engine=engine,
        update_up=False,
        update_down=False,
        set_sps=True,
        tick=tick,
    )
    targets = pres.u_out.copy()
    if cfg.options.teacher_targets == "first":
        targets[:] = pres.u_out[:, :1]
    return TeacherResult(u_in, pres.u_out, targets, len(train), weights, pres.counts)


# -- student ----------------------------------------------------------------------------------


@dataclass
class StudentResult:
    u_in: np.ndarray  # (P, n_in) every pattern of the run
    u_tgt: np.ndarray  # (P, n_out)
    pattern_index: np.ndarray  # (P,) index into the training or validation inputs
    role: np.ndarray  # (P,) ROLE_*
    u_out: np.ndarray  # (P, n_out) mean output after the lag (nudged in validation)
    u_out_free: np.ndarray  # (P, n_out) free output of validation patterns, NaN elsewhere
    counts: np.ndarray  # (P, n_neurons)
    loss_nudged: np.ndarray  # (num_epochs,) paper's validation loss
    loss_free: np.ndarray  # (num_epochs,) validation loss with nudging off
    val_start: np.ndarray  # (num_epochs,) pattern index of each validation block
    initial_weights: dict[str, np.ndarray]
    final_weights: dict[str, np.ndarray]
    recordings: dict[str, np.ndarray] = field(default_factory=dict)
    spikes: np.ndarray | None = None


def student_total_steps(cfg: MicrocircuitConfig) -> int:
    """Steps of the student run, including the free validation passes."""
    s = cfg.student_simulation_settings
    per_epoch = s.len_epoch + s.len_validation
    if cfg.options.free_validation:
        per_epoch += s.len_validation
    return s.num_epochs * per_epoch * s.t_pattern * cfg.network_properties.t_ref


def run_student(
    cfg: MicrocircuitConfig,
    seeds: dict,
    teacher: TeacherResult,
    *,
    engine: str,
    tick: Tick | None = None,
) -> StudentResult:
    s = cfg.student_simulation_settings
    dims = cfg.dims
    net = build_network(cfg, "student", seeds)
    initial = net.weights()

    index, is_val = pattern_sequence(
        teacher.n_train,
        len(teacher.u_in) - teacher.n_train,
        seed=seeds["student_training_seed"],
        len_epoch=s.len_epoch,
        len_validation=s.len_validation,
        num_epochs=s.num_epochs,
        shuffle_training=s.shuffle_training,
        shuffle_validation=s.shuffle_validation,
    )
    src = np.where(is_val, index + teacher.n_train, index)
    u_in, u_tgt = teacher.u_in[src], teacher.targets[src]
    roles = np.tile(epoch_roles(s.len_epoch, s.len_symmetrization, s.len_validation), s.num_epochs)

    n_steps = len(u_in) * s.t_pattern * cfg.network_properties.t_ref
    recorder = Recorder(net, s.recorded_quantities, n_steps, s.recorded_sample_length)
    spikes = SpikeLog() if s.record_all_spks else None
    rng = np.random.default_rng(seeds["student_poisson_seed"])
    # own stream for the free validation passes: a child of the student's poisson seed
    free_rng = np.random.default_rng(
        np.random.SeedSequence(seeds["student_poisson_seed"]).spawn(1)[0]
    )

    per_epoch = s.len_epoch + s.len_validation
    u_out = np.zeros((len(u_in), dims[-1]))
    u_out_free = np.full((len(u_in), dims[-1]), np.nan)
    counts = np.zeros((len(u_in), net.layout.n_neurons), np.int64)
    loss_nudged = np.full(s.num_epochs, np.nan)
    loss_free = np.full(s.num_epochs, np.nan)
    common = dict(
        t_pattern=s.t_pattern, engine=engine, update_down=s.update_down, set_sps=s.set_sps
    )
    for epoch in range(s.num_epochs):
        ep = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        pres = present(
            net,
            u_in[ep],
            u_tgt[ep],
            roles[ep],
            rng=rng,
            update_up=True,
            recorder=recorder,
            spikes=spikes,
            tick=tick,
            **common,
        )
        u_out[ep], counts[ep] = pres.u_out, pres.counts
        if s.len_validation == 0:
            continue
        val = slice(ep.start + s.len_epoch, ep.stop)
        loss_nudged[epoch] = pattern_loss(u_out[val], u_tgt[val]).mean()
        if cfg.options.free_validation:
            free = present(
                net.copy(),
                u_in[val],
                u_tgt[val],
                roles[val],
                rng=free_rng,
                update_up=False,
                nudge=False,
                tick=tick,
                **common,
            )
            u_out_free[val] = free.u_out
            loss_free[epoch] = pattern_loss(free.u_out, u_tgt[val]).mean()
    recorder.finalize()
    return StudentResult(
        u_in=u_in,
        u_tgt=u_tgt,
        pattern_index=index,
        role=roles,
        u_out=u_out,
        u_out_free=u_out_free,
        counts=counts,
        loss_nudged=loss_nudged,
        loss_free=loss_free,
        val_start=np.arange(s.num_epochs) * per_epoch + s.len_epoch,
        initial_weights=initial,
        final_weights=net.weights(),
        recordings=recorder.results(),
        spikes=None if spikes is None else spikes.record(),
    )
