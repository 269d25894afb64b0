"""The experiments of the spiking-Boltzmann-machine family, as grids of runs for the sweep
engine (``spikealign sweep run bm_digits | bm_digits_long | bm_bars | bm_sleep | bm_fmnist``;
:mod:`spikealign.sweep.presets` turns each into sweep parts).

An experiment is the product (condition) x (feedback) x (seed) on one base preset; the
noise-free condition ``clean`` runs without alignment only (the reference). Every
(condition, feedback) pair is one sweep part, ``<experiment>-<condition>-<feedback>``, holding
one run per seed. Seed ``k`` sets ``seed.init = k`` (initial weights, plasticity-noise
amplitudes) and ``seed.sim = 100 + k`` (spikes, minibatch order); the data split is fixed
(:mod:`spikealign.bm.data`), so every condition sees the same seeds and images: comparisons
between conditions are paired by seed.

Where the rates come from: ``docs/bm.md`` ("Hyperparameters"), a scan on the validation
images; the test images are never used to choose anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: noise conditions of the alignment experiments
NOISE = {
    "clean": {},
    "synaptic": {"init": {"synaptic_noise": 0.5}},
    "plasticity": {"stdp": {"noise": 0.5}},
}


@dataclass(frozen=True)
class Experiment:
    """One experiment: ``conditions`` and ``feedbacks`` map names to config overrides (nested
    dicts, merged in this order over ``base`` overrides of the ``preset``); ``quick``: the
    overrides of ``--scale quick`` (the same grid, shorter runs), applied first, so that
    ``base`` and the cells keep what defines them."""

    name: str
    preset: str
    description: str
    conditions: dict
    feedbacks: dict
    seeds: tuple[int, ...] = tuple(range(10))
    base: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)
    reference_only: tuple[str, ...] = ("clean",)  # conditions run without alignment only
    reference: str = "clean"  # the condition every other one is compared with (figure bm)
    baseline_seeds: tuple[int, ...] = ()  # seeds of the part <name>-baselines (none: no part)

    def cells(self) -> list[tuple[str, str]]:
        """The ``(condition, feedback)`` pairs that run."""
        return [
            (c, f)
            for c in self.conditions
            for f in self.feedbacks
            if not (c in self.reference_only and f != "none")
        ]


def baseline_config(exp: Experiment, scale: str, seed: int, overrides: dict | None = None) -> dict:
    """Config of one run of the baselines part: the experiment's task, data and hidden-layer
    size (so the baselines see the same images as the spiking machine) and the seed;
    ``overrides`` (``--set``) apply as to the experiment's runs."""
    from ..config import load_yaml, merge, validate
    from .config import PRESET_DIR, BMConfig

    data = load_yaml(PRESET_DIR / f"{exp.preset}.yaml")
    for over in (exp.quick if scale == "quick" else {}, exp.base, overrides or {}):
        data = merge(data, over)
    cfg = validate(BMConfig, data, source=f"{exp.name} baselines")
    return {
        "task": cfg.task,
        "data": cfg.data.model_dump(mode="json"),
        "n_hidden": cfg.network.n_hidden,
        "seed": int(seed),
    }


def seed_overrides(k: int) -> dict:
    return {"seed": {"init": int(k), "sim": 100 + int(k)}}


#: alignment rates (validation scan, docs/bm.md)
DIGITS_FEEDBACKS = {"none": {}, "sal": {"lr": {"symm": 0.2}}, "kp": {"lr": {"kp": 0.0005}}}
BARS_FEEDBACKS = {"none": {}, "sal": {"lr": {"symm": 0.2}}, "kp": {"lr": {"kp": 0.0005}}}
#: --scale quick of the digit experiments: a third of the training images, 6 of the 48 epochs,
#: sleep phases of 500 steps (about 1/40 of the cost; the same grid)
DIGITS_QUICK = {"epochs": 6, "sleep_steps": 500, "data": {"n_train": 330}, "eval": {"every": 3}}

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "bm_digits",
            "digits",
            "spiking BM on 8x8 digits: clean / synaptic noise 0.5 / plasticity noise 0.5 x "
            "none / SAL / KP, 10 seeds",
            NOISE,
            DIGITS_FEEDBACKS,
            quick=DIGITS_QUICK,
            baseline_seeds=tuple(range(5)),
        ),
        Experiment(
            "bm_digits_long",
            "digits",
            "bm_digits with sleep phases of 8000 steps (4x)",
            NOISE,
            DIGITS_FEEDBACKS,
            base={"sleep_steps": 8000},
            quick=DIGITS_QUICK,
        ),
        Experiment(
            "bm_bars",
            "bars",
            "spiking BM on 3x3 bars-and-stripes (exact D_KL): clean / synaptic 0.5 / plasticity "
            "0.5 x none / SAL / KP, 10 seeds",
            NOISE,
            BARS_FEEDBACKS,
            quick={"epochs": 1000, "eval": {"every": 250}},
        ),
        Experiment(
            "bm_sleep",
            "digits",
            "noise-free digits BM against the sleep phase: 500 / 2000 / 8000 steps from rest, "
            "and persistent chains of 500 and 2000 steps, 5 seeds",
            {
                "sleep500": {"sleep_steps": 500},
                "sleep2000": {"sleep_steps": 2000},
                "sleep8000": {"sleep_steps": 8000},
                "persistent500": {"sleep_steps": 500, "sleep_chain": "persistent"},
                "persistent2000": {"sleep_steps": 2000, "sleep_chain": "persistent"},
            },
            {"none": {}},
            seeds=tuple(range(5)),
            reference_only=(),
            reference="sleep2000",  # the digits preset
            quick=DIGITS_QUICK,
        ),
        Experiment(
            "bm_fmnist",
            "fmnist-14",
            "spiking BM on Fashion-MNIST at 14x14: clean / synaptic 0.5 x none / SAL, 3 seeds",
            {"clean": {}, "synaptic": NOISE["synaptic"]},
            {"none": {}, "sal": {"lr": {"symm": 0.2}}},
            seeds=(0, 1, 2),
            quick={"epochs": 1, "data": {"n_train": 2000}, "eval": {"every": 1}},
            baseline_seeds=(0, 1, 2),
        ),
    )
}
