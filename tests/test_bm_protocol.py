"""The evaluation protocol of the spiking Boltzmann machine: a fixed validation split of the
training images; evaluations during training on validation only; the test images evaluated
once, after the last epoch, on the parameters chosen by ``eval.select``; metrics.json with both
accuracies; resumed runs still bit-identical."""

import contextlib
import io

import numpy as np
import pytest

from spikealign import cli
from spikealign.bm import evaluate as evaluate_mod
from spikealign.bm import load_config
from spikealign.bm import run as run_mod
from spikealign.bm.data import load_task, split_validation
from spikealign.bm.train import Trainer, make_setup, train
from spikealign.config import ConfigError
from spikealign.io import read_json

TINY = {
    "epochs": 3,
    "batch_size": 10,
    "wake_steps": 20,
    "sleep_steps": 40,
    "sleep_phases": 1,
    "network": {"n_hidden": 8},
    "data": {"n_train": 20, "n_test": 40},
    "eval": {"every": 1, "steps": 20, "completion": 0, "n_validation": 30},
}


def tiny_cfg(**kw):
    over = {**TINY, **kw}
    over["eval"] = {**TINY["eval"], **kw.get("eval", {})}
    return load_config("digits-quick", overrides=over)


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


# -- the split -------------------------------------------------------------------------------------


def numbered_digits(monkeypatch):
    """sklearn's digits replaced by 1797 images that spell their own index in binary (pixel k
    = bit k, intensity 16 or 0), so a split can be checked image by image."""
    import sklearn.datasets

    idx = np.arange(1797)
    x = ((idx[:, None] >> np.arange(64)[None, :]) & 1) * 16.0
    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda return_X_y=False: (x, idx % 10))


def index_of(images):
    return (np.asarray(images, dtype=np.int64) << np.arange(64)[None, :]).sum(axis=1)


def test_the_split_is_fixed_disjoint_and_997_300_500(monkeypatch):
    numbered_digits(monkeypatch)
    d = load_task("digits")
    tr, va, te = index_of(d.x_train), index_of(d.x_val), index_of(d.x_test)
    assert (len(tr), len(va), len(te)) == (997, 300, 500)
    assert np.array_equal(d.y_train, tr % 10) and np.array_equal(d.y_val, va % 10)
    assert np.array_equal(d.y_test, te % 10)
    assert len(set(tr) | set(va) | set(te)) == 1797  # disjoint, and nothing lost
    # the test part is the same as in spikealign 0.1: the last 500 of a fixed permutation
    assert np.array_equal(te, np.random.default_rng(20240613).permutation(1797)[-500:])
    # the remaining training images keep their order
    rest = np.random.default_rng(20240613).permutation(1797)[:-500]
    assert np.array_equal(tr, rest[np.isin(rest, tr)])
    # the same on every call, whatever the subset sizes ask for
    again = load_task("digits", n_train=50, n_test=20)
    assert np.array_equal(index_of(again.x_val), va)
    assert np.array_equal(index_of(again.x_train), tr[:50])
    assert np.array_equal(index_of(again.x_test), te[:20])
    # another validation size holds out other images, from the same training part
    other = load_task("digits", n_validation=100)
    assert len(other.x_val) == 100 and len(other.x_train) == 1197
    assert set(index_of(other.x_train)) | set(index_of(other.x_val)) == set(tr) | set(va)


def test_the_real_split_is_the_same_for_every_seed():
    a = make_setup(tiny_cfg(seed={"data": 0, "init": 1, "sim": 2}))
    b = make_setup(tiny_cfg(seed={"data": 5, "init": 6, "sim": 7}, data={"n_train": 40}))
    d = load_task("digits")
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (997, 300, 500)
    for s in (a, b):
        assert np.array_equal(s.data.x_val, d.x_val) and np.array_equal(s.data.y_val, d.y_val)
        assert np.array_equal(s.data.x_test[:40], d.x_test[:40])
    assert np.array_equal(b.data.x_train, d.x_train[:40])


def test_split_validation_by_index():
    x = np.arange(50)
    xt, yt, xv, yv = split_validation(x, x * 2, 12)
    assert len(xv) == 12 and len(xt) == 38 and not set(xt) & set(xv)
    assert np.array_equal(yv, xv * 2) and np.all(np.diff(xt) > 0)
    xt2, _, xv2, _ = split_validation(x, x, 12)
    assert np.array_equal(xv, xv2) and np.array_equal(xt, xt2)


@pytest.mark.parametrize("n", [1297, 5000, 0, -3])
def test_n_validation_out_of_range_is_one_line(n, tmp_path):
    with pytest.raises(ConfigError) as exc:
        make_setup(tiny_cfg(data={"n_validation": n})) if n > 0 else tiny_cfg(
            data={"n_validation": n}
        )
    msg = str(exc.value)
    assert "data.n_validation" in msg and "\n" not in msg
    if n > 0:
        assert "[1, 1296]" in msg
    out = tmp_path / "o"
    code, stdout, stderr = run_cli(
        [
            "bm",
            "train",
            "digits-quick",
            "--out",
            str(out),
            "--set",
            f"data.n_validation={n}",
            "--quiet",
        ]
    )
    lines = stderr.strip().splitlines()
    assert code == 2 and stdout == "" and len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "data.n_validation" in lines[0]
    assert not out.exists()


# -- evaluations ---------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch):
    """Every evaluation: (part, epoch, final, epochs started so far, net.W, result)."""
    seen = []
    started = {"epochs": 0}
    orig = evaluate_mod.evaluate
    orig_epoch = Trainer.epoch

    def spy(net, data, cfg, *, epoch, final, part="validation"):
        res = orig(net, data, cfg, epoch=epoch, final=final, part=part)
        seen.append((part, epoch, final, started["epochs"], net.W.copy(), res))
        return res

    def counting(self, state, on_batch=None):
        started["epochs"] += 1
        return orig_epoch(self, state, on_batch)

    monkeypatch.setattr(evaluate_mod, "evaluate", spy)
    monkeypatch.setattr(Trainer, "epoch", counting)
    return seen


def test_the_test_images_are_evaluated_once_after_the_last_epoch(tmp_path, calls):
    cfg = tiny_cfg()
    m = run_mod.run(cfg, tmp_path / "run", show_progress=False, make_figure=False)
    parts = [c[0] for c in calls]
    assert parts == ["validation"] * 3 + ["test"]
    assert [c[1] for c in calls] == [1, 2, 3, 3]
    test = calls[-1]
    assert test[2] and test[3] == cfg.epochs  # final, after the last epoch
    assert [c[5]["n_eval"] for c in calls] == [30, 30, 300, 40]  # all images at the end
    assert m["test_accuracy"] == test[5]["accuracy"]
    assert m["validation_accuracy"] == calls[2][5]["accuracy"]


def test_the_test_labels_change_nothing_but_the_test_accuracy():
    cfg = tiny_cfg()
    a, ta = train(cfg)
    setup = make_setup(cfg)
    rng = np.random.default_rng(0)
    setup.data.y_test = rng.permutation(setup.data.y_test)
    setup.data.x_test = setup.data.x_test[::-1].copy()
    tr = Trainer(cfg, setup=setup)
    b = tr.initial_state()
    while not tr.done(b):
        tr.epoch(b)
    assert np.array_equal(a.W, b.W) and a.val_accuracy == b.val_accuracy
    assert a.best_epoch == b.best_epoch and ta.selected(a)[2] == tr.selected(b)[2]


def scripted(monkeypatch, scores):
    """evaluate() replaced: validation accuracy ``scores[epoch]``; the test call records the
    weights it was given."""
    seen = []

    def fake(net, data, cfg, *, epoch, final, part="validation"):
        acc = scores[epoch] if part == "validation" else 0.123
        seen.append((part, epoch, net.W.copy(), net.b.copy()))
        return {
            "accuracy": acc,
            "completion": np.nan,
            "dkl_sampled": np.nan,
            "dkl_exact": np.nan,
            "n_eval": 1,
        }

    monkeypatch.setattr(evaluate_mod, "evaluate", fake)
    return seen


@pytest.mark.parametrize(
    "select,scores,chosen",
    [
        ("best", {1: 0.3, 2: 0.9, 3: 0.5}, 2),
        ("best", {1: 0.5, 2: 0.9, 3: 0.9}, 2),  # ties keep the earlier
        ("best", {1: 0.8, 2: 0.1, 3: 0.2}, 1),
        ("best", {1: 0.1, 2: 0.2, 3: 0.3}, 3),
        ("last", {1: 0.3, 2: 0.9, 3: 0.5}, 3),
    ],
)
def test_eval_select_reports_and_tests_the_chosen_parameters(
    tmp_path, monkeypatch, select, scores, chosen
):
    seen = scripted(monkeypatch, scores)
    cfg = tiny_cfg(eval={"select": select})
    m = run_mod.run(cfg, tmp_path / "run", show_progress=False, make_figure=False)
    val = {e: (W, b) for part, e, W, b in seen if part == "validation"}
    tests = [(W, b) for part, _, W, b in seen if part == "test"]
    assert sorted(val) == [1, 2, 3] and len(tests) == 1
    assert np.array_equal(tests[0][0], val[chosen][0])
    assert np.array_equal(tests[0][1], val[chosen][1])
    if chosen != 3:
        assert not np.array_equal(tests[0][0], val[3][0])
    assert m["selected_epoch"] == chosen and m["select"] == select
    assert m["test_accuracy"] == 0.123 and m["validation_accuracy"] == scores[3]
    with np.load(tmp_path / "run" / "results.npz") as r:
        assert int(r["selected_epoch"]) == chosen
        assert np.array_equal(r["final_weights"], val[3][0])  # the last, whatever is selected
        assert r["val_accuracy"].tolist() == [scores[1], scores[2], scores[3]]


def test_metrics_json_has_both_accuracies(tmp_path):
    out = tmp_path / "run"
    m = run_mod.run(
        tiny_cfg(epochs=2, eval={"every": 2}), out, show_progress=False, make_figure=False
    )
    disk = read_json(out / "metrics.json")
    assert disk == m
    for key in (
        "validation_accuracy",
        "test_accuracy",
        "n_validation",
        "n_test",
        "select",
        "selected_epoch",
        "coactivation",
        "validation_completion",
        "test_completion",
    ):
        assert key in m, key
    assert 0.0 <= m["validation_accuracy"] <= 1.0 and 0.0 <= m["test_accuracy"] <= 1.0
    assert (m["n_train"], m["n_validation"], m["n_test"]) == (20, 300, 40)
    assert m["coactivation"] == "exact" and m["select"] == "last" and m["selected_epoch"] == 2
    assert "accuracy" not in m
    with np.load(out / "results.npz") as r:
        assert set(r.files) == set(run_mod.RESULT_FIELDS)
        assert r["val_accuracy"][-1] == m["validation_accuracy"]
        assert float(r["test_accuracy"]) == m["test_accuracy"]
        assert r["n_eval"].tolist() == [300] and r["eval_epochs"].tolist() == [2]


def test_bars_has_no_test_accuracy(tmp_path):
    cfg = load_config(
        "bars",
        overrides={
            "epochs": 1,
            "wake_steps": 20,
            "sleep_steps": 40,
            "network": {"n_hidden": 2},
            "eval": {"dkl_steps": 500, "completion": 0},
        },
    )
    m = run_mod.run(cfg, tmp_path / "run", show_progress=False, make_figure=False)
    assert m["validation_accuracy"] is None and m["test_accuracy"] is None
    assert m["dkl_exact"] is not None and m["n_validation"] == m["n_test"] == 0


def test_resume_is_bit_identical_with_select_best(tmp_path, monkeypatch):
    cfg = tiny_cfg(epochs=4, eval={"select": "best", "every": 1})
    ref = run_mod.run(cfg, tmp_path / "ref", show_progress=False, make_figure=False)
    orig = Trainer.epoch
    n = {"epochs": 0}

    def interrupted(self, state, on_batch=None):
        if n["epochs"] == 2:
            raise KeyboardInterrupt
        n["epochs"] += 1
        return orig(self, state, on_batch)

    monkeypatch.setattr(Trainer, "epoch", interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_mod.run(cfg, out, show_progress=False, make_figure=False)
    with np.load(out / "checkpoint.npz") as a:
        assert int(a["epoch"]) == 2 and "best_W" in a.files
    monkeypatch.setattr(Trainer, "epoch", orig)
    m = run_mod.run(cfg, out, show_progress=False, make_figure=False)
    drop = {"runtime_s"}
    assert {k: v for k, v in m.items() if k not in drop} == {
        k: v for k, v in ref.items() if k not in drop
    }
    with np.load(out / "results.npz") as a, np.load(tmp_path / "ref" / "results.npz") as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k], equal_nan=True), k


# -- baselines -----------------------------------------------------------------------------------


def small_class_rbm(seed=0, n_vis=3, n_lab=2, n_hid=3):
    from spikealign.bm.baselines import ClassRBM

    rng = np.random.default_rng(seed)
    return ClassRBM(
        rng.normal(0, 1.5, (n_hid, n_vis)),
        rng.normal(0, 1.5, (n_hid, n_lab)),
        rng.normal(0, 1, n_vis),
        rng.normal(0, 1, n_lab),
        rng.normal(0, 1, n_hid),
    )


def brute_force_free_energy(m, v, k):
    """F(v, e_k) = -log sum_h exp(-E(v, e_k, h)), E = -a.v - d.y - c.h - h.(W v) - h.(U y),
    summed over all 2^H hidden states."""
    y = np.eye(len(m.d))[k]
    H = len(m.c)
    terms = []
    for code in range(2**H):
        h = np.array([(code >> i) & 1 for i in range(H)], dtype=float)
        E = -m.a @ v - m.d @ y - m.c @ h - h @ (m.W @ v) - h @ (m.U @ y)
        terms.append(-E)
    return -np.logaddexp.reduce(terms)


def test_class_rbm_free_energy_and_prediction_by_enumeration():
    for seed in range(3):
        m = small_class_rbm(seed)
        xs = np.array([[(c >> i) & 1 for i in range(3)] for c in range(8)], dtype=float)
        F = m.free_energy_per_class(xs)
        assert F.shape == (8, 2)
        for n, v in enumerate(xs):
            hand = [brute_force_free_energy(m, v, k) for k in range(2)]
            np.testing.assert_allclose(F[n], hand, rtol=1e-12, atol=1e-12)
        # p(y | x) by enumerating (y, h); the prediction is its argmax
        for n, v in enumerate(xs):
            p = np.exp([-brute_force_free_energy(m, v, k) for k in range(2)])
            assert m.predict(xs[n : n + 1])[0] == int(np.argmax(p / p.sum()))
    # three labels: the prediction follows p(y | x), not the first or last label
    m = small_class_rbm(6, n_lab=3)
    m.d[:] = 0.0
    xs = np.random.default_rng(1).integers(0, 2, (40, 3)).astype(float)
    hand = np.array([[brute_force_free_energy(m, v, k) for k in range(3)] for v in xs])
    assert np.array_equal(m.predict(xs), np.argmin(hand, axis=1))
    assert len(set(m.predict(xs))) == 3


def test_class_rbm_keeps_the_model_of_its_best_validation_epoch():
    from spikealign.bm.baselines import train_class_rbm

    d = load_task("digits", n_train=60)
    xv, yv = d.x_val[:60], d.y_val[:60]
    m, acc, ep = train_class_rbm(
        d.x_train,
        d.y_train,
        xv,
        yv,
        6,
        np.random.default_rng(3),
        method="pcd",
        lr=0.1,
        epochs=8,
        batch=20,
    )
    assert acc == float(np.mean(m.predict(xv.astype(float)) == yv))
    # the same generator for only `ep` epochs ends at that model (the earlier epochs alike)
    m2, acc2, ep2 = train_class_rbm(
        d.x_train,
        d.y_train,
        xv,
        yv,
        6,
        np.random.default_rng(3),
        method="pcd",
        lr=0.1,
        epochs=ep,
        batch=20,
    )
    assert (acc2, ep2) == (acc, ep)
    for p, q in zip((m.W, m.U, m.a, m.d, m.c), (m2.W, m2.U, m2.a, m2.d, m2.c), strict=True):
        assert np.array_equal(p, q)
    with pytest.raises(ValueError, match="cd1 or pcd"):
        train_class_rbm(
            d.x_train, d.y_train, xv, yv, 6, np.random.default_rng(3), method="cd3", lr=0.1
        )


@pytest.fixture
def tiny_grids(monkeypatch):
    from spikealign.bm import baselines

    monkeypatch.setattr(baselines, "LR_C", (0.001, 0.1))
    monkeypatch.setattr(baselines, "KNN_K", (1, 9, 25))
    monkeypatch.setattr(baselines, "MLP_ALPHA", (0.1, 10.0))
    monkeypatch.setattr(baselines, "RBM_LR_C", (0.01, 1.0))
    monkeypatch.setattr(baselines, "CRBM_LR", (0.01, 0.1))
    return baselines


def small_digits():
    from spikealign.bm.data import Dataset

    d = load_task("digits")
    return Dataset(
        "digits",
        d.x_train[:120],
        d.y_train[:120],
        d.x_test[:90],
        d.y_test[:90],
        d.shape,
        10,
        d.x_val[:90],
        d.y_val[:90],
    )


def test_baselines_choose_by_validation_and_never_look_at_the_test_labels(tiny_grids):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    data = small_digits()
    res = tiny_grids.run_baselines(data, n_hidden=8, seed=0)
    assert list(res) == list(tiny_grids.NAMES)
    for r in res.values():
        assert set(r) == {"validation_accuracy", "test_accuracy", "hyperparameters", "seconds"}
    xtr, xva, xte = (
        data.x_train.astype(float),
        data.x_val.astype(float),
        data.x_test.astype(float),
    )
    # by hand: the first of the best validation accuracies, then its test accuracy
    for name, key, grid, make in (
        (
            "logistic_regression",
            "C",
            (0.001, 0.1),
            lambda v: LogisticRegression(C=v, max_iter=2000),
        ),
        ("knn", "k", (1, 9, 25), KNeighborsClassifier),
    ):
        models = [make(v).fit(xtr, data.y_train) for v in grid]
        val = [float(np.mean(m.predict(xva) == data.y_val)) for m in models]
        best = int(np.argmax(val))
        assert res[name]["hyperparameters"] == {key: grid[best]}
        assert res[name]["validation_accuracy"] == val[best]
        assert res[name]["test_accuracy"] == float(
            np.mean(models[best].predict(xte) == data.y_test)
        )
        assert len(set(val)) > 1  # the grid makes a difference here
    # the test labels change the test accuracies only
    data.y_test = np.random.default_rng(5).permutation(data.y_test)
    data.x_test = data.x_test[::-1].copy()
    again = tiny_grids.run_baselines(data, n_hidden=8, seed=0)
    for name in res:
        assert again[name]["hyperparameters"] == res[name]["hyperparameters"], name
        assert again[name]["validation_accuracy"] == res[name]["validation_accuracy"], name
    assert any(again[n]["test_accuracy"] != res[n]["test_accuracy"] for n in res)


def test_equal_validation_scores_keep_the_first_of_the_grid():
    from spikealign.bm.baselines import _pick

    res = [(0.5, {"k": 1}, None), (0.7, {"k": 3}, None), (0.7, {"k": 5}, None)]
    assert _pick(res)[1] == {"k": 3}


def test_baselines_cli_writes_the_contract(tmp_path, tiny_grids):
    import json

    out = tmp_path / "base"
    args = [
        "bm",
        "baselines",
        "digits",
        "--out",
        str(out),
        "--set",
        "data.n_train=60",
        "--set",
        "data.n_test=50",
        "--set",
        "network.n_hidden=8",
        "--seed",
        "3",
    ]
    code, stdout, stderr = run_cli(args)
    assert code == 0, stderr
    res = json.loads((out / "baselines.json").read_text())
    assert list(res) == list(tiny_grids.NAMES)
    for r in res.values():
        assert set(r) == {"validation_accuracy", "test_accuracy", "hyperparameters", "seconds"}
        assert 0.0 <= r["validation_accuracy"] <= 1.0 and 0.0 <= r["test_accuracy"] <= 1.0
    assert res["mlp"]["hyperparameters"]["hidden"] == 8
    assert "written:" in stdout and "logistic_regression" in stdout
    cfg = (out / "config.yaml").read_text()
    assert "n_hidden: 8" in cfg and "seed: 3" in cfg and "n_train: 60" in cfg
    assert read_json(out / "status.json")["state"] == "done"
    assert (out / "checksums.json").is_file()
    code, stdout, stderr = run_cli(args)  # a finished run is kept
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "finished" in stderr


def test_baselines_of_bars_are_refused_with_one_line(tmp_path):
    out = tmp_path / "base"
    code, stdout, stderr = run_cli(["bm", "baselines", "bars", "--out", str(out)])
    lines = stderr.strip().splitlines()
    assert code == 2 and stdout == "" and len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "no labels" in lines[0]
    assert not out.exists()
