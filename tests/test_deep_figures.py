"""Figures 7 and 8 on small inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deep_synth import write_mnist_like  # noqa: E402
from spikealign.deep import figures as FG  # noqa: E402
from spikealign.deep.train import train_run  # noqa: E402
from spikealign.figures import FIGURES  # noqa: E402

torch.set_num_threads(1)


def test_registered():
    assert {"7", "8", "9"} <= set(FIGURES)
    assert FIGURES["8"][2] is True and FIGURES["7"][2] is False


def test_fig7_data_short():
    d = FG.fig7_data(seconds=2, n=20)
    for key in ("sal", "rdd", "stdwi"):
        assert d[f"{key}_B"].shape == (20, 20)
        assert len(d[f"{key}_t"]) == len(d[f"{key}_angle"]) >= 3
    assert d["sal_angle"][-1] < d["sal_angle"][0]


def test_fig8_from_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    write_mnist_like(tmp_path / "data" / "fmnist", n_train=40, n_test=10)
    for algo in ("fa", "bp"):
        for seed in (0, 1):
            train_run(
                {"algo": algo, "epochs": 1, "seed": seed, "batch_size": 20},
                tmp_path / "runs" / f"{algo}{seed}",
                data_dir=tmp_path / "data",
            )
    paths = FG.fig8(tmp_path / "runs", tmp_path / "out")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".npz"]
    z = np.load(paths[2])
    assert list(z["algos"]) == ["bp", "fa"] and z["acc_mean"].shape == (1, 2)
    assert z["fa_fc1"].shape == (2, 2)
    with pytest.raises(FileNotFoundError):
        FG.fig8(tmp_path / "data", tmp_path / "out")
