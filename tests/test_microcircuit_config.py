"""Configs: the paper's YAML files load unchanged, presets, and one-line errors naming the
field before anything is simulated."""

from __future__ import annotations

import json

import pytest
import yaml

from mc_helpers import tiny
from spikealign.config import ConfigError
from spikealign.microcircuits import load_config, preset_names, run_experiment, run_seeds
from spikealign.microcircuits.config import feedback_mode

# The paper's four files in their own layout (block lists, a trailing comment, "False").
# Values from the reference model §3.6; the key set is exactly the upstream one.
UPSTREAM_TEMPLATE = """\
network_properties:
  dims:
  - 1
  - 1
  - 1
  lambda_api: 0.02
  lambda_nudge: 0.6
  learning_lag: 2000
  lr:
  - down: {lr_down}
    up: {lr_up}
  - up: {lr_out}
  n_last_spks: 1
  size_moving_average: 2000
  stdp_a_anticausal: 1.0
  stdp_a_causal: -1.0
  stdp_tau_anticausal: 10.0
  stdp_tau_causal: 10.0
  t_ref: 10
  tau_syn: 10
student_initial_parameters:
  bias:
  - -1.0
  - -1.0
  share_weights: False
  random_weights_init_limits:
    up:
      - -3.0
      - 3.0
    down:
      - -3.0
      - 3.0
student_simulation_settings:
  len_epoch: {len_epoch}
  len_symmetrization: {len_symm}
  len_validation: {len_val}
  num_epochs: {epochs}  # 300
  poisson_seed: {poisson}
  weights_init_seed: {weights}
  record_all_spks: false
  recorded_quantities:
  - - u_in
  - - u_pyr
    - v_api
    - w_up
    - w_down
  - - u_pyr
    - v_nudge
    - u_tgt
    - w_up
    - validation
    - symmetrization
  recorded_sample_length: 20000
  set_sps: true
  shuffle_training: true
  shuffle_validation: false
  t_pattern: 2000
  training_seed: {training}
  update_down: {update_down}
teacher_initial_parameters:
  bias:
  - -1.0
  - -1.0
  weights:
  - w_up: 2.0
  - w_up: 2.0
teacher_simulation_settings:
  len_epoch: 8
  len_validation: 6
  num_epochs: 1
  poisson_seed: {t_poisson}
  recorded_quantities:
  - - u_in
  - - u_pyr
    - v_bas
    - v_api
    - u_inn
    - w_up
    - w_down
  - - u_pyr
    - v_bas
    - v_nudge
    - u_tgt
    - w_up
  shuffle_training: true
  shuffle_validation: false
  t_pattern: {t_pattern}
  training_seed: {t_training}
u_input:
  training:
  - -3.0
  - -2.5
  - -2.0
  - -0.8
  - 0.8
  - 2.0
  - 2.5
  - 3.0
  validation:
  - -2.7
  - -1.8
  - -0.5
  - 0.5
  - 1.8
  - 2.7
"""

UPSTREAM = {
    "example": dict(
        lr_down=0.001,
        lr_up=0.4,
        lr_out=0.001,
        len_epoch=5,
        len_symm=2,
        len_val=4,
        epochs=5,
        poisson=649854,
        weights=355445,
        training=915344,
        update_down="true",
        t_poisson=423433,
        t_pattern=2000,
        t_training=890423,
    ),
    "bp": dict(
        lr_down=0.0,
        lr_up=0.2,
        lr_out=0.003,
        len_epoch=20,
        len_symm=5,
        len_val=6,
        epochs=150,
        poisson=654560,
        weights=375635,
        training=936544,
        update_down="false",
        t_poisson=426534,
        t_pattern=20000,
        t_training=892458,
    ),
    "fa": dict(
        lr_down=0.0,
        lr_up=0.2,
        lr_out=0.003,
        len_epoch=20,
        len_symm=5,
        len_val=6,
        epochs=150,
        poisson=645360,
        weights=354535,
        training=918344,
        update_down="true",
        t_poisson=423433,
        t_pattern=20000,
        t_training=890423,
    ),
    "sal": dict(
        lr_down=0.001,
        lr_up=0.2,
        lr_out=0.003,
        len_epoch=20,
        len_symm=5,
        len_val=6,
        epochs=150,
        poisson=649854,
        weights=355445,
        training=915344,
        update_down="true",
        t_poisson=423433,
        t_pattern=2000,
        t_training=890423,
    ),
}


def _write_upstream(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(UPSTREAM_TEMPLATE.format(**UPSTREAM[name]))
    return path


@pytest.mark.parametrize("name", list(UPSTREAM))
def test_upstream_files_load_unchanged(tmp_path, name):
    cfg = load_config(_write_upstream(tmp_path, name))
    expected_mode = {"example": "sal", "bp": "bp", "fa": "fa", "sal": "sal"}[name]
    assert cfg.mode == expected_mode
    assert cfg.network_properties.lr[0].down == UPSTREAM[name]["lr_down"]
    assert cfg.student_simulation_settings.num_epochs == UPSTREAM[name]["epochs"]
    assert cfg.teacher_simulation_settings.t_pattern == UPSTREAM[name]["t_pattern"]
    assert cfg.options.engine == "fast"  # our section is optional


@pytest.mark.parametrize("name", ["bp", "fa", "sal"])
def test_presets_hold_the_paper_values(tmp_path, name):
    preset = load_config(name)
    upstream = load_config(_write_upstream(tmp_path, name))
    exact = load_config(f"{name}-upstream")
    assert preset.mode == upstream.mode == exact.mode == name
    skip = {"options"}
    a, b = preset.model_dump(exclude=skip), upstream.model_dump(exclude=skip)
    # our presets give every mode the teacher pattern length 20000; the paper's SAL used 2000
    b["teacher_simulation_settings"]["t_pattern"] = 20000
    a["student_initial_parameters"].pop("share_weights")
    b["student_initial_parameters"].pop("share_weights")
    assert a == b
    assert exact.model_dump(exclude=skip) == upstream.model_dump(exclude=skip)
    assert exact.options.teacher_seed_per_run is False
    assert preset.options.teacher_seed_per_run is True


def test_all_presets_load():
    names = preset_names()
    assert {"example", "bp", "fa", "sal"} <= set(names)
    for name in names:
        assert load_config(name).student_simulation_settings.t_pattern == 2000


@pytest.mark.parametrize(
    "change, field",
    [
        ({"network_properties.dims": [1]}, "network_properties.dims"),
        ({"network_properties.dims": [1, 0, 1]}, "network_properties.dims"),
        ({"network_properties.t_ref": 10.0}, "network_properties.t_ref"),
        ({"network_properties.t_ref": "10"}, "network_properties.t_ref"),
        ({"network_properties.lambda_api": True}, "network_properties.lambda_api"),
        ({"network_properties.lr": [{"up": 0.1, "down": 0.1}]}, "network_properties.lr"),
        ({"network_properties.lr": [{"up": 0.1}, {"up": 0.1}]}, "network_properties.lr.0.down"),
        (
            {"network_properties.lr": [{"up": 0.1, "down": 0.0}, {"up": 0.1, "down": 0.1}]},
            "network_properties.lr.1.down",
        ),
        ({"network_properties.learning_lag": 300}, "network_properties.learning_lag"),
        ({"network_properties.stdp_tau_causal": 0.0}, "network_properties.stdp_tau_causal"),
        ({"network_properties.n_last_spks": 0}, "network_properties.n_last_spks"),
        (
            {"student_simulation_settings.len_symmetrization": 4},
            "student_simulation_settings.len_symmetrization",
        ),
        (
            {"student_simulation_settings.recorded_quantities": [["u_in"], ["u_tgt"], []]},
            "student_simulation_settings.recorded_quantities.1",
        ),
        (
            {"student_simulation_settings.recorded_quantities": [["u_in"], []]},
            "student_simulation_settings.recorded_quantities",
        ),
        (
            {"student_simulation_settings.weights_init_seed": None},
            "student_simulation_settings.weights_init_seed",
        ),
        (
            {"student_simulation_settings.poisson_seed": -1},
            "student_simulation_settings.poisson_seed",
        ),
        (
            {"student_simulation_settings.shuffle_training": 1},
            "student_simulation_settings.shuffle_training",
        ),
        ({"student_initial_parameters.bias": [-1.0]}, "student_initial_parameters.bias"),
        (
            {"teacher_initial_parameters.weights": [{"w_up": [[1.0, 2.0]]}, {"w_up": 2.0}]},
            "teacher_initial_parameters.weights.0.w_up",
        ),
        (
            {"teacher_initial_parameters.weights": [{"w_up": 2.0}, {"w_up": 2.0, "w_down": 1.0}]},
            "teacher_initial_parameters.weights.1.w_down",
        ),
        ({"u_input.training": []}, "u_input.training"),
        ({"u_input.training": [[1.0, 2.0]]}, "u_input.training.0"),
        ({"options": {"engine": "gpu"}}, "options.engine"),
        (
            {
                "student_simulation_settings.recorded_sample_length": 1,
                "student_simulation_settings.num_epochs": 200000,
            },
            "recorded_sample_length",
        ),
    ],
)
def test_bad_values_name_the_field(change, field):
    with pytest.raises(ConfigError) as err:
        load_config(tiny(**change))
    message = str(err.value)
    assert field in message and "\n" not in message, message


def test_unknown_key_lists_allowed_keys():
    cfg = tiny()
    cfg["network_properties"]["lambda_apic"] = 0.1
    with pytest.raises(
        ConfigError,
        match=r"network_properties.lambda_apic: unknown key; "
        r"allowed keys here: dims, lambda_api",
    ):
        load_config(cfg)
    with pytest.raises(ConfigError, match="neither a config file nor a preset"):
        load_config("no-such-preset")


def test_bad_config_fails_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="network_properties.t_ref"):
        run_experiment(tiny(**{"network_properties.t_ref": 0}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_explicit_student_weights_are_accepted():
    """The paper's code crashes on explicit student weights (quirk 22); ours uses them."""
    cfg = tiny()
    init = cfg["student_initial_parameters"]
    del init["random_weights_init_limits"]
    init["weights"] = [{"w_up": 1.0, "w_down": -0.5}, {"w_up": 1.5}]
    cfg["student_simulation_settings"]["weights_init_seed"] = None
    loaded = load_config(cfg)
    from spikealign.microcircuits.protocol import build_network

    net = build_network(loaded, "student", run_seeds(loaded))
    assert net.w_down(1)[0, 0] == -0.5 and net.w_pi(1)[0, 0] == 0.5


def test_overrides_and_seed_offsets():
    cfg = load_config(
        "sal",
        [
            "student_simulation_settings.num_epochs=3",
            "network_properties.lr.0.down=0.0",
            "options.engine=reference",
        ],
    )
    assert cfg.student_simulation_settings.num_epochs == 3
    assert feedback_mode(cfg) == "fa" and cfg.options.engine == "reference"
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config("sal", ["num_epochs"])
    with pytest.raises(ConfigError, match="no such list index"):
        load_config("sal", ["network_properties.lr.5.up=1"])
    seeds = run_seeds(load_config("sal"), 3)
    assert seeds["student_poisson_seed"] == 649854 + 3
    assert seeds["student_weights_init_seed"] == 355445 + 3
    assert seeds["student_training_seed"] == 915344 + 3
    assert seeds["teacher_poisson_seed"] == 423433 + 3  # each run its own teacher
    assert run_seeds(load_config("sal-upstream"), 3)["teacher_poisson_seed"] == 423433
    dumped = yaml.safe_load(json.dumps(load_config("sal").model_dump(mode="json")))
    assert load_config(dumped).model_dump() == load_config("sal").model_dump()
