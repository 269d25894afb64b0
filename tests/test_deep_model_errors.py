"""Issue 18, ``spikealign deep train --model module:function``: every bad model gives one
``error: --model: ...`` line and exit status 2, no traceback, and writes no run folder; the
same models through the API (``train_run``) raise a one-line ``ConfigError`` before anything
is written."""

import math
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the digits data set: no files needed

from spikealign.cli import main  # noqa: E402
from spikealign.config import ConfigError  # noqa: E402
from spikealign.deep import train as T  # noqa: E402

torch.set_num_threads(1)

HEAD = "import torch\nfrom torch import nn\n"
GOOD = (
    "def f(c, shape, n):\n"
    "    return nn.Sequential(nn.Flatten(), nn.Linear(c * shape[0] * shape[1], n))\n"
)
AUX = (
    "class M(nn.Module):\n    def __init__(self, k, n):\n        super().__init__()\n"
    "        self.out = nn.Linear(32, n)\n        self.hidden = nn.Linear(k, 32)\n"
    "        self.unused = nn.Linear(3, 5)\n    def forward(self, x):\n"
    "        return self.out(torch.relu(self.hidden(x.flatten(1))))\n"
    "def f(c, shape, n):\n    return M(c * shape[0] * shape[1], n)\n"
)
#: case -> (module source or None, function part of the spec or a whole spec, algo)
CASES = {
    "syntax_error": ("def f(c, shape, n)\n    return 1\n", "f", "fa"),
    "import_raises": ("raise RuntimeError('no GPU here')\n" + GOOD, "f", "fa"),
    "import_missing_dependency": ("import not_a_module_anywhere_xyz\n" + GOOD, "f", "fa"),
    "no_such_module": (None, "no_such_module_xyz:f", "fa"),
    "no_such_function": (GOOD, "g", "fa"),
    "not_callable": ("f = 3\n", "f", "fa"),
    "builder_raises": ("def f(c, shape, n):\n    raise KeyError('depth')\n", "f", "fa"),
    "wrong_signature": ("def f(c, n):\n    return nn.Linear(c, n)\n", "f", "fa"),
    "returns_none": ("def f(c, shape, n):\n    return None\n", "f", "fa"),
    "returns_list": ("def f(c, shape, n):\n    return [nn.Linear(2, 2)]\n", "f", "fa"),
    "too_few_outputs": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(), "
        "nn.Linear(c * shape[0] * shape[1], n - 5))\n",
        "f",
        "fa",
    ),
    "too_few_outputs_dfa": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(), "
        "nn.Linear(c * shape[0] * shape[1], 7))\n",
        "f",
        "dfa",
    ),
    "wrong_input_size": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, n))\n",
        "f",
        "fa",
    ),
    "returns_tuple": (
        "class M(nn.Module):\n    def __init__(self, k, n):\n"
        "        super().__init__()\n        self.fc = nn.Linear(k, n)\n"
        "    def forward(self, x):\n        return self.fc(x.flatten(1)), 0\n"
        "def f(c, shape, n):\n    return M(c * shape[0] * shape[1], n)\n",
        "f",
        "fa",
    ),
    "forward_raises": (
        "class M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
        "    def forward(self, x):\n        raise ValueError('oops\\nsecond line')\n"
        "def f(c, shape, n):\n    return M()\n",
        "f",
        "fa",
    ),
    "double_precision": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(), "
        "nn.Linear(c * shape[0] * shape[1], n)).double()\n",
        "f",
        "fa",
    ),
    "unconvertible_layer": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(1), "
        "nn.Unflatten(1, (1, -1)), nn.Conv1d(1, 1, 3), nn.Flatten(), "
        "nn.LazyLinear(n))\n",
        "f",
        "fa",
    ),
    "weight_norm_layer": (
        "def f(c, shape, n):\n    return nn.Sequential(nn.Flatten(), "
        "nn.utils.parametrizations.weight_norm("
        "nn.Linear(c * shape[0] * shape[1], n)))\n",
        "f",
        "fa",
    ),
    "empty_module": (None, ":good", "fa"),
    "empty_function": (None, "os.path:", "fa"),
    "relative_path": (None, "../x:y", "fa"),
    "file_path": (None, "models/tiny.py:f", "fa"),
    "bad_function_name": (None, "os.path:join-x", "fa"),
    "not_a_model_name": (None, "resnet50", "fa"),
    "convnet_too_small": (None, "convnet", "fa"),
    "no_linear_chain_sal": (AUX, "f", "sal"),
}


def _spec(tmp_path, monkeypatch, case):
    source, fn, _ = CASES[case]
    if source is None:
        return fn
    name = f"usermodel_{case}"
    (tmp_path / f"{name}.py").write_text(HEAD + source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return f"{name}:{fn}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_cli_one_line_exit_2_no_run_folder(tmp_path, monkeypatch, capsys, case):
    spec = _spec(tmp_path, monkeypatch, case)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the default output would land in work/runs
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as ex:
        main(
            [
                "deep",
                "train",
                "--algo",
                CASES[case][2],
                "--dataset",
                "digits",
                "--model",
                spec,
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
    err = capsys.readouterr().err
    assert ex.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: --model: ") and "Traceback" not in err
    assert "Empty module name" not in err
    assert not out.exists() and list(work.iterdir()) == []
    sys.modules.pop(f"usermodel_{case}", None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_api_config_error_before_writing(tmp_path, monkeypatch, case):
    spec = _spec(tmp_path, monkeypatch, case)
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as err:
        T.train_run({"algo": CASES[case][2], "dataset": "digits", "model": spec, "epochs": 1}, out)
    assert str(err.value).startswith("model: ") and "\n" not in str(err.value)
    assert not out.exists()
    sys.modules.pop(f"usermodel_{case}", None)


def test_good_user_model_with_aux_layer_trains(tmp_path, monkeypatch):
    """A model whose last-defined Linear is not its output layer trains under DFA: D has one
    row per class (the output), whatever layer comes last in the definition."""
    (tmp_path / "usermodel_aux.py").write_text(HEAD + AUX)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("usermodel_aux", None)
    m = T.train_run(
        {
            "algo": "dfa",
            "dataset": "digits",
            "model": "usermodel_aux:f",
            "epochs": 2,
            "batch_size": 32,
        },
        tmp_path / "run",
    )
    assert m["epochs"][-1]["test_acc"] > 50  # chance: 10 %
    net = T.checked_model(
        T.validate(
            T.TrainConfig, {"algo": "dfa", "dataset": "digits", "model": "usermodel_aux:f"}, "t"
        )
    )
    assert net.hidden.fb_weight.shape == (10, 64) and net.out.fb_weight.shape == (10, 32)
    al = m["epochs"][-1]["alignment"]
    assert set(al) == {"out", "hidden", "unused"}
    assert al["out"]["angle"] < 90 and math.isnan(al["unused"]["angle"])  # never called
