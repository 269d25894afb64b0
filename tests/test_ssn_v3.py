"""Paper v3 training semantics (``reference-model-v3`` 1, 3, 4): identities that pin each one.

Each test names the realistic mistake it catches.
"""

import numpy as np
import pytest
from scipy.stats import norm

from spikealign import boltzmann as bz
from spikealign.config import ConfigError
from spikealign.ssn import load_config, make_problem, train
from spikealign.ssn.config import DISTR_SEEDS, INIT_SEEDS, v3_seeds
from spikealign.ssn.setup import window_area
from spikealign.ssn.train import Trainer, apply_update, initial_state
from spikealign.stdp import Window, forward_backward, truncated_normal

SHORT = {"num_epochs": 9, "val_step": 9, "val_factor": 1, "dur": 40}


def v3(name="syn_noise_v3", **over):
    return load_config(name, overrides={**SHORT, **over})


def off_diag_asym(W):
    return bz.asymmetry(W)


# -- section 1: the training iteration --------------------------------------------------------


def test_without_noise_sal_or_kp_the_asymmetry_stays_constant():
    """sigma_plast = 0: the sleep STDP matrix is exactly symmetric and the scaled target equals
    C*, so W - W^T never changes (only clipping could). Catches: an asymmetric target scaling
    (e.g. F from the forward draw only), a transposed gradient term, SAL or decay applied with
    lr 0, amplitude noise leaking in at sigma 0."""
    cfg = v3(init_noise=0.6, max_w=50.0)
    tr = Trainer(cfg)
    st = initial_state(cfg, tr.problem)
    D0 = st.W - st.W.T
    tr.step_block(st)
    assert st.cycle == 9
    np.testing.assert_allclose(st.W - st.W.T, D0 - np.diag(np.diag(D0)), rtol=0, atol=1e-12)
    assert off_diag_asym(st.W) == pytest.approx(off_diag_asym(tr.problem.W0), rel=1e-12)
    assert not np.allclose(st.W, tr.problem.W0)  # it did learn (symmetrically)


def test_kolen_pollack_alone_shrinks_the_asymmetry_by_one_minus_lambda_squared_per_cycle():
    """With lr.kp = lambda and nothing else breaking symmetry, W - W^T is multiplied by
    (1 - lambda) per cycle, so Var(W - W^T) by (1 - lambda)^2. Catches: decay before the
    gradient step, decay skipped in validation cycles, decay of the update instead of W."""
    lam = 0.01
    cfg = v3("syn_noise_kp_v3", init_noise=0.6, max_w=50.0, lr={"kp": lam})
    tr = Trainer(cfg)
    st = initial_state(cfg, tr.problem)
    D0 = st.W - st.W.T
    tr.step_block(st)  # one validation + 8 training cycles
    np.testing.assert_allclose(
        st.W - st.W.T, (1 - lam) ** 9 * (D0 - np.diag(np.diag(D0))), rtol=0, atol=1e-12
    )
    assert off_diag_asym(st.W) / off_diag_asym(tr.problem.W0) == pytest.approx(
        (1 - lam) ** 18, rel=1e-10
    )


def test_clipping_is_the_only_exception_to_the_kp_identity():
    """Entries at the clipping bound break the identity: the test above would not hold with
    max_w small, which shows it really measures the update and not a constant."""
    cfg = v3("syn_noise_kp_v3", init_noise=0.6, max_w=0.05, lr={"kp": 0.01})
    tr = Trainer(cfg)
    st = initial_state(cfg, tr.problem)
    D0 = st.W - st.W.T
    tr.step_block(st)
    assert np.max(np.abs(st.W)) <= 0.05
    assert not np.allclose(st.W - st.W.T, 0.99**9 * (D0 - np.diag(np.diag(D0))), atol=1e-6)


def test_order_of_one_v3_iteration_by_hand():
    """Gradient with the scaled target, then decay, then SAL, then clip, then zero diagonal
    (addendum section 1). Catches: decay after SAL, diagonal zeroed before clipping (a no-op
    difference) or not at all, target not scaled."""
    W = np.array([[0.3, 0.5, -0.2], [0.1, -0.4, 1.9], [0.0, -1.0, 0.2]])
    b = np.array([0.2, -0.3, 0.0])
    C = np.array([[0.0, 0.2, 0.1], [0.2, 0.0, 0.3], [0.1, 0.3, 0.0]])
    eta = np.array([[1.0, 0.5, 1.2], [0.8, 1.0, 0.0], [1.1, 0.9, 1.0]])
    C_wake = C * eta
    S_ws = np.arange(9.0).reshape(3, 3) * 10
    S_sal = np.arange(9.0).reshape(3, 3)[::-1] - 4
    counts = np.array([300.0, 100.0, 50.0])
    dur, t_ref, lr_w, lr_b, lam, lr_s = 1000.0, 2.0, 0.1, 0.05, 0.2, 0.3
    W1, b1 = apply_update(
        W,
        b,
        S_ws,
        S_sal,
        counts,
        C_wake,
        np.full(3, 0.4),
        dur,
        t_ref,
        lr_w,
        lr_b,
        lam,
        lr_s,
        2.0,
        2.0,
        zero_diag=True,
    )
    want = W.copy()
    for i in range(3):
        for j in range(3):
            w = W[i, j] + lr_w * (C[i, j] * eta[i, j] - S_ws[i, j] * t_ref / dur)
            w = (1 - lam) * w + lr_s * S_sal[i, j] * t_ref / dur
            want[i, j] = 0.0 if i == j else min(max(w, -2.0), 2.0)
    np.testing.assert_allclose(W1, want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(b1, b + lr_b * (0.4 - counts * t_ref / dur), atol=1e-15)


def test_diagonal_zeroed_after_every_cycle_but_cycle_zero_runs_with_the_random_one():
    """v3 records all_weights with a zero diagonal; main keeps the clipped random diagonal.
    With measuring-only validations the compiled training cycles must zero it themselves
    (otherwise the first zeroing happens in the Python update of validation cycle 0, and a
    missing zeroing in the compiled loop would go unnoticed)."""
    a = train(v3(init_noise=0.5))
    assert np.all(np.diag(a.W) == 0) and all(np.all(np.diag(w) == 0) for w in a.weights)
    m = train(v3(init_noise=0.5, validation_trains=False))
    assert np.all(np.diag(m.W) == 0)
    b = train(v3(init_noise=0.5, zero_diagonal=False))
    assert np.all(np.diag(b.W) != 0)
    np.testing.assert_array_equal(np.diag(b.W), np.diag(make_problem(v3(init_noise=0.5)).W0))


def test_engines_bit_identical_with_every_v3_option_and_kp_with_sal():
    """The compiled cycle loop and the readable Python update agree bit for bit with KP and
    SAL together, plasticity noise, clipping of amplitudes, scaled target, zero diagonal."""
    cfg = v3(
        "plast_noise_sal_v3",
        lr={"kp": 0.001, "symm": 0.02},
        stdp={"ws": {"noise": 0.8}, "sal": {"noise": 0.8}},
    )
    a, b = train(cfg, "fast"), train(cfg, "reference")
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.b, b.b)
    assert a.dkls == b.dkls and a.asyms == b.asyms


# -- section 1 step 3 / section 3: scaled target and amplitudes ---------------------------------


def test_window_area_of_hand_made_amplitude_matrices():
    """F = (A+ T+ + A- T-) / 2 per synapse, from hand-made matrices."""
    a_p = np.array([[1.0, 2.0], [0.5, 0.0]])
    a_m = np.array([[3.0, 1.0], [0.5, 4.0]])
    t_p = np.array([[10.0, 20.0], [30.0, 40.0]])
    w = Window("tri", a_p, a_m, t_p, 50.0)
    np.testing.assert_allclose(window_area(w, 2), [[80.0, 45.0], [20.0, 100.0]])
    # the integral of the window itself on a fine grid (the jump at dt = 0 costs ~1e-5)
    x = np.linspace(-60, 60, 240001)
    assert np.trapezoid(w(x, 0, 1), x) == pytest.approx(45.0, rel=1e-4)
    with pytest.raises(ValueError, match="triangular"):
        window_area(Window("exp", 1.0, 1.0, 5.0, 5.0), 2)


def _amplitudes_by_hand(cfg):
    """Replay the init stream (addendum section 4) and build upstream's amplitude matrices."""
    n = cfg.dim
    rng = np.random.default_rng(cfg.seed.init)
    rng.normal(0.0, cfg.weight_init, (n, n))
    rng.normal(0.0, cfg.init_noise, (n, n))
    rng.normal(0.0, cfg.bias_init, n)
    sigma = cfg.stdp.ws.noise
    draws = [np.maximum(1.0 + truncated_normal(rng, sigma, (n, n)), 0.0) for _ in range(4)]
    fwd, bwd = draws[0], draws[1]
    out = fwd.copy()
    for i in range(n):
        for j in range(n):
            if j <= i + 1:  # tril(k=1): lower triangle, diagonal and first super-diagonal
                out[i, j] = bwd[i, j]
    return out, draws


def test_scaled_target_uses_the_upstream_layout_of_the_forward_and_backward_draws():
    """C_wake = C* eta with eta_ij = a_fwd[i, j] for j > i + 1 and a_bwd[i, j] otherwise
    (quirk 11 kept by v3). Catches: the clean layout, the SAL draw in F, a missing /t_ref."""
    cfg = v3("plast_noise_v3")  # sigma 0.8
    p = make_problem(cfg)
    eta, draws = _amplitudes_by_hand(cfg)
    np.testing.assert_array_equal(p.ws_rule.a_plus, eta)
    np.testing.assert_array_equal(p.ws_rule.a_minus, eta)
    np.testing.assert_array_equal(
        -p.sal_rule.a_plus, forward_backward(draws[2], draws[3], "upstream")
    )
    np.testing.assert_allclose(p.C_wake, p.C_target * eta, rtol=1e-15, atol=0)
    assert not np.allclose(eta, forward_backward(draws[0], draws[1], "clean"))
    clean = make_problem(v3("plast_noise_v3", stdp={"noise_layout": "clean"}))
    np.testing.assert_allclose(
        clean.C_wake, clean.C_target * forward_backward(draws[0], draws[1], "clean"), rtol=1e-15
    )


def test_without_target_scaling_the_target_is_the_exact_coactivation():
    cfg = v3("plast_noise_v3", target_scaling=False)
    p = make_problem(cfg)
    np.testing.assert_array_equal(p.C_wake, p.C_target)


def test_upstream_rule_params_take_sal_noise_and_amplitude_from_ws():
    """Quirk 12 (v3 keeps it): sal.noise and sal.a_plus are never read."""
    cfg = v3("plast_noise_v3", stdp={"ws": {"noise": 0.3}, "sal": {"noise": 0.0, "a_plus": 5.0}})
    p = make_problem(cfg)
    _, draws = _amplitudes_by_hand(cfg)
    np.testing.assert_array_equal(
        -p.sal_rule.a_plus, forward_backward(draws[2], draws[3], "upstream")
    )
    np.testing.assert_array_equal(p.sal_rule.a_minus, -p.sal_rule.a_plus)
    own = make_problem(
        v3(
            "plast_noise_v3",
            stdp={"rule_params": "own", "ws": {"noise": 0.3}, "sal": {"noise": 0.0, "a_plus": 5.0}},
        )
    )
    np.testing.assert_allclose(-own.sal_rule.a_plus, 5.0)


def test_zero_clip_fraction_at_sigma_0_8():
    """P(1 + TN(0.8) <= 0) = [Phi(-1.25) - Phi(-1.5)] / [1 - 2 Phi(-1.5)] = 0.0448; measured
    within 5 binomial standard errors. Catches: no clip (0 zeros), clipping the normal draw
    itself at zero, truncation at another bound."""
    p0 = (norm.cdf(-1.25) - norm.cdf(-1.5)) / (1 - 2 * norm.cdf(-1.5))
    assert p0 == pytest.approx(0.0448, abs=1e-4)
    n = 400_000
    rng = np.random.default_rng(1)
    eta = np.maximum(1.0 + truncated_normal(rng, 0.8, n), 0.0)
    frac = np.mean(eta == 0.0)
    assert abs(frac - p0) < 5 * np.sqrt(p0 * (1 - p0) / n)
    assert eta.max() <= 2.2 + 1e-12
    # the same through the config, pooled over the 20 seed ids (20 x 4 x 49 amplitudes)
    zeros, total = 0, 0
    for k in range(20):
        p = make_problem(v3("plast_noise_sal_v3", seed_id=k))
        for m in (p.ws_rule.a_plus, p.sal_rule.a_minus):
            zeros += int(np.sum(m == 0.0))
            total += m.size
    assert abs(zeros / total - p0) < 5 * np.sqrt(p0 * (1 - p0) / total)
    assert zeros > 0
    unclipped = make_problem(v3("plast_noise_v3", stdp={"clip_amplitudes": False}))
    assert np.min(unclipped.ws_rule.a_plus) < 0


def test_no_clip_below_sigma_two_thirds():
    for k in range(5):
        p = make_problem(v3("plast_noise_v3", seed_id=k, stdp={"ws": {"noise": 0.6}}))
        assert np.min(p.ws_rule.a_plus) >= 0.1 - 1e-12


# -- section 4: the seed table -----------------------------------------------------------------


def test_v3_seed_table():
    """k -> (DISTR_SEEDS[k div 4], INIT_SEEDS[k mod 4], 7654 + k); 4235 kept (quirk 18)."""
    assert DISTR_SEEDS == (4321, 4322, 4323, 4324, 4235) and INIT_SEEDS == (9002, 9003, 9004, 9005)
    assert v3_seeds(0) == {"distr": 4321, "init": 9002, "sim": 7654}
    assert v3_seeds(3) == {"distr": 4321, "init": 9005, "sim": 7657}
    assert v3_seeds(4) == {"distr": 4322, "init": 9002, "sim": 7658}
    assert v3_seeds(19) == {"distr": 4235, "init": 9005, "sim": 7673}
    assert len({tuple(v3_seeds(k).values()) for k in range(20)}) == 20
    with pytest.raises(ValueError):
        v3_seeds(20)


def test_seed_id_replaces_the_seed_block_and_is_validated():
    cfg = load_config(
        "syn_noise_v3", overrides={"seed_id": 6, "seed": {"distr": 1, "init": 2, "sim": 3}}
    )
    assert (cfg.seed.distr, cfg.seed.init, cfg.seed.sim) == (4322, 9004, 7660)
    with pytest.raises(ConfigError, match="seed_id"):
        load_config("syn_noise_v3", overrides={"seed_id": 20})
    with pytest.raises(ConfigError, match="seed_id"):
        load_config("syn_noise_v3", overrides={"seed_id": "3"})


# -- presets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,symm,kp,val_step,noise,init_noise",
    [
        ("syn_noise_v3", 0.0, 0.0, 500, 0.0, 0.8),
        ("syn_noise_sal_v3", 0.01, 0.0, 500, 0.0, 0.8),
        ("syn_noise_kp_v3", 0.0, 1.6e-4, 500, 0.0, 0.8),
        ("plast_noise_v3", 0.0, 0.0, 1000, 0.8, 0.2),
        ("plast_noise_sal_v3", 0.01, 0.0, 1000, 0.8, 0.2),
        ("plast_noise_kp_v3", 0.0, 4e-5, 1000, 0.8, 0.2),
    ],
)
def test_v3_presets_match_the_addendum(name, symm, kp, val_step, noise, init_noise):
    cfg = load_config(name)
    assert (cfg.num_epochs, cfg.val_factor, cfg.dur, cfg.t_ref) == (20001, 100, 1000, 50)
    assert (cfg.lr.weight, cfg.lr.bias, cfg.lr.symm, cfg.lr.kp) == (0.01, 0.01, symm, kp)
    assert cfg.val_step == val_step and cfg.init_noise == init_noise
    assert cfg.stdp.ws.noise == cfg.stdp.sal.noise == noise
    assert cfg.target_scaling and cfg.zero_diagonal and cfg.stdp.clip_amplitudes
    assert cfg.stdp.noise_layout == "upstream" and cfg.stdp.rule_params == "upstream"
    assert cfg.seed_id == 0
    assert cfg.total_steps == pytest.approx(1.2e9 if val_step == 500 else 1.1e9, rel=0.01)


def test_v2_presets_keep_the_main_branch_protocol():
    for name in ("syn_noise", "syn_noise_sal", "plast_noise", "plast_noise_sal"):
        cfg = load_config(name)
        assert not (cfg.target_scaling or cfg.zero_diagonal or cfg.stdp.clip_amplitudes)
        assert cfg.stdp.noise_layout == "upstream" and cfg.val_factor == 1000


def test_demo_directory_with_foreign_files_is_refused_before_any_run(tmp_path):
    from spikealign.rundir import OutDirError
    from spikealign.ssn.demo import check_demo_dir, run_demo

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutDirError, match="notes.txt"):
        run_demo(tmp_path, workers=1, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    with pytest.raises(OutDirError, match="is a file"):
        check_demo_dir(tmp_path / "notes.txt")
    own = tmp_path / "demo"
    (own / "sal").mkdir(parents=True)
    (own / "summary.json").write_text("{}")
    assert check_demo_dir(own) == own
