"""spikealign.deep.convert / alignment / Aligner: every rule's backward pass against a
hand-computed gradient (linear and conv), conversion of models it has never seen, the
spiking aligner on a user's MLP, and short real-data runs (scikit-learn's digits)."""

import copy
import json
import math
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from spikealign import deep  # noqa: E402
from spikealign.deep import cli as deep_cli  # noqa: E402
from spikealign.deep import train as T  # noqa: E402
from spikealign.deep.conversion import (  # noqa: E402
    CONVERT_ALGOS,
    UnconvertibleError,
    converted_layers,
    linear_chain,
    param_groups,
)
from spikealign.deep.convnet import ConvNet  # noqa: E402

torch.set_num_threads(1)
ALGOS = CONVERT_ALGOS
D64 = torch.float64


def _mlp(sizes=(6, 5, 4, 3)):
    layers = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def _xg(n_in, n_out, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g, dtype=D64, requires_grad=True)
    gy = torch.randn(batch, n_out, generator=g, dtype=D64)
    return x, gy


# -- linear layers: backward against hand-computed gradients -------------------------------


@pytest.mark.parametrize("algo", ["bp", "fa", "kp", "frsf", "usf", "sal", "rdd"])
def test_linear_rule_backward(algo):
    lin = nn.Linear(5, 3).double()
    c = deep.convert(lin, algo, seed=1)
    W = c.weight.detach().clone()
    fb = None if algo in ("bp", "usf") else c.fb_weight.detach().clone()
    x, gy = _xg(5, 3)
    y = c(x)
    assert torch.equal(y, F.linear(x, lin.weight, lin.bias))  # forward unchanged
    y.backward(gy)
    if algo == "bp":
        want_b = W
    elif algo == "frsf":
        want_b = fb.abs() * torch.sign(W)  # |B0| sign W
    elif algo == "usf":
        want_b = torch.sign(W) * W.pow(2).mean().sqrt()  # sign W rms(W at init)
    else:
        want_b = fb  # FA, KP, SAL, RDD: B
    assert torch.allclose(x.grad, gy @ want_b)
    assert torch.allclose(c.weight.grad, gy.T @ x.detach())  # exact weight gradient
    assert torch.allclose(c.bias.grad, gy.sum(0))
    assert torch.allclose(c.effective_feedback(), want_b)
    if algo == "kp":
        assert torch.allclose(c.fb_weight.grad, c.weight.grad)  # B learns like W
    elif fb is not None:
        assert c.fb_weight.grad is None
    if algo not in ("bp", "usf", "frsf"):
        assert not torch.allclose(fb, W)
        assert fb.abs().max() <= 1 / math.sqrt(5)  # U(+-1/sqrt(fan_in))


def test_brsf_redraws_magnitudes_every_batch():
    c = deep.convert(nn.Linear(5, 3).double(), "brsf", seed=2)
    W = c.weight.detach().clone()
    grads, fbs = [], []
    for _ in range(2):
        x, gy = _xg(5, 3)
        c(x).backward(gy)
        fb = c.effective_feedback()
        assert torch.allclose(x.grad, gy @ fb)  # backward uses |M| sign W
        assert torch.equal(torch.sign(fb), torch.sign(W))  # sign concordant
        assert fb.abs().max() <= 1 / math.sqrt(5)
        grads.append(x.grad.clone())
        fbs.append(fb)
    assert not torch.allclose(fbs[0], fbs[1])  # redrawn per batch
    assert not torch.allclose(grads[0], grads[1])
    c.eval()
    with torch.no_grad():
        c(x)
    assert torch.equal(c.effective_feedback(), fbs[1])  # no draw in evaluation
    # the draw stream is in the state dict: a copy resumes with the same next draw
    twin = copy.deepcopy(c)
    c.train()
    twin.train()
    c(x)
    twin(x)
    assert torch.equal(c.fb_weight, twin.fb_weight)


def test_dfa_projects_the_output_error_directly():
    net = _mlp((6, 5, 4, 3))  # fc 0, 2, 4; output = last layer's output
    c = deep.convert(net, "dfa", seed=3)
    # D waits for the output width, which the first forward pass shows
    assert all(m.fb_weight.shape[0] == 0 for m in converted_layers(c).values())
    x, _ = _xg(6, 3)
    y = c(x)
    D = {n: m.fb_weight.detach().clone() for n, m in converted_layers(c).items()}
    assert {n: tuple(d.shape) for n, d in D.items()} == {"0": (3, 6), "2": (3, 5), "4": (3, 4)}
    target = torch.randn(4, 3, dtype=D64, generator=torch.Generator().manual_seed(9))
    loss = ((y - target) ** 2).sum()
    loss.backward()
    e = 2 * (y - target).detach()  # dL/dy: the output error
    # hand computation: every layer sends e D down, the layer below multiplies by relu'
    h0 = x.detach()
    a0 = h0 @ c[0].weight.detach().T + c[0].bias.detach()
    h1 = torch.relu(a0)
    a1 = h1 @ c[2].weight.detach().T + c[2].bias.detach()
    h2 = torch.relu(a1)
    d1 = (e @ D["4"]) * (a1 > 0)  # error of layer "2": e D_4 relu'(a1)
    d0 = (e @ D["2"]) * (a0 > 0)  # error of layer "0": e D_2 relu'(a0)
    assert torch.allclose(c[4].weight.grad, e.T @ h2)
    assert torch.allclose(c[2].weight.grad, d1.T @ h1)
    assert torch.allclose(c[0].weight.grad, d0.T @ h0)
    assert torch.allclose(x.grad, e @ D["0"])
    # effective feedback: weight-shaped; D for the last layer, pinv(D_next) D below it
    assert torch.allclose(c[4].effective_feedback(), D["4"])
    assert torch.allclose(c[2].effective_feedback(), torch.linalg.pinv(D["4"]) @ D["2"])
    for m in converted_layers(c).values():
        assert m.effective_feedback().shape == m.weight.shape


# -- conv layers ---------------------------------------------------------------------------


@pytest.mark.parametrize("algo", ["bp", "fa", "kp", "frsf", "usf", "brsf", "sal"])
def test_conv_rule_backward(algo):
    conv = nn.Conv2d(2, 4, 3, stride=1, padding=1).double()
    c = deep.convert(conv, algo, seed=4)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 2, 6, 6, generator=g, dtype=D64, requires_grad=True)
    y = c(x)
    assert torch.equal(y, conv(x))
    gy = torch.randn(y.shape, generator=g, dtype=D64)
    y.backward(gy)
    W = c.weight.detach()
    fb = getattr(c, "fb_weight", None)
    fb = None if fb is None or algo == "bp" else fb.detach()
    if algo == "bp":
        want = W
    elif algo in ("frsf", "brsf"):
        want = fb.abs() * torch.sign(W)
    elif algo == "usf":
        want = torch.sign(W) * W.pow(2).mean().sqrt()  # the rms of W at conversion
    else:
        want = fb
    # the input gradient of a conv with kernel B is conv_transpose(gy, B)
    assert torch.allclose(x.grad, F.conv_transpose2d(gy, want, padding=1))
    xd = x.detach().requires_grad_(True)
    w = W.clone().requires_grad_(True)
    F.conv2d(xd, w, None, padding=1).backward(gy)
    assert torch.allclose(c.weight.grad, w.grad)
    assert torch.allclose(c.bias.grad, gy.sum((0, 2, 3)))
    if algo == "kp":
        assert torch.allclose(c.fb_weight.grad, c.weight.grad)
    assert c.effective_feedback().shape == W.shape
    if algo == "brsf":
        assert torch.equal(torch.sign(c.effective_feedback()), torch.sign(W))


@pytest.mark.parametrize(
    "padding,dilation,numeric", [("same", 1, 1), ("same", 2, 2), ("valid", 1, 0)]
)
def test_conv_string_padding(padding, dilation, numeric):
    """'same' (symmetric) and 'valid' zero padding convert: same forward, and the FA input
    gradient is conv_transpose with B and the numeric padding."""
    conv = nn.Conv2d(2, 3, 3, padding=padding, dilation=dilation).double()
    c = deep.convert(conv, "fa", seed=1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 7, 7, generator=g, dtype=D64, requires_grad=True)
    y = c(x)
    assert torch.equal(y, conv(x))
    gy = torch.randn(y.shape, generator=g, dtype=D64)
    y.backward(gy)
    want = F.conv_transpose2d(gy, c.fb_weight.detach(), padding=numeric, dilation=dilation)
    assert torch.allclose(x.grad, want)
    with pytest.raises(UnconvertibleError, match="symmetric"):  # an even kernel pads unevenly
        deep.convert(nn.Conv2d(2, 2, 4, padding="same"), "fa")


# -- convert on models it has never seen ---------------------------------------------------


class Residual(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(n, n), nn.ReLU(), nn.Linear(n, n))
        self.norm = nn.LayerNorm(n)

    def forward(self, x):
        return self.norm(x + self.inner(x))


class Zoo(nn.Module):
    """Nested modules, nn.Sequential, a shared layer used twice, a residual block, BN."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.BatchNorm2d(3),
            nn.ReLU(),
            nn.Conv2d(3, 2, 3, stride=2),
        )
        self.shared = nn.Linear(8, 8)
        self.proj = nn.Linear(2 * 2 * 2, 8)
        self.block = Residual(8)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        h = self.features(x).flatten(1)
        h = torch.relu(self.shared(torch.relu(self.shared(self.proj(h)))))
        return self.head(self.block(h))


@pytest.mark.parametrize("algo", ALGOS)
def test_convert_unseen_model(algo):
    torch.manual_seed(0)
    model = Zoo().double()
    x = torch.randn(5, 1, 5, 5, dtype=D64, generator=torch.Generator().manual_seed(1))
    model.train()
    before = copy.deepcopy(model.state_dict())
    ref = model(x)
    model.load_state_dict(before)  # undo the BN running-stat update
    c = deep.convert(model, algo, seed=5)
    out = c(x)
    assert torch.equal(out, ref)  # forward identical before training
    # the original is untouched: same types, same values
    assert type(model.shared) is nn.Linear and type(model.features[0]) is nn.Conv2d
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert c.shared is not model.shared  # a copy...
    names = set(converted_layers(c))
    assert names == {
        "features.0",
        "features.3",
        "shared",
        "proj",
        "block.inner.0",
        "block.inner.2",
        "head.1",
    }
    assert c.conversion_report["kept"] == ["features.1", "block.norm"]
    al = deep.alignment(c)
    assert set(al) == names and all("angle" in a for a in al.values())
    for m in converted_layers(c).values():
        assert m.effective_feedback().shape == m.weight.shape
    out.sum().backward()
    assert c.shared.weight.grad is not None
    if algo == "bp":
        x2 = x.detach()
        model.zero_grad()
        model.load_state_dict(before)
        model(x2).sum().backward()
        for (n, p), (n2, q) in zip(c.named_parameters(), model.named_parameters(), strict=True):
            assert n == n2 and torch.allclose(p.grad, q.grad), n
        assert all(a["angle"] == pytest.approx(0.0, abs=1e-4) for a in al.values())


def test_shared_layer_stays_shared():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    c = deep.convert(model, "fa", seed=0)
    assert c[0] is c[2] and isinstance(c[0], type(c[2]))
    assert list(deep.alignment(c)) == ["0"]
    # a tied parameter stays tied as well
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    c2 = deep.convert(nn.Sequential(a, b), "kp", seed=0)
    assert c2[0].weight is c2[1].weight


def test_unconvertible_layers_are_named():
    class WithRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.enc = nn.Sequential(nn.Conv1d(1, 1, 3), nn.ReLU())
            self.rnn = nn.LSTM(4, 4)

    with pytest.raises(UnconvertibleError) as err:
        deep.convert(WithRNN(), "fa")
    assert "enc.0 (Conv1d)" in str(err.value) and "rnn (LSTM)" in str(err.value)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = deep.convert(WithRNN(), "fa", strict=False)
    assert any("enc.0 (Conv1d)" in str(x.message) for x in w)
    assert c.conversion_report["unconvertible"] == ["enc.0 (Conv1d)", "rnn (LSTM)"]
    assert type(c.rnn) is nn.LSTM and list(converted_layers(c)) == ["fc"]
    with pytest.raises(ValueError, match="algo must be one of"):
        deep.convert(nn.Linear(2, 2), "nope")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        deep.convert("a model", "fa")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        deep.alignment([nn.Linear(2, 2)])
    assert deep.alignment(nn.Linear(2, 2)) == {}  # nothing converted


def test_layers_selection_and_feedback_argument():
    net = _mlp((4, 3, 2))
    c = deep.convert(net, "fa", layers=["2"], seed=0)
    assert list(converted_layers(c)) == ["2"] and c.conversion_report["skipped"] == ["0"]
    B = torch.full((2, 3), 0.25, dtype=D64)
    c = deep.convert(net, {"0": "kp", "2": "fa"}, feedback={"2": B})
    assert c[0].mode == "kp" and torch.equal(c[2].fb_weight, B)
    with pytest.raises(ValueError, match="shape"):
        deep.convert(net, "fa", feedback={"2": torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="no layer named"):
        deep.convert(net, {"nope": "fa"})


def test_seed_reproducible_and_independent_of_torch_seed():
    torch.manual_seed(0)
    net = nn.Linear(30, 20)
    a = deep.convert(net, "fa", seed=0)
    b = deep.convert(net, "fa", seed=0)
    assert torch.equal(a.fb_weight, b.fb_weight)
    # torch.manual_seed(0) + seed=0 must not replay the weights as B
    assert deep.alignment(a)[""]["angle"] > 60


def test_alignment_matches_hand_computation():
    net = _mlp((6, 5, 4))
    c = deep.convert(net, "fa", seed=7)
    W, B = c[2].weight.detach().ravel(), c[2].fb_weight.detach().ravel()
    cos = float(W @ B / (W.norm() * B.norm()))
    al = deep.alignment(c)["2"]
    assert al["angle"] == pytest.approx(math.degrees(math.acos(cos)), abs=1e-9)
    assert al["sign_agreement"] == pytest.approx(float((W.sign() * B.sign()).mean()))
    assert al["corr"] == pytest.approx(float(torch.corrcoef(torch.stack([W, B]))[0, 1]))
    assert all(
        a["angle"] == pytest.approx(0.0, abs=1e-4)
        for a in deep.alignment(deep.convert(net, "bp")).values()
    )


def test_kp_param_groups_and_convergence():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    c = deep.convert(model, "kp", seed=0)
    groups = param_groups(c, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.1, 0.0]
    assert {id(p) for p in groups[1]["params"]} == {id(c[0].fb_weight), id(c[2].fb_weight)}
    # KP: the same updates plus decay on W and B drive B to W
    opt = torch.optim.SGD(groups, lr=0.5)
    g = torch.Generator().manual_seed(0)
    a0 = deep.alignment(c)["2"]["angle"]
    for _ in range(60):
        x = torch.randn(16, 1, 4, 4, generator=g)
        opt.zero_grad()
        F.cross_entropy(c(x), torch.randint(0, 3, (16,), generator=g)).backward()
        opt.step()
    assert deep.alignment(c)["2"]["angle"] < a0 / 2


# -- the conv net is a user of convert -----------------------------------------------------


def test_convnet_initialisation_order_documented():
    """W, then B, then bias per layer from one generator (the order before convert existed)."""
    net = ConvNet("fa", 1, (28, 28), generator=torch.Generator().manual_seed(11))
    g = torch.Generator().manual_seed(11)

    def u(shape, fan_in):
        return torch.empty(shape).uniform_(
            -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=g
        )

    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        layer = getattr(net, name)
        fan_in = math.prod(layer.weight.shape[1:])
        assert torch.equal(layer.weight, u(layer.weight.shape, fan_in)), name
        assert torch.equal(layer.fb_weight, u(layer.weight.shape, fan_in)), name
        if layer.bias is not None:
            assert torch.equal(layer.bias, u(layer.bias.shape, fan_in)), name
    assert set(net.conversion_report["converted"]) == {"conv1", "conv2", "fc1", "fc2", "fc3"}


# -- the aligner ---------------------------------------------------------------------------


class UserMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(20, 15), nn.Linear(15, 10)])
        self.out = nn.Linear(10, 5)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)


def test_sal_aligner_reduces_angle_on_user_mlp():
    torch.manual_seed(0)
    c = deep.convert(UserMLP(), "sal", seed=0)
    before = deep.alignment(c)
    W = {n: m.weight.detach().clone() for n, m in converted_layers(c).items()}
    al = deep.Aligner(c, "sal", seed=1, progress=False, n_iterations=3, len_epoch=200, sal_lr=0.1)
    assert al.names == ["hidden.0", "hidden.1", "out"] and al.sizes == [20, 15, 10, 5]
    after = al.step()
    for n in al.names:
        assert after[n]["angle"] < before[n]["angle"] - 5, n  # measured: about -10 deg
        assert torch.equal(converted_layers(c)[n].weight, W[n])  # only B changes
    # every N batches
    al2 = deep.Aligner(c, "sal", every=3, progress=False, n_iterations=1, len_epoch=10)
    assert [al2.maybe_step(i) is not None for i in range(6)] == [False, False, True] * 2


def test_rdd_aligner_and_conv_head():
    net = ConvNet("rdd", 1, (16, 16), generator=torch.Generator().manual_seed(0))
    convB = net.conv1.fb_weight.detach().clone()
    al = deep.Aligner(net, "rdd", progress=False, rdd_time=2.0, update_every=500)
    assert al.names == ["fc1", "fc2", "fc3"]
    before = deep.alignment(net)
    after = al.step()
    assert after["fc1"]["angle"] < before["fc1"]["angle"] - 2
    assert torch.equal(net.conv1.fb_weight, convB)  # conv layers: fixed B
    st = al.state_dict()
    al.load_state_dict(st)


def test_aligner_errors():
    with pytest.raises(ValueError, match="no converted linear layer"):
        deep.Aligner(nn.Sequential(nn.Linear(2, 2)), "sal")
    c = deep.convert(nn.Sequential(nn.Linear(4, 3), nn.Linear(2, 2)), "sal")
    with pytest.raises(ValueError, match="takes 2 inputs"):
        deep.Aligner(c, "sal")
    with pytest.raises(ValueError, match="unknown option"):
        deep.Aligner(c, "sal", chain=["0"], rdd_time=3)
    with pytest.raises(ValueError, match="algo must be"):
        deep.Aligner(c, "kp")
    assert [n for n, _ in linear_chain(c, ["1"])] == ["1"]


# -- real data, one short run per family ---------------------------------------------------

FAMILIES = ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "sal", "rdd", "stdwi"]


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return True


def _real_data():
    """scikit-learn's digits (all of it), else 1000 Fashion-MNIST images, else skip:
    ``(config fields, accuracy floor, first layer's fan-in)``. Floors are far above chance
    (10 %) and below the lowest measured value (digits 75 %, Fashion-MNIST subset 54 %)."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is not None:
        return {"dataset": "digits"}, 50.0, 64
    from spikealign.deep import data as D

    try:
        D.find_dataset("fmnist")
    except D.DataMissingError:
        pytest.skip("neither scikit-learn (digits) nor Fashion-MNIST installed")
    return {"dataset": "fmnist", "train_limit": 1000, "test_limit": 500}, 35.0, 784


@pytest.mark.parametrize("algo", FAMILIES)
def test_real_data_short_run(tmp_path, algo):
    data, floor, fan_in = _real_data()
    cfg = {
        "algo": algo,
        **data,
        "model": "mlp",
        "epochs": 3,
        "batch_size": 32,
        "sal": {"n_iterations": 1, "len_epoch": 100},
        "rdd": {"rdd_time": 2.0, "update_every": 500},
        "stdwi": {"duration_ms": 200.0},
    }
    m = T.train_run(cfg, tmp_path / "r")
    last = m["epochs"][-1]
    assert last["test_acc"] > floor
    assert set(last["alignment"]) == {"1", "3", "5"}
    assert m["fc_sizes"] == [fan_in, 256, 256, 10]
    if algo == "bp":
        assert all(a["angle"] == pytest.approx(0.0, abs=1e-4) for a in last["align"])
    if algo in ("sal", "rdd"):
        assert last["align_after_phase"][0]["angle"] < m["init"]["align"][0]["angle"]
    disk = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert disk["model"] == "mlp"


def test_lenet5_digits_and_cli_user_model(tmp_path, digits, monkeypatch):
    mod = tmp_path / "mymodels.py"
    mod.write_text(
        "import torch.nn as nn\n"
        "def tiny(c, shape, n):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(c * shape[0] * shape[1], "
        "32), nn.ReLU(), nn.Linear(32, n))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mymodels", None)
    runner = CliRunner()
    for model in ("lenet5", "mymodels:tiny"):
        res = runner.invoke(
            deep_cli.app,
            [
                "train",
                "--algo",
                "usf",
                "--dataset",
                "digits",
                "--model",
                model,
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(tmp_path / model.replace(":", "_")),
            ],
        )
        assert res.exit_code == 0, res.output
        assert "test accuracy" in res.output
    res = runner.invoke(
        deep_cli.app,
        [
            "train",
            "--algo",
            "fa",
            "--dataset",
            "digits",
            "--model",
            "nosuchmodule:f",
            "--quiet",
            "--out",
            str(tmp_path / "bad"),
        ],
    )
    assert isinstance(res.exception, ValueError) and "--model" in str(res.exception)
    assert not (tmp_path / "bad").exists()


def test_align_every_batches_and_brsf_resume(tmp_path, digits, monkeypatch):
    base = {
        "dataset": "digits",
        "model": "mlp",
        "epochs": 1,
        "batch_size": 64,
        "train_limit": 640,
        "sal": {"n_iterations": 1, "len_epoch": 200, "sal_lr": 0.1},
    }
    m = T.train_run({**base, "algo": "sal", "align_every": 4}, tmp_path / "every")
    rec = m["epochs"][0]
    assert rec["phase_time_s"] < 0.05 and "align_after_phase" not in rec  # no epoch phase
    assert rec["align"][0]["angle"] < m["init"]["align"][0]["angle"] - 0.5  # 2 phases ran
    # brSF's draw counter is in the checkpoint: an interrupted run resumes bit-exactly
    cfg = {**base, "algo": "brsf", "epochs": 2}
    full = T.train_run(cfg, tmp_path / "a")
    real = T._train_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        T.train_run(cfg, tmp_path / "b")
    monkeypatch.setattr(T, "_train_epoch", real)
    resumed = T.train_run(cfg, tmp_path / "b")
    assert [e["test_loss"] for e in full["epochs"]] == [e["test_loss"] for e in resumed["epochs"]]
