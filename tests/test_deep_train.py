"""Training runs (synthetic and, when present, real Fashion-MNIST), resume, CLI, torch-free
imports."""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from deep_synth import write_mnist_like  # noqa: E402
from spikealign.deep import cli as deep_cli  # noqa: E402
from spikealign.deep import data as D  # noqa: E402
from spikealign.deep import data_cli  # noqa: E402
from spikealign.deep import train as T  # noqa: E402

torch.set_num_threads(1)

SMALL = {
    "dataset": "fmnist",
    "epochs": 2,
    "batch_size": 16,
    "test_batch_size": 32,
    "sal": {"n_iterations": 2, "len_epoch": 3, "batch_size": 4},
    "rdd": {"rdd_time": 0.3, "update_every": 100},
}


@pytest.fixture
def fake_fmnist(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    write_mnist_like(tmp_path / "data" / "FashionMNIST" / "raw", n_train=48, n_test=20)
    return tmp_path / "data"


@pytest.mark.parametrize("algo", ["bp", "bp_fa", "fa", "kp", "scfa", "sal", "rdd"])
def test_train_every_algo(tmp_path, fake_fmnist, algo):
    m = T.train_run({**SMALL, "algo": algo}, tmp_path / "run", data_dir=fake_fmnist)
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert on_disk["epochs"] == json.loads(json.dumps(m["epochs"]))
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "done"
    assert len(m["epochs"]) == 2
    rec = m["epochs"][-1]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "align"):
        assert key in rec
    assert len(rec["align"]) == 3 and set(rec["align"][0]) == {"angle", "corr", "sign", "var"}
    if algo in ("bp", "bp_fa"):
        assert all(a["angle"] == pytest.approx(0.0, abs=1e-3) for a in rec["align"])
    if algo in ("sal", "rdd"):
        assert "align_after_phase" in rec
        assert rec["phase_time_s"] > 0
    if algo == "scfa":
        assert all(a["sign"] == 1.0 for a in rec["align_effective"])
    if algo == "fa":
        assert m["init"]["align"][0]["angle"] == pytest.approx(rec["align"][0]["angle"], abs=5)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_same_seed_same_numbers_and_resume(tmp_path, fake_fmnist, monkeypatch):
    cfg = {**SMALL, "algo": "sal", "epochs": 3, "seed": 4}
    full = T.train_run(cfg, tmp_path / "a", data_dir=fake_fmnist)
    again = T.train_run(cfg, tmp_path / "b", data_dir=fake_fmnist)
    assert full["epochs"][-1]["test_loss"] == again["epochs"][-1]["test_loss"]

    calls = {"n": 0}
    real = T._train_epoch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        T.train_run(cfg, tmp_path / "c", data_dir=fake_fmnist)
    st = json.loads((tmp_path / "c" / "status.json").read_text())
    assert st["state"] == "interrupted"  # Ctrl-C, as in every family
    monkeypatch.setattr(T, "_train_epoch", real)
    resumed = T.train_run(cfg, tmp_path / "c", data_dir=fake_fmnist)
    for a, b in zip(full["epochs"], resumed["epochs"], strict=True):
        assert a["test_loss"] == b["test_loss"] and a["align"] == b["align"]
    # a finished run is not overwritten; another config in an unfinished dir is refused
    with pytest.raises(FileExistsError):
        T.train_run(cfg, tmp_path / "c", data_dir=fake_fmnist)


def test_config_errors(tmp_path, fake_fmnist):
    with pytest.raises(ValueError, match="algo"):
        T.train_run({"algo": "xx"}, tmp_path / "r")
    with pytest.raises(ValueError, match="unknown key"):
        T.train_run({"algo": "fa", "lr_typo": 1.0}, tmp_path / "r")


def test_cli_train_and_errors(tmp_path, fake_fmnist):
    runner = CliRunner()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("batch_size: 16\ntest_batch_size: 32\n")
    res = runner.invoke(
        deep_cli.app,
        [
            "train",
            "--algo",
            "fa",
            "--dataset",
            "fmnist",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "r"),
            "--data-dir",
            str(fake_fmnist),
            "--threads",
            "1",
            "--config",
            str(cfg),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "test accuracy" in res.output
    res = runner.invoke(deep_cli.app, ["train", "--algo", "nope", "--quiet"])
    assert isinstance(res.exception, ValueError) and "--algo" in str(res.exception)
    (tmp_path / "empty").mkdir()
    res = runner.invoke(
        deep_cli.app,
        [
            "train",
            "--algo",
            "fa",
            "--dataset",
            "svhn",
            "--data-dir",
            str(tmp_path / "empty"),
            "--quiet",
            "--out",
            str(tmp_path / "r2"),
        ],
    )
    assert isinstance(res.exception, D.DataMissingError)
    assert "spikealign data fetch svhn" in str(res.exception)
    assert not (tmp_path / "r2").exists()  # missing data is found before the run directory
    res = runner.invoke(
        deep_cli.app,
        [
            "train",
            "--algo",
            "fa",
            "--data-dir",
            str(tmp_path / "nothing"),
            "--quiet",
            "--out",
            str(tmp_path / "r3"),
        ],
    )
    assert isinstance(res.exception, ValueError) and "--data-dir" in str(res.exception)
    assert not (tmp_path / "r3").exists()


def test_cli_without_torch(monkeypatch):
    monkeypatch.setattr(deep_cli, "torch_available", lambda: False)
    res = CliRunner().invoke(deep_cli.app, ["train", "--algo", "fa"])
    assert res.exit_code == 2
    assert "pip install -e '.[deep]'" in res.output
    assert res.output.strip().count("\n") == 0


def test_cli_symmetrize_and_data_where(tmp_path, fake_fmnist):
    runner = CliRunner()
    res = runner.invoke(
        deep_cli.app,
        [
            "symmetrize",
            "--sizes",
            "20,15,5",
            "--epochs",
            "2",
            "--len-epoch",
            "5",
            "--out",
            str(tmp_path / "s"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert m["steps"] == [0, 50, 100] and len(m["align"][0]) == 2
    res = runner.invoke(data_cli.app, ["where", "fmnist", "--data-dir", str(fake_fmnist)])
    assert res.exit_code == 0 and "FashionMNIST" in res.output


def test_imports_without_torch():
    code = (
        "import sys, spikealign, spikealign.deep, spikealign.deep.cli, "
        "spikealign.deep.data_cli, spikealign.deep.data, spikealign.deep.fetch; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_real_fashion_mnist_short_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    try:
        D.find_dataset("fmnist")
    except D.DataMissingError:
        pytest.skip(
            "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist or "
            "spikealign data fetch fmnist)"
        )
    m = T.train_run(
        {"algo": "fa", "dataset": "fmnist", "epochs": 1, "train_limit": 3000, "test_limit": 1000},
        tmp_path / "real",
    )
    assert m["epochs"][0]["test_acc"] > 60.0
