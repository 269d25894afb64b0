"""Sweep presets: the paper's run grids for figures 4, 5 and 6, at paper or quick scale.

SSN grids (``reference-model`` 2.7, upstream ``scripts/ssn/*/change_params.py``): the product
``NOISE x DISTR_SEEDS x INIT_SEEDS`` with the noise level outermost, run index
``i = noise_idx * 20 + d_idx * 4 + i_idx``, ``seed.sim = 7654 + i``, 120 runs per part:

* figure 4 (synaptic noise): ``init_noise`` in 0, 0.2, ..., 1.0 on ``syn_noise`` (no
  alignment), ``syn_noise_sal`` (SAL) and ``syn_noise_kp`` (Kolen-Pollack twin, upstream v3);
* figure 5 (plasticity noise): ``stdp.ws.noise = stdp.sal.noise`` in 0, 0.01, ..., 0.05 on
  ``plast_noise``, ``plast_noise_sal`` and ``plast_noise_kp``.

``DISTR_SEEDS`` keeps upstream's ``4235`` (probably meant as 4325) so that runs are comparable
with the paper's; the KP twins use the same grid as the other two parts.

Paper v3 grids (``reference-model-v3`` 4-6; presets ``fig4_v3``, ``fig5_v3``, ``kp_lr_v3``): each
noise level runs seed ids ``k = 0..19`` of the v3 seed table (``spikealign.ssn.config.v3_seeds``:
the same three seeds for a given ``k`` at every noise level and in every part); run index
``i = noise_idx * 20 + k``:

* figure 4: ``init_noise`` in 0, 0.2, ..., 1.0 on ``syn_noise{,_sal,_kp}_v3`` (360 runs);
* figure 5: ``stdp.ws.noise = stdp.sal.noise`` in 0, 0.2, ..., 0.8 on ``plast_noise{,_sal,_kp}_v3``
  (300 runs);
* the Kolen-Pollack decay-rate study (the paper's ``kp_lr`` figure, no upstream script): the KP
  configs with ``lr.kp`` from the grid ``1e-6 x {1, 2, 4, 8, 16, 32, 64, 120, 240, 480}``
  (synaptic) and ``1e-5 x 2^{-3..4}`` (plasticity), at noise levels 0.4 and 0.8 (720 runs).

Microcircuit grid (``reference-model`` 3.6, figure 6): 20 runs each of ``mc_sal``, ``mc_bp``
and ``mc_fa``; run ``i`` adds ``i + 1`` to the student's seeds (upstream increments before
writing the first file).

Scales: ``paper`` uses the paper's lengths; ``quick`` shortens every run (same grid) so that a
whole figure takes about 20 minutes on two cores and still shows the paper's result; see
:data:`QUICK_SYN`, :data:`QUICK_PLAST`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

from ..config import ConfigError, merge
from ..ssn.config import DISTR_SEEDS, INIT_SEEDS, SIM_SEED  # seed tables (4235: quirk 18)
from .kinds import RUNNERS, ssn_seconds
from .spec import RunSpec

SYN_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
PLAST_LEVELS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05)
PLAST_LEVELS_V3 = (0.0, 0.2, 0.4, 0.6, 0.8)
#: decay rates of the paper's kp_lr figure (``reference-model-v3`` 6)
KP_LR_SYN = tuple(1e-6 * k for k in (1, 2, 4, 8, 16, 32, 64, 120, 240, 480))
KP_LR_PLAST = tuple(1e-5 * 2.0**e for e in range(-3, 5))
KP_LR_LEVELS = (0.4, 0.8)
MC_SEEDS = 20

SCALES = ("paper", "quick")

#: quick scale of the figure 4 parts: 5x shorter sleep phases (200 instead of 1000 t_ref; the
#: same expected update per cycle, noisier), the same 20 001 cycles and learning rates,
#: validations every 1000 cycles with 5e6 steps each (val_factor 500; paper: every 500 with
#: 5e7). 3.05e8 steps per run instead of 3.05e9 (KP twin: 1.2e9).
QUICK_SYN = {"dur": 200, "val_step": 1000, "val_factor": 500}
#: quick scale of the figure 5 parts: as QUICK_SYN, and for plast_noise(_sal) 10x fewer cycles
#: (15 001) with 10x larger learning rates (bias, weight and SAL), which keeps the drift that
#: plasticity noise accumulates (lr x cycles) and SAL's counter-drift. 2.3e8 steps per run
#: instead of 1.13e10. The KP twin (20 001 cycles, lr 0.01 upstream) keeps its cycles.
QUICK_PLAST = {"dur": 200, "val_step": 1000, "val_factor": 500}


def _set_dotted(d: dict, key: str, value) -> None:
    """Set ``d[a][b] = value`` for ``key = "a.b"``, copying the nested dicts it touches."""
    node = d
    parts = key.split(".")
    for p in parts[:-1]:
        node[p] = dict(node.get(p, {}))
        node = node[p]
    node[parts[-1]] = value


@dataclass(frozen=True)
class SSNPart:
    """One SSN sweep directory: a base preset swept over noise levels and seeds."""

    name: str
    figure: str
    group: str
    feedback: str
    base: str
    axis: tuple[str, ...]
    levels: tuple[float, ...]
    highlight: float
    quick: dict = field(default_factory=dict)
    quick_cycles: int | None = None  # quick scale: cycles, with lr scaled by paper/quick cycles
    distr_seeds: tuple[int, ...] = DISTR_SEEDS
    init_seeds: tuple[int, ...] = INIT_SEEDS
    sim_seed: int = SIM_SEED
    fixed_scale: str | None = None  # e.g. the tiny preset is tiny at every scale
    kind: str = "ssn"
    paper: str = "v2"  # the paper version the part reproduces: v2, v3 or "none" (extension)
    seeds: str = "v2"  # v2: sim seed 7654 + global index; v3: seed_id k at every level
    fixed: dict = field(default_factory=dict)  # extra overrides of the base preset (e.g. lr.kp)

    @property
    def n_runs(self) -> int:
        return len(self.levels) * len(self.distr_seeds) * len(self.init_seeds)

    def scale_overrides(self, scale: str) -> dict:
        """Overrides of the base preset for ``scale``."""
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
        if scale == "paper":
            return {}
        over = dict(self.quick)
        if self.quick_cycles is not None:
            from ..ssn.config import load_config

            base = load_config(self.base)
            factor = (base.num_epochs - 1) / (self.quick_cycles - 1)
            over["num_epochs"] = self.quick_cycles
            over["lr"] = {
                "bias": base.lr.bias * factor,
                "weight": base.lr.weight * factor,
                "symm": base.lr.symm * factor,
            }
        return over

    def specs(self, scale: str = "paper", overrides: dict | None = None) -> list[RunSpec]:
        from ..config import load_yaml, validate
        from ..ssn.config import PRESET_DIR, SSNConfig

        base = merge(
            merge(load_yaml(PRESET_DIR / f"{self.base}.yaml"), self.fixed),
            merge(self.scale_overrides(self.fixed_scale or scale), overrides or {}),
        )
        out = []
        grid = product(
            enumerate(self.levels), enumerate(self.distr_seeds), enumerate(self.init_seeds)
        )
        nd, ni = len(self.distr_seeds), len(self.init_seeds)
        for (n_idx, level), (d_idx, d_seed), (i_idx, i_seed) in grid:
            k = d_idx * ni + i_idx
            i = n_idx * nd * ni + k
            if self.seeds == "v3":
                data = merge(base, {"seed_id": k})
                sim = self.sim_seed + k
            else:
                sim = self.sim_seed + i
                data = merge(base, {"seed": {"distr": d_seed, "init": i_seed, "sim": sim}})
            for key in self.axis:
                _set_dotted(data, key, level)
            cfg = validate(SSNConfig, data, source=f"sweep part {self.name} run {i}")
            out.append(
                RunSpec(
                    part=self.name,
                    index=i,
                    kind=self.kind,
                    runner=RUNNERS[self.kind],
                    config=cfg.model_dump(mode="json"),
                    params={
                        "noise": level,
                        "seed.distr": cfg.seed.distr,
                        "seed.init": cfg.seed.init,
                        "seed.sim": cfg.seed.sim,
                        **self._fixed_params(),
                    },
                    cost=ssn_seconds(cfg),
                )
            )
        return out

    def _fixed_params(self) -> dict:
        """``fixed`` as flat dotted keys (``{"lr.kp": 1e-6}``), recorded with every run."""
        out = {}

        def walk(d, prefix):
            for k, v in d.items():
                if isinstance(v, dict):
                    walk(v, f"{prefix}{k}.")
                else:
                    out[f"{prefix}{k}"] = v

        walk(self.fixed, "")
        return out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "figure": self.figure,
            "group": self.group,
            "feedback": self.feedback,
            "base": self.base,
            "axis": list(self.axis),
            "levels": list(self.levels),
            "highlight": self.highlight,
            "paper": self.paper,
            "fixed": self._fixed_params(),
        }


@dataclass(frozen=True)
class MicrocircuitPart:
    """One microcircuit sweep directory: a base preset run with 20 seed offsets.

    Run ``i`` uses seed offset ``i + 1`` (``spikealign.microcircuits.config.run_seeds``: added
    to the student's poisson, weight-init and training seeds and the teacher's seeds), which
    are the seeds of upstream's file ``*.000i.yaml``. Paper runs take about 8 s each here, so
    ``quick`` is the paper scale.
    """

    name: str
    feedback: str
    base: str
    figure: str = "6"
    group: str = "microcircuits"
    n_seeds: int = MC_SEEDS
    kind: str = "microcircuit"

    @property
    def n_runs(self) -> int:
        return self.n_seeds

    def specs(self, scale: str = "paper", overrides: dict | None = None) -> list[RunSpec]:
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
        try:
            from ..microcircuits.config import load_config
        except ImportError:
            raise ConfigError(
                f"{self.name}: the microcircuit family is not part of this build of spikealign"
            ) from None
        from .kinds import microcircuit_seconds

        data = load_config(self.base).model_dump(mode="json")
        cfg = load_config(merge(data, overrides or {}))
        config = cfg.model_dump(mode="json")
        cost = microcircuit_seconds(cfg)
        return [
            RunSpec(
                part=self.name,
                index=i,
                kind=self.kind,
                runner=RUNNERS[self.kind],
                config={"experiment": config, "seed_offset": i + 1},
                params={"seed_offset": i + 1},
                cost=cost,
            )
            for i in range(self.n_seeds)
        ]

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "figure": self.figure,
            "group": self.group,
            "feedback": self.feedback,
            "base": self.base,
        }


@dataclass(frozen=True)
class DeepPart:
    """One deep-network sweep directory: one algorithm on one data set over seeds (figure 8).

    Paper scale: the paper's 100 epochs (``exp_settings.yaml``); quick scale: one epoch on the
    first 6000 training and 2000 test images, enough to see the ordering of the angles.
    """

    name: str
    algo: str
    dataset: str
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    figure: str = "8"
    group: str = "deep"
    kind: str = "deep"

    @property
    def feedback(self) -> str:
        return self.algo

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    def specs(self, scale: str = "paper", overrides: dict | None = None) -> list[RunSpec]:
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
        from ..config import validate
        from .kinds import deep_seconds

        try:
            from ..deep.train import TrainConfig
        except ImportError:
            raise ConfigError(
                f"{self.name}: the deep-network family needs torch: pip install -e '.[deep]'"
            ) from None
        base = {"algo": self.algo, "dataset": self.dataset, "epochs": 100}
        if scale == "quick":
            base.update(epochs=1, train_limit=6000, test_limit=2000)
        out = []
        for i, seed in enumerate(self.seeds):
            data = merge({**base, "seed": seed}, overrides or {})
            cfg = validate(TrainConfig, data, source=f"sweep part {self.name} run {i}")
            config = cfg.model_dump(mode="json")
            out.append(
                RunSpec(
                    part=self.name,
                    index=i,
                    kind=self.kind,
                    runner=RUNNERS[self.kind],
                    config=config,
                    params={"algo": self.algo, "dataset": self.dataset, "seed": seed},
                    cost=deep_seconds(config),
                )
            )
        return out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "figure": self.figure,
            "group": self.group,
            "feedback": self.feedback,
            "algo": self.algo,
            "dataset": self.dataset,
        }


@dataclass(frozen=True)
class BMPart:
    """One spiking-Boltzmann-machine sweep directory: one (condition, feedback) cell of an
    experiment (:mod:`spikealign.bm.experiments`) over its seeds; run ``i`` is seed
    ``seeds[i]``."""

    name: str
    experiment: str
    condition: str
    feedback: str
    figure: str = "bm"
    kind: str = "bm"

    @property
    def group(self) -> str:
        return self.experiment

    def _exp(self):
        from ..bm.experiments import EXPERIMENTS

        return EXPERIMENTS[self.experiment]

    @property
    def n_runs(self) -> int:
        return len(self._exp().seeds)

    def specs(self, scale: str = "paper", overrides: dict | None = None) -> list[RunSpec]:
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
        from ..bm.config import PRESET_DIR, BMConfig
        from ..bm.experiments import seed_overrides
        from ..config import load_yaml, validate
        from .kinds import bm_seconds

        exp = self._exp()
        data = load_yaml(PRESET_DIR / f"{exp.preset}.yaml")
        # quick first: the experiment's own settings (e.g. bm_sleep's sleep lengths) win
        for over in (
            exp.quick if scale == "quick" else {},
            exp.base,
            exp.conditions[self.condition],
            exp.feedbacks[self.feedback],
        ):
            data = merge(data, over)
        out = []
        for i, k in enumerate(exp.seeds):
            cfg = validate(
                BMConfig,
                merge(merge(data, seed_overrides(k)), overrides or {}),
                source=f"sweep part {self.name} run {i}",
            )
            config = cfg.model_dump(mode="json")
            out.append(
                RunSpec(
                    part=self.name,
                    index=i,
                    kind=self.kind,
                    runner=RUNNERS[self.kind],
                    config=config,
                    params={"condition": self.condition, "feedback": self.feedback, "seed": int(k)},
                    cost=bm_seconds(cfg),
                )
            )
        return out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "figure": self.figure,
            "group": self.group,
            "feedback": self.feedback,
            "condition": self.condition,
            "experiment": self.experiment,
            "base": self._exp().preset,
        }


@dataclass(frozen=True)
class BMBaselinePart:
    """The baselines of a bm experiment (:mod:`spikealign.bm.baselines`) on its data, one run
    per seed of ``baseline_seeds``; the experiment figure draws them as reference lines."""

    name: str
    experiment: str
    figure: str = "bm"
    kind: str = "bm_baselines"
    feedback: str = "baselines"
    condition: str = "baselines"

    @property
    def group(self) -> str:
        return self.experiment

    def _exp(self):
        from ..bm.experiments import EXPERIMENTS

        return EXPERIMENTS[self.experiment]

    @property
    def n_runs(self) -> int:
        return len(self._exp().baseline_seeds)

    def specs(self, scale: str = "paper", overrides: dict | None = None) -> list[RunSpec]:
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
        from ..bm.experiments import baseline_config
        from .kinds import bm_baseline_seconds

        exp = self._exp()
        out = []
        for i, k in enumerate(exp.baseline_seeds):
            config = baseline_config(exp, scale, k, overrides)
            out.append(
                RunSpec(
                    part=self.name,
                    index=i,
                    kind=self.kind,
                    runner=RUNNERS[self.kind],
                    config=config,
                    params={"condition": "baselines", "feedback": "baselines", "seed": int(k)},
                    cost=bm_baseline_seconds(config),
                )
            )
        return out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "figure": self.figure,
            "group": self.group,
            "feedback": self.feedback,
            "condition": self.condition,
            "experiment": self.experiment,
            "base": self._exp().preset,
        }


def _bm_parts() -> dict[str, list]:
    from ..bm.experiments import EXPERIMENTS

    out = {}
    for name, exp in EXPERIMENTS.items():
        out[name] = [BMPart(f"{name}-{c}-{f}", name, c, f) for c, f in exp.cells()]
        if exp.baseline_seeds:
            out[name].append(BMBaselinePart(f"{name}-baselines", name))
    return out


def _ssn_parts(
    prefix: str, figure: str, axis, levels, highlight, quick, quick_cycles, kp_quick, **kw
):
    return [
        SSNPart(
            prefix,
            figure,
            prefix,
            "none",
            prefix,
            axis,
            levels,
            highlight,
            quick,
            quick_cycles,
            **kw,
        ),
        SSNPart(
            f"{prefix}_sal",
            figure,
            prefix,
            "sal",
            f"{prefix}_sal",
            axis,
            levels,
            highlight,
            quick,
            quick_cycles,
            **kw,
        ),
        SSNPart(
            f"{prefix}_kp",
            figure,
            prefix,
            "kp",
            f"{prefix}_kp",
            axis,
            levels,
            highlight,
            kp_quick,
            None,
            **{"paper": "none", **kw},
        ),
    ]


def _v3_parts(prefix: str, figure: str, axis, levels) -> list[SSNPart]:
    return [
        SSNPart(
            f"{prefix}{fb_suffix}_v3",
            figure,
            f"{prefix}_v3",
            fb,
            f"{prefix}{fb_suffix}_v3",
            axis,
            levels,
            0.8,
            QUICK_V3,
            paper="v3",
            seeds="v3",
        )
        for fb, fb_suffix in (("none", ""), ("sal", "_sal"), ("kp", "_kp"))
    ]


def _kp_lr_parts(prefix: str, axis, rates) -> list[SSNPart]:
    return [
        SSNPart(
            f"{prefix}_kp_lr_{k:02d}",
            "kp-lr",
            f"{prefix}_kp_lr_v3",
            "kp",
            f"{prefix}_kp_v3",
            axis,
            KP_LR_LEVELS,
            0.8,
            QUICK_V3,
            paper="v3",
            seeds="v3",
            fixed={"lr": {"kp": float(f"{lam:.6g}")}},
        )
        for k, lam in enumerate(rates)
    ]


#: quick scale of the v3 parts: 5x shorter sleep phases (200 t_ref), validations with the same
#: 5e6 steps as the paper (val_factor 500) at the same cycles, the same 20 001 cycles and rates:
#: 4.0e8 steps per synaptic-noise run (paper 1.2e9), 3.0e8 per plasticity-noise run (1.1e9).
QUICK_V3 = {"dur": 200, "val_factor": 500}

FIG4 = _ssn_parts("syn_noise", "4", ("init_noise",), SYN_LEVELS, 0.8, QUICK_SYN, None, QUICK_SYN)
FIG5 = _ssn_parts(
    "plast_noise",
    "5",
    ("stdp.ws.noise", "stdp.sal.noise"),
    PLAST_LEVELS,
    0.05,
    QUICK_PLAST,
    15001,
    QUICK_PLAST,
)
FIG4_V3 = _v3_parts("syn_noise", "4", ("init_noise",), SYN_LEVELS)
FIG5_V3 = _v3_parts("plast_noise", "5", ("stdp.ws.noise", "stdp.sal.noise"), PLAST_LEVELS_V3)
KP_LR_V3 = _kp_lr_parts("syn_noise", ("init_noise",), KP_LR_SYN) + _kp_lr_parts(
    "plast_noise", ("stdp.ws.noise", "stdp.sal.noise"), KP_LR_PLAST
)
FIG6 = [
    MicrocircuitPart("mc_sal", "sal", "sal"),
    MicrocircuitPart("mc_bp", "bp", "bp"),
    MicrocircuitPart("mc_fa", "fa", "fa"),
]

#: Tiny figure-4-shaped sweep (12 runs of about a second) to try the machinery, e.g. on a new
#: cluster: noise 0 and 0.8, one target, two initialisations, no alignment / SAL / KP.
TINY_CONFIG = {"num_epochs": 1001, "val_step": 250, "val_factor": 20}
TINY = [
    SSNPart(
        name,
        "4",
        "tiny",
        fb,
        base,
        ("init_noise",),
        (0.0, 0.8),
        0.8,
        TINY_CONFIG,
        distr_seeds=(4321,),
        init_seeds=(9002, 9003),
        fixed_scale="quick",
    )
    for name, fb, base in (
        ("tiny", "none", "syn_noise"),
        ("tiny_sal", "sal", "syn_noise_sal"),
        ("tiny_kp", "kp", "syn_noise_kp"),
    )
]

DEEP_ALGOS = ("bp", "bp_fa", "fa", "kp", "scfa", "sal", "rdd")
DEEP_DATASETS = ("mnist", "fmnist", "cifar10", "svhn")
FIG8 = [DeepPart(f"deep_{ds}_{algo}", algo, ds) for ds in DEEP_DATASETS for algo in DEEP_ALGOS]

BM = _bm_parts()

PARTS = {
    p.name: p
    for p in FIG4
    + FIG5
    + FIG4_V3
    + FIG5_V3
    + KP_LR_V3
    + FIG6
    + FIG8
    + TINY
    + [p for parts in BM.values() for p in parts]
}

PRESETS: dict[str, tuple[str, list]] = {
    "fig4_v3": ("[paper v3] figure 4: SSN under synaptic noise, none / SAL / KP", FIG4_V3),
    "fig5_v3": ("[paper v3] figure 5: SSN under plasticity noise, none / SAL / KP", FIG5_V3),
    "kp_lr_v3": (
        "[paper v3] KP decay-rate study (kp_lr figure), synaptic + plasticity noise",
        KP_LR_V3,
    ),
    "fig4": ("[paper v2] figure 4: SSN under synaptic noise, none / SAL (+ KP extension)", FIG4),
    "fig5": ("[paper v2] figure 5: SSN under plasticity noise, none / SAL (+ KP extension)", FIG5),
    "fig6": ("figure 6: microcircuits, SAL / backprop / feedback alignment", FIG6),
    "fig8": ("figure 8: conv nets, 7 weight-transport algorithms x 4 data sets x 5 seeds", FIG8),
    "tiny": ("12 runs of about a second each, to try a cluster setup", TINY),
}
for _name, _parts in BM.items():
    from ..bm.experiments import EXPERIMENTS as _BM_EXPERIMENTS

    PRESETS[_name] = (f"[beyond the paper] {_BM_EXPERIMENTS[_name].description}", _parts)
for _ds in DEEP_DATASETS:
    PRESETS[f"fig8_{_ds}"] = (
        f"part of fig8: the 7 algorithms on {_ds}",
        [p for p in FIG8 if p.dataset == _ds],
    )
for _p in FIG4 + FIG5 + FIG4_V3 + FIG5_V3 + FIG6 + FIG8:
    PRESETS[_p.name] = (f"part of fig{_p.figure}: {_p.feedback}", [_p])
# every cell of a Boltzmann-machine experiment is a preset too (e.g. `bm_fmnist-synaptic-sal`)
for _parts in BM.values():
    for _p in _parts:
        PRESETS[_p.name] = (f"part of {_p.experiment}: {_p.condition} {_p.feedback}", [_p])


def parts_of(names: list[str]) -> list:
    """Parts of one or more presets, in order, without duplicates."""
    out, seen = [], set()
    for name in names:
        if name not in PRESETS:
            raise ConfigError(f"unknown sweep preset {name!r}; presets: {', '.join(PRESETS)}")
        for part in PRESETS[name][1]:
            if part.name not in seen:
                seen.add(part.name)
                out.append(part)
    return out


def build_specs(
    names: list[str], scale: str = "paper", overrides: dict | None = None
) -> tuple[list, list[RunSpec]]:
    """``(parts, specs)`` of the presets ``names`` at ``scale`` with extra config overrides."""
    parts = parts_of(names)
    specs = [spec for part in parts for spec in part.specs(scale, overrides)]
    return parts, specs
