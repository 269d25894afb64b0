"""SSN configs: presets and upstream files load; bad input fails before simulating."""

import textwrap

import pytest

from spikealign.config import ConfigError
from spikealign.ssn.config import PRESET_DIR, load_config, presets

UPSTREAM_KP = textwrap.dedent("""\
    exp_type: "syn_noise_kp"
    tags:
      - "synaptic noise"
      - "Kolen Pollack"
    dim: 7
    seed:
      distr: 4242
      init: 4343
      sim: 4444
    distr:
      alpha: 1.0
      beta: 1.0
    sim_params:
      t_ref: &tref
        50
      tau_syn: *tref
      num_last_spikes: 1
    num_epochs: 20001
    val_step: 500
    val_factor: 100
    lr:
      bias: 0.01
      weight: 0.01
      symm: 0.0
      kp: 0.00016
    dur: 1000
    init_noise: 0.0
    weight_init: 0.2
    bias_init: 0.2
    max_w: 2.0
    max_b: 2.0
    stdp:
      num_last_spikes: 1
      ws:
        a_plus: 1.0
        a_minus: 1.0
        tau_plus: *tref
        tau_minus: *tref
        noise: 0.0
      sal:
        a_plus: 1.0
        a_minus: 1.0
        tau_plus: *tref
        tau_minus: *tref
        noise: 0.0
    """)


def test_all_presets_load():
    names = presets()
    for expected in (
        "minimal_example",
        "syn_noise",
        "syn_noise_sal",
        "syn_noise_kp",
        "plast_noise",
        "plast_noise_sal",
        "plast_noise_kp",
    ):
        assert expected in names
    for name in names:
        load_config(name)


def test_paper_cost_numbers():
    # reference-model 2.5/7: validations 76 / 41 / 76 and the step counts of the paper runs
    assert len(load_config("minimal_example").validation_cycles) == 76
    assert len(load_config("syn_noise").validation_cycles) == 41
    assert len(load_config("plast_noise").validation_cycles) == 76
    assert load_config("syn_noise_sal").total_steps == pytest.approx(3.05e9, rel=0.01)
    assert load_config("plast_noise_sal").total_steps == pytest.approx(1.13e10, rel=0.01)


def test_upstream_v3_file_loads_unchanged(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(UPSTREAM_KP)
    cfg = load_config(f)
    assert cfg.lr.kp == 0.00016 and cfg.feedback == "kp" and cfg.sim_params.t_ref == 50


@pytest.mark.parametrize(
    "override, pattern",
    [
        ({"dmi": 7}, r"dmi: unknown key; allowed keys here: .*dim"),
        ({"stdp": {"ws": {"tau": 3}}}, r"stdp\.ws\.tau: unknown key; allowed keys here: a_plus"),
        ({"sim_params": {"t_ref": "fifty"}}, r"sim_params\.t_ref: Input should be a valid integer"),
        (
            {"sim_params": {"t_ref": 0}},
            r"sim_params\.t_ref: .*greater than or equal to 1 \(got 0\)",
        ),
        ({"lr": {"weight": -0.1}}, r"lr\.weight: .*greater than or equal to 0 \(got -0\.1\)"),
        ({"dim": 25}, r"dim: .*less than or equal to 20 \(got 25\)"),
        ({"val_step": 30000}, r"val_step \(30000\) must be <= num_epochs"),
        ({"sim_params": {"psp": "box"}}, r"sim_params\.psp: Input should be 'rect'"),
        ({"lr": {"kp": 1.5}}, r"lr\.kp: .*less than 1"),
        ({"num_epochs": 10.5}, r"num_epochs: Input should be a valid integer"),
    ],
)
def test_bad_input_names_the_field(override, pattern):
    with pytest.raises(ConfigError, match=pattern) as exc:
        load_config("syn_noise", overrides=override)
    assert "\n" not in str(exc.value)


def test_misspelt_key_is_named_not_the_missing_one(tmp_path):
    """Renaming ``t_ref`` to ``t_reff`` makes ``t_ref`` missing too; the message names the
    misspelling and suggests the real key."""
    text = (PRESET_DIR / "syn_noise.yaml").read_text().replace("t_ref:", "t_reff:", 1)
    assert "t_reff:" in text
    f = tmp_path / "typo.yaml"
    f.write_text(text)
    with pytest.raises(
        ConfigError,
        match=r"sim_params\.t_reff: unknown key; allowed keys "
        r"here: t_ref, .*\(did you mean 't_ref'\?\)",
    ):
        load_config(f)


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="neither a config file nor a preset; presets: .*smoke"):
        load_config("nope")
