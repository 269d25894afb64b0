"""Configuration of a microcircuit teacher-student experiment (``docs/microcircuits.md``).

The file format is the paper's (``scripts/microcircuits/*.yaml`` upstream): the sections
``network_properties``, ``teacher_initial_parameters``, ``teacher_simulation_settings``,
``student_initial_parameters``, ``student_simulation_settings`` and ``u_input`` load unchanged.
One optional section of ours, ``options``, selects the engine and how the quirks of the paper's
code are treated (:class:`Options`). Every value is checked before anything is simulated; a
problem raises :class:`~spikealign.config.ConfigError` with one line naming the field.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from ..config import ConfigError, StrictModel, load_yaml, split_set, validate, yaml_text

# -- recordable quantities -------------------------------------------------------------------

#: quantities that can be recorded, by layer kind (block means, see ``recording.py``)
INPUT_QUANTITIES = ("u_in",)
HIDDEN_QUANTITIES = ("u_pyr", "v_bas", "v_api", "u_inn", "w_up", "w_pi", "w_ip", "w_down")
OUTPUT_QUANTITIES = ("u_pyr", "v_bas", "v_nudge", "u_tgt", "w_up", "validation", "symmetrization")

Number = float  # strict float accepts ints, never bools or strings
WeightValue = float | list[float] | list[list[float]]


# -- sections --------------------------------------------------------------------------------


class LayerRates(StrictModel):
    """Learning rates of one layer above the input: forward (``up``) and, for hidden layers,
    feedback (``down``, the SAL rate)."""

    up: Number
    down: Number | None = None


class NetworkProperties(StrictModel):
    dims: list[int]
    lambda_api: Number
    lambda_nudge: Number
    learning_lag: int
    lr: list[LayerRates]
    n_last_spks: int
    size_moving_average: int
    stdp_a_anticausal: Number
    stdp_a_causal: Number
    stdp_tau_anticausal: Number
    stdp_tau_causal: Number
    t_ref: int
    tau_syn: int


class RandomLimits(StrictModel):
    up: list[Number]
    down: list[Number]


class LayerWeights(StrictModel):
    """Explicit weights of one layer above the input (scalars are broadcast)."""

    w_up: WeightValue | None = None
    w_down: WeightValue | None = None
    w_pi: WeightValue | None = None
    w_ip: WeightValue | None = None


class InitialParameters(StrictModel):
    bias: list[float | list[float]]
    weights: list[LayerWeights] | None = None
    random_weights_init_limits: RandomLimits | list[Number] | None = None
    share_weights: bool = False  # read by the paper's files, used by nothing (quirk 27)


class TeacherSettings(StrictModel):
    len_epoch: int
    len_validation: int
    num_epochs: int
    poisson_seed: int
    recorded_quantities: list[list[str]]
    shuffle_training: bool
    shuffle_validation: bool
    t_pattern: int
    training_seed: int
    weights_init_seed: int | None = None


class StudentSettings(StrictModel):
    len_epoch: int
    len_symmetrization: int
    len_validation: int
    num_epochs: int
    poisson_seed: int
    weights_init_seed: int | None = None
    record_all_spks: bool
    recorded_quantities: list[list[str]]
    recorded_sample_length: int
    set_sps: bool
    shuffle_training: bool
    shuffle_validation: bool
    t_pattern: int
    training_seed: int
    update_down: bool


class UInput(StrictModel):
    training: list[float | list[float]]
    validation: list[float | list[float]]


class Options(StrictModel):
    """Our additions (all optional; the defaults are the fixed, documented behaviour).

    engine:               ``fast`` (numba) or ``reference`` (numpy, same spikes, ~1000x slower).
    free_validation:      also measure the free validation loss (nudging off) in a side run of
                          the validation patterns on a copy of the network (own random stream).
    teacher_seed_per_run: add the run's seed offset to the teacher's seeds as well (upstream:
                          one teacher for all runs).
    teacher_targets:      ``all`` output neurons of the teacher are targets; ``first`` copies
                          output 0 to every output (upstream).
    sal_same_step:        ``accumulate`` the causal and anti-causal SAL terms of a synapse whose
                          pre and post neurons spike in the same step; ``overwrite`` keeps only
                          the anti-causal one (upstream). Identical for ``n_last_spks = 1``.
    max_recording_mb:     refuse configs whose recordings would exceed this size.
    """

    engine: Literal["fast", "reference"] = "fast"
    free_validation: bool = True
    teacher_seed_per_run: bool = True
    teacher_targets: Literal["all", "first"] = "all"
    sal_same_step: Literal["accumulate", "overwrite"] = "accumulate"
    max_recording_mb: Number = 2048.0


class MicrocircuitConfig(StrictModel):
    network_properties: NetworkProperties
    teacher_initial_parameters: InitialParameters
    teacher_simulation_settings: TeacherSettings
    student_initial_parameters: InitialParameters
    student_simulation_settings: StudentSettings
    u_input: UInput
    options: Options = Options()

    # -- derived ----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """Feedback mode: ``bp`` (copied), ``fa`` (fixed random) or ``sal`` (learned)."""
        return feedback_mode(self)

    @property
    def dims(self) -> list[int]:
        return list(self.network_properties.dims)


FEEDBACK_MODES = ("sal", "fa", "bp")


def feedback_mode(cfg: MicrocircuitConfig) -> str:
    """``bp`` if the student copies its feedback weights (``update_down: false``), ``fa`` if
    SAL is on with all feedback rates 0, else ``sal``."""
    if not cfg.student_simulation_settings.update_down:
        return "bp"
    downs = [r.down or 0.0 for r in cfg.network_properties.lr[:-1]]
    if all(d == 0.0 for d in downs):
        return "fa"
    return "sal"


# -- consistency checks (types are checked by pydantic) --------------------------------------


def _fail(source: str, field: str, msg: str):
    raise ConfigError(f"{source}: {field}: {msg}")


def _check_shape(value, shape, source, field):
    try:
        arr = np.asarray(value, dtype=float)
    except ValueError:  # rows of different lengths
        _fail(source, field, "rows of different lengths; give a scalar or a full matrix")
    try:
        np.broadcast_to(arr, shape)
    except ValueError:
        _fail(source, field, f"shape {arr.shape} does not fit {shape} (a scalar is broadcast)")
    if not np.all(np.isfinite(arr)):
        _fail(source, field, "must be finite")


def _check_quantities(rq, dims, source, field):
    n_layers = len(dims)
    if len(rq) != n_layers:
        _fail(
            source, field, f"needs one list per layer ({n_layers} for dims {dims}), got {len(rq)}"
        )
    for layer, names in enumerate(rq):
        allowed = (
            INPUT_QUANTITIES
            if layer == 0
            else OUTPUT_QUANTITIES
            if layer == n_layers - 1
            else HIDDEN_QUANTITIES
        )
        for name in names:
            if name not in allowed:
                _fail(
                    source,
                    f"{field}.{layer}",
                    f"unknown quantity {name!r} for this layer; allowed: {', '.join(allowed)}",
                )
        if len(set(names)) != len(names):
            _fail(source, f"{field}.{layer}", "lists a quantity twice")


def _check_init(ip: InitialParameters, dims, seed, source, field):
    n_layers = len(dims)
    if len(ip.bias) != n_layers - 1:
        _fail(
            source,
            f"{field}.bias",
            f"needs {n_layers - 1} entries (one per layer above the input), got {len(ip.bias)}",
        )
    for k, b in enumerate(ip.bias):
        _check_shape(b, (dims[k + 1],), source, f"{field}.bias.{k}")
    if (ip.weights is None) == (ip.random_weights_init_limits is None):
        _fail(source, field, "give exactly one of 'weights' and 'random_weights_init_limits'")
    if ip.weights is not None:
        if len(ip.weights) != n_layers - 1:
            _fail(
                source,
                f"{field}.weights",
                f"needs {n_layers - 1} entries (one per layer "
                f"above the input), got {len(ip.weights)}",
            )
        for k, lw in enumerate(ip.weights):
            layer = k + 1
            f = f"{field}.weights.{k}"
            if lw.w_up is None:
                _fail(source, f"{f}.w_up", "required key is missing")
            _check_shape(lw.w_up, (dims[layer], dims[layer - 1]), source, f"{f}.w_up")
            if layer == n_layers - 1:
                for name in ("w_down", "w_pi", "w_ip"):
                    if getattr(lw, name) is not None:
                        _fail(source, f"{f}.{name}", "the output layer has no such weights")
            else:
                for name, shape in (
                    ("w_down", (dims[layer], dims[layer + 1])),
                    ("w_pi", (dims[layer], dims[layer + 1])),
                    ("w_ip", (dims[layer + 1], dims[layer])),
                ):
                    if getattr(lw, name) is not None:
                        _check_shape(getattr(lw, name), shape, source, f"{f}.{name}")
    else:
        lim = ip.random_weights_init_limits
        pairs = (
            [("up", lim.up), ("down", lim.down)] if isinstance(lim, RandomLimits) else [("", lim)]
        )
        for name, pair in pairs:
            f = f"{field}.random_weights_init_limits" + (f".{name}" if name else "")
            if len(pair) != 2 or not pair[0] <= pair[1]:
                _fail(source, f, f"must be [low, high] with low <= high (got {pair})")
        if seed is None:
            _fail(
                source,
                field.replace("initial_parameters", "simulation_settings") + ".weights_init_seed",
                "required for random initial weights",
            )


def _check_inputs(u: UInput, dims, source):
    for name in ("training", "validation"):
        for k, v in enumerate(getattr(u, name)):
            if isinstance(v, list) and len(v) != dims[0]:
                _fail(
                    source,
                    f"u_input.{name}.{k}",
                    f"needs {dims[0]} values (one per input neuron) or one scalar, got {len(v)}",
                )


def check_config(cfg: MicrocircuitConfig, source: str = "config") -> MicrocircuitConfig:
    """Value and cross-field checks; raises :class:`ConfigError` naming the field."""
    npr = cfg.network_properties
    f = "network_properties"
    dims = list(npr.dims)
    if len(dims) < 2:
        _fail(source, f"{f}.dims", f"needs at least an input and an output layer (got {dims})")
    if any(d < 1 for d in dims):
        _fail(source, f"{f}.dims", f"layer sizes must be >= 1 (got {dims})")
    for name in ("t_ref", "tau_syn", "n_last_spks", "size_moving_average"):
        if getattr(npr, name) < 1:
            _fail(source, f"{f}.{name}", f"must be >= 1 (got {getattr(npr, name)})")
    if npr.learning_lag < 0:
        _fail(source, f"{f}.learning_lag", f"must be >= 0 (got {npr.learning_lag})")
    for name in ("stdp_tau_causal", "stdp_tau_anticausal"):
        if not getattr(npr, name) > 0:
            _fail(source, f"{f}.{name}", f"must be > 0 (got {getattr(npr, name)})")
    for name in ("lambda_api", "lambda_nudge", "stdp_a_causal", "stdp_a_anticausal"):
        if not np.isfinite(getattr(npr, name)):
            _fail(source, f"{f}.{name}", "must be finite")
    if len(npr.lr) != len(dims) - 1:
        _fail(
            source,
            f"{f}.lr",
            f"needs {len(dims) - 1} entries (one per layer above the "
            f"input, hidden layers with 'up' and 'down', the output with 'up'), "
            f"got {len(npr.lr)}",
        )
    for k, rates in enumerate(npr.lr):
        hidden = k < len(dims) - 2
        if hidden and rates.down is None:
            _fail(source, f"{f}.lr.{k}.down", "required for a hidden layer")
        if not hidden and rates.down is not None:
            _fail(source, f"{f}.lr.{k}.down", "the output layer has no feedback weights")
        for v in (rates.up, rates.down):
            if v is not None and not np.isfinite(v):
                _fail(source, f"{f}.lr.{k}", "learning rates must be finite")

    t_ref = npr.t_ref
    for role in ("teacher", "student"):
        s = getattr(cfg, f"{role}_simulation_settings")
        fs = f"{role}_simulation_settings"
        if s.t_pattern < 1:
            _fail(source, f"{fs}.t_pattern", f"must be >= 1 (got {s.t_pattern})")
        if npr.learning_lag >= s.t_pattern * t_ref:
            _fail(
                source,
                f"{f}.learning_lag",
                f"must be below the {role}'s pattern length "
                f"t_pattern * t_ref = {s.t_pattern * t_ref} (got {npr.learning_lag})",
            )
        for name in ("poisson_seed", "training_seed", "weights_init_seed"):
            v = getattr(s, name)
            if v is not None and v < 0:
                _fail(source, f"{fs}.{name}", f"must be >= 0 (got {v})")
        _check_quantities(s.recorded_quantities, dims, source, f"{fs}.recorded_quantities")
        _check_init(
            getattr(cfg, f"{role}_initial_parameters"),
            dims,
            s.weights_init_seed,
            source,
            f"{role}_initial_parameters",
        )

    s = cfg.student_simulation_settings
    fs = "student_simulation_settings"
    for name, low in (
        ("len_epoch", 1),
        ("num_epochs", 1),
        ("len_validation", 0),
        ("len_symmetrization", 0),
        ("recorded_sample_length", 1),
    ):
        if getattr(s, name) < low:
            _fail(source, f"{fs}.{name}", f"must be >= {low} (got {getattr(s, name)})")
    if s.len_symmetrization >= s.len_epoch:
        _fail(
            source,
            f"{fs}.len_symmetrization",
            f"must be below len_epoch = {s.len_epoch} (got {s.len_symmetrization})",
        )
    if not cfg.u_input.training:
        _fail(source, "u_input.training", "needs at least one pattern")
    if s.len_validation > 0 and not cfg.u_input.validation:
        _fail(source, "u_input.validation", "needs at least one pattern when len_validation > 0")
    _check_inputs(cfg.u_input, dims, source)

    mb = recording_megabytes(cfg)
    if mb > cfg.options.max_recording_mb:
        _fail(
            source,
            f"{fs}.recorded_sample_length",
            f"the recordings would take {mb:.0f} MB "
            f"(> options.max_recording_mb = {cfg.options.max_recording_mb:g}); record fewer "
            f"quantities, average over longer blocks or set record_all_spks: false",
        )
    return cfg


def quantity_size(dims, layer: int, name: str) -> int:
    """Number of values of one recorded quantity."""
    n_layers = len(dims)
    n, below = dims[layer], dims[layer - 1] if layer > 0 else 0
    above = dims[layer + 1] if layer < n_layers - 1 else 0
    return {
        "u_in": n,
        "u_pyr": n,
        "v_bas": n,
        "v_api": n,
        "v_nudge": n,
        "u_tgt": n,
        "u_inn": above,
        "w_up": n * below,
        "w_down": n * above,
        "w_pi": n * above,
        "w_ip": above * n,
        "validation": 1,
        "symmetrization": 1,
    }[name]


def student_steps(cfg: MicrocircuitConfig) -> int:
    """Steps of the student's main run (without the free validation side runs)."""
    s = cfg.student_simulation_settings
    per_pattern = s.t_pattern * cfg.network_properties.t_ref
    return s.num_epochs * (s.len_epoch + s.len_validation) * per_pattern


def recording_megabytes(cfg: MicrocircuitConfig) -> float:
    """Memory of the recordings (float32 block means), plus an upper bound of the spike record
    (16 bytes per spike, at most one spike per neuron every ``t_ref`` steps) if kept."""
    s = cfg.student_simulation_settings
    dims = cfg.dims
    size = sum(
        quantity_size(dims, layer, q)
        for layer, names in enumerate(s.recorded_quantities)
        for q in names
    )
    n_samples = -(-student_steps(cfg) // s.recorded_sample_length)
    total = 4.0 * size * n_samples
    if s.record_all_spks:
        n_neurons = sum(dims) + sum(dims[2:])  # pyramids and interneurons
        total += 16.0 * n_neurons * (student_steps(cfg) // cfg.network_properties.t_ref + 1)
    return total / 2**20


# -- loading ----------------------------------------------------------------------------------


def preset_names() -> list[str]:
    root = resources.files(__package__) / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    return Path(str(resources.files(__package__) / "presets" / f"{name}.yaml"))


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML; list items by index)."""
    for item in overrides or ():
        key, parts, value = split_set(item, "student_simulation_settings.num_epochs")
        node = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {key}: {where}: no such list index")
                part = int(part)
            elif not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {where}: not a section")
            if last:
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return data


def load_config(
    config: str | Path | dict | MicrocircuitConfig, overrides: list[str] | None = None
) -> MicrocircuitConfig:
    """A validated config from a preset name, a YAML path, a dict or a config object."""
    if isinstance(config, MicrocircuitConfig):
        if not overrides:
            return config
        data, source = config.model_dump(mode="json"), "config"
    elif isinstance(config, dict):
        data, source = json.loads(json.dumps(config)), "config"
    else:
        path = Path(config)
        if path.is_file():
            data, source = load_yaml(path), str(path)
        elif str(config) in preset_names():
            data, source = load_yaml(preset_path(str(config))), f"preset {config}"
        else:
            raise ConfigError(
                f"{config}: neither a config file nor a preset; presets: "
                f"{', '.join(preset_names())}"
            )
    data = apply_overrides(data, overrides)
    return check_config(validate(MicrocircuitConfig, data, source), source)


def config_hash(cfg: MicrocircuitConfig, seed_offset: int) -> str:
    blob = json.dumps(
        {"config": cfg.model_dump(mode="json"), "seed_offset": seed_offset}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dump_config(cfg: MicrocircuitConfig) -> str:
    return yaml_text(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False)


# -- seeds ------------------------------------------------------------------------------------


def run_seeds(cfg: MicrocircuitConfig, seed_offset: int = 0) -> dict[str, int | None]:
    """Seeds of one run. The student's three seeds (and the unused teacher training seed) get
    ``seed_offset`` added, as the paper's sweep scripts do; the teacher's poisson (and weight)
    seed too unless ``options.teacher_seed_per_run`` is false."""
    if seed_offset < 0:
        raise ConfigError(f"seed_offset must be >= 0 (got {seed_offset})")
    s, t = cfg.student_simulation_settings, cfg.teacher_simulation_settings
    k_t = seed_offset if cfg.options.teacher_seed_per_run else 0

    def add(v, k):
        return None if v is None else v + k

    return {
        "student_poisson_seed": s.poisson_seed + seed_offset,
        "student_weights_init_seed": add(s.weights_init_seed, seed_offset),
        "student_training_seed": s.training_seed + seed_offset,
        "teacher_poisson_seed": t.poisson_seed + k_t,
        "teacher_weights_init_seed": add(t.weights_init_seed, k_t),
        "teacher_training_seed": t.training_seed + seed_offset,
    }
