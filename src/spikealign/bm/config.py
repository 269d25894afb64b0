"""Configuration of a spiking Boltzmann machine run (``spikealign bm train CONFIG``).

Keys (units in brackets; defaults in parentheses):

===========================  ===================================================================
``task``                     ``digits`` (sklearn 8x8 digits, 10 labels), ``bars`` (3x3
                             bars-and-stripes, no labels, exact D_KL), ``fmnist`` / ``mnist``
                             (downsampled, when the data set is installed)
``seed.data/init/sim``       training-order subset draws / initial weights and plasticity noise
                             / spiking simulation and minibatch order
``network.n_hidden``         hidden units
``network.connectivity``     ``rbm`` (data <-> hidden, both directions) or ``full`` (all pairs)
``sim.t_ref, sim.tau_syn``   refractory period and rect PSP support [steps] (10, 11: the PSP
                             lasts ages 1 .. t_ref, exactly the on-state)
``sim.min_isi``              minimum inter-spike interval [steps] (default ``t_ref``: a neuron
                             may spike again in the last step of its on-state, so a forced unit
                             is on all the time; the SSN's ``t_ref + 1`` leaves a gap)
``sim.psp``                  PSP shape (rect)
``clamping``                 ``forced`` (forced states) or ``bias`` (bias := +-clamp_bias)
``clamp_bias``               bias of a unit clamped with ``clamping: bias`` (10)
``epochs``                   passes over the training set
``batch_size``               wake phases (data samples) per update
``wake_steps``               length of one wake phase [steps]
``sleep_steps``              length of one free sleep phase [steps]
``sleep_phases``             free sleep phases per update (statistics averaged)
``sleep_chain``              ``fresh`` (each sleep phase starts from rest) or ``persistent``
                             (each of the ``sleep_phases`` sleep chains continues from where it
                             stopped at the previous update, under the updated weights:
                             persistent contrastive divergence)
``lr.weight, lr.bias``       learning rates of ``dW = lr (C_wake - C_sleep)``, ``db = lr (m_wake
                             - m_sleep)``
``lr.symm``                  SAL rate (0: off), on the sleep spikes
``lr.kp``                    Kolen-Pollack decay per update, ``W <- (1 - lr.kp) W`` (0: off)
``init.weight``              std of the symmetric initial weights
``init.synaptic_noise``      std of the asymmetric noise added to the initial weights
``init.visible_bias``        ``data`` (log-odds of the training means) or ``zero``
``stdp.noise``               std of the per-synapse amplitude noise of the coactivation rule
                             ("plasticity noise"), truncated at 1.5 sigma
``stdp.sal_noise``           the same for the SAL rule (default: ``stdp.noise``)
``stdp.coactivation``        estimator of the coactivations ``<z_i z_j>`` and on-fractions
                             ``<z_i>``: ``exact`` (default: the time average over the phase of
                             the binary states, a unit on for ``t_ref`` steps after a spike,
                             same-step spikes and the phase end included) or ``window`` (the
                             SSN's triangular STDP window of width ``t_ref``: zero for
                             same-step spikes, on-time past the phase end counted; biased,
                             kept to measure that bias)
``stdp.num_last_spikes``     partner spikes per pair of the SAL window (1)
``stdp.tau``                 width of the triangular SAL window (and of the ``window``
                             coactivation estimate) [steps] (default ``t_ref``)
``max_w, max_b``             clipping bounds
``data.n_train, n_test``     subset sizes (default: all)
``data.n_validation``        training images held out for validation (default: 300 for
                             digits, 5000 for fmnist/mnist; bars: none, validation = training
                             patterns); a fixed draw (:mod:`spikealign.bm.data`)
``data.threshold``           binarisation threshold on intensities in [0, 1] (0.5)
``data.size``                side of the downsampled fmnist/mnist images (14)
``eval.every``               evaluate on the validation images every so many epochs (and after
                             the last)
``eval.steps``               length of a classification / completion phase [steps]
``eval.n_validation``        validation images per intermediate evaluation (default: all; the
                             last evaluation always uses all)
``eval.select``              ``last`` (the final parameters) or ``best`` (the parameters of
                             the evaluation with the best validation score: early stopping);
                             the test images are evaluated once, on the selected parameters
``eval.completion``          images for the pattern-completion score (0: off)
``eval.dkl_steps``           steps of the free phase that estimates the sampled marginal (bars)
``checkpoint_every``         epochs between checkpoints of an unfinished run (1)
===========================  ===================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..config import ConfigError, StrictModel, load_yaml, merge, validate
from ..limits import MAX_LAST_SPIKES, MAX_PHASE_STEPS, MAX_PSP_TAPS
from ..psp import PSP_NAMES

PRESET_DIR = Path(__file__).parent / "presets"
TASKS = ("digits", "bars", "fmnist", "mnist")
#: most sleep phases per update: their statistics (an N x N matrix per STDP window) are all
#: held until the update and persistent chains keep (and checkpoint) a state each, so the
#: count bounds memory (0.5 MB per phase for the digits RBM, 125 MB at the largest network).
#: Persistent CD runs about as many chains as a minibatch has samples (tens to hundreds);
#: longer sleep_steps make the statistics more precise without more memory.
MAX_SLEEP_PHASES = 1000


class Seeds(StrictModel):
    data: int = Field(default=0, ge=0)
    init: int = Field(default=1, ge=0)
    sim: int = Field(default=2, ge=0)


class NetworkSection(StrictModel):
    n_hidden: int = Field(ge=1, le=2000)
    connectivity: Literal["rbm", "full"] = "rbm"


class SimSection(StrictModel):
    t_ref: int = Field(default=10, ge=1, le=MAX_PHASE_STEPS)
    tau_syn: float = Field(default=11.0, gt=0, le=MAX_PSP_TAPS)
    min_isi: int | None = Field(default=None, ge=1, le=MAX_PHASE_STEPS)
    psp: Literal[PSP_NAMES] = "rect"  # type: ignore[valid-type]  # pydantic expands the tuple


class LearningRates(StrictModel):
    weight: float = Field(ge=0)
    bias: float = Field(ge=0)
    symm: float = Field(default=0.0, ge=0)
    kp: float = Field(default=0.0, ge=0, lt=1)


class InitSection(StrictModel):
    weight: float = Field(default=0.05, ge=0)
    synaptic_noise: float = Field(default=0.0, ge=0)
    visible_bias: Literal["data", "zero"] = "data"


class StdpSection(StrictModel):
    coactivation: Literal["exact", "window"] = "exact"
    noise: float = Field(default=0.0, ge=0, lt=1)
    sal_noise: float | None = Field(default=None, ge=0, lt=1)
    num_last_spikes: int = Field(default=1, ge=1, le=MAX_LAST_SPIKES)
    tau: float | None = Field(default=None, gt=0)


class DataSection(StrictModel):
    n_train: int | None = Field(default=None, ge=1)
    n_test: int | None = Field(default=None, ge=1)
    n_validation: int | None = Field(default=None, ge=1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    size: int = Field(default=14, ge=4, le=28)


class EvalSection(StrictModel):
    every: int = Field(default=5, ge=1)
    steps: int = Field(default=300, ge=1, lt=MAX_PHASE_STEPS)
    n_validation: int | None = Field(default=None, ge=1)
    select: Literal["last", "best"] = "last"
    completion: int = Field(default=100, ge=0)
    dkl_steps: int = Field(default=200_000, ge=1, lt=MAX_PHASE_STEPS)


class BMConfig(StrictModel):
    task: Literal[TASKS]  # type: ignore[valid-type]  # pydantic expands the tuple
    tags: list[str] = Field(default_factory=list)
    seed: Seeds = Field(default_factory=Seeds)
    network: NetworkSection
    sim: SimSection = Field(default_factory=SimSection)
    clamping: Literal["forced", "bias"] = "forced"
    clamp_bias: float = Field(default=10.0, gt=0)
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    wake_steps: int = Field(ge=1, lt=MAX_PHASE_STEPS)
    sleep_steps: int = Field(ge=1, lt=MAX_PHASE_STEPS)
    sleep_phases: int = Field(default=1, ge=1, le=MAX_SLEEP_PHASES)
    sleep_chain: Literal["fresh", "persistent"] = "fresh"
    lr: LearningRates
    init: InitSection = Field(default_factory=InitSection)
    stdp: StdpSection = Field(default_factory=StdpSection)
    max_w: float = Field(default=4.0, gt=0)
    max_b: float = Field(default=8.0, gt=0)
    data: DataSection = Field(default_factory=DataSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    checkpoint_every: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _cross_checks(self):
        if self.task == "bars" and self.network.n_hidden > 11:
            raise ValueError(
                "network.n_hidden: the bars task enumerates all states exactly; "
                f"allowed: <= 11 hidden units (got {self.network.n_hidden})"
            )
        return self

    # -- derived ------------------------------------------------------------------------------
    @property
    def feedback(self) -> str:
        """Alignment mechanism: 'none', 'sal', 'kp' or 'kp+sal'."""
        parts = [name for name, lr in (("kp", self.lr.kp), ("sal", self.lr.symm)) if lr > 0]
        return "+".join(parts) or "none"

    @property
    def stdp_tau(self) -> float:
        return float(self.stdp.tau or self.sim.t_ref)

    @property
    def sal_noise(self) -> float:
        return self.stdp.noise if self.stdp.sal_noise is None else self.stdp.sal_noise


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path, overrides: dict | None = None) -> BMConfig:
    """Load a YAML file or a preset name (:func:`presets`), apply ``overrides`` (a nested
    dict) and validate; :class:`~spikealign.config.ConfigError` (one line) otherwise."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        candidate = PRESET_DIR / f"{name_or_path}.yaml"
        if not candidate.is_file():
            raise ConfigError(
                f"{name_or_path}: neither a config file nor a preset; presets: "
                + ", ".join(presets())
            )
        path = candidate
    data = load_yaml(path)
    if overrides:
        data = merge(data, overrides)
    return validate(BMConfig, data, source=str(path))
