"""Backward passes of the feedback layers against hand-computed gradients; the conv net."""

import pytest

torch = pytest.importorskip("torch")

from spikealign.deep.convnet import ConvNet, fc_layer_sizes, loss_fn  # noqa: E402
from spikealign.deep.layers import (  # noqa: E402
    Conv2dFA,
    LinearBP,
    LinearFA,
    LinearKP,
    LinearSCFA,
    make_linear,
)

torch.set_num_threads(1)


def _data(n_in=5, n_out=3, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(batch, n_out, generator=g, dtype=torch.float64)
    return x, gy, g


def _layer(cls, g, n_in=5, n_out=3):
    layer = cls(n_in, n_out, generator=g).double()
    return layer


@pytest.mark.parametrize("cls", [LinearFA, LinearKP, LinearSCFA])
def test_linear_feedback_gradients(cls):
    x, gy, g = _data()
    layer = _layer(cls, g)
    W, B = layer.weight.detach().clone(), layer.fb_weight.detach().clone()
    assert not torch.allclose(W, B)
    y = layer(x)
    assert torch.allclose(y, x @ W.T + layer.bias.detach())
    y.backward(gy)
    fb = B.abs() * torch.sign(W) if cls is LinearSCFA else B
    assert torch.allclose(x.grad, gy @ fb)  # FA: B; SCFA: |B| sign W
    assert torch.allclose(layer.weight.grad, gy.T @ x.detach())
    assert torch.allclose(layer.bias.grad, gy.sum(0))
    if cls is LinearKP:
        assert torch.allclose(layer.fb_weight.grad, gy.T @ x.detach())  # B gets W's gradient
    else:
        assert layer.fb_weight.grad is None  # B fixed
    if cls is LinearSCFA:
        assert (layer.fb_weight >= 0).all()


def test_bp_matches_nn_linear():
    x, gy, g = _data()
    layer = _layer(LinearBP, g)
    ref = torch.nn.Linear(5, 3).double()
    ref.load_state_dict(layer.state_dict())
    x2 = x.detach().clone().requires_grad_(True)
    layer(x).backward(gy)
    ref(x2).backward(gy)
    assert torch.allclose(x.grad, x2.grad)
    assert torch.allclose(layer.weight.grad, ref.weight.grad)
    assert torch.allclose(x.grad, gy @ layer.weight.detach())


def test_init_bounds_and_generator():
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a, b = make_linear("fa", 100, 7, g1), make_linear("fa", 100, 7, g2)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.fb_weight, b.fb_weight)
    assert a.weight.abs().max() <= 0.1 and a.fb_weight.abs().max() <= 0.1
    with pytest.raises(ValueError, match="linear layer kind"):
        make_linear("xx", 2, 2)


def test_conv2d_fa_backward():
    g = torch.Generator().manual_seed(3)
    conv = Conv2dFA(2, 4, 3, stride=1, padding=1, bias=True, generator=g).double()
    x = torch.randn(2, 2, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    gy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    y.backward(gy)
    # hand-computed: the input gradient of a conv with weights B is conv_transpose(gy, B)
    want_x = torch.nn.functional.conv_transpose2d(gy, conv.fb_weight.detach(), padding=1)
    assert torch.allclose(x.grad, want_x)
    xd = x.detach().requires_grad_(True)
    w = conv.weight.detach().clone().requires_grad_(True)
    torch.nn.functional.conv2d(xd, w, None, padding=1).backward(gy)
    assert torch.allclose(conv.weight.grad, w.grad)  # weight gradient exact
    assert torch.allclose(conv.bias.grad, gy.sum((0, 2, 3)))
    assert conv.fb_weight.grad is None


@pytest.mark.parametrize("algo", ["bp", "bp_fa", "fa", "kp", "scfa", "sal", "rdd"])
def test_convnet_variants(algo):
    net = ConvNet(algo, 1, (28, 28), generator=torch.Generator().manual_seed(0))
    assert net.sizes == [1024, 384, 192, 10] == fc_layer_sizes((28, 28))
    assert fc_layer_sizes((32, 32))[0] == 1600
    x = torch.randn(4, 1, 28, 28)
    out = net(x)
    assert out.shape == (4, 10)
    loss_fn(out, torch.tensor([0, 1, 2, 3])).backward()
    conv_fa = algo != "bp"
    assert isinstance(net.conv1, Conv2dFA) == conv_fa
    pairs = net.fc_pairs()
    if algo in ("bp", "bp_fa"):
        assert all(torch.equal(w, b) for w, b in pairs)
    groups = net.param_groups(0.001)
    if algo == "kp":
        assert [gr["weight_decay"] for gr in groups] == [0.001, 0.001, 0.0]
        assert len(groups[1]["params"]) == 3
    else:
        assert len(groups) == 1 and groups[0]["weight_decay"] == 0.0
        ids = {id(p) for p in groups[0]["params"]}
        assert all(id(f.fb_weight) not in ids for f in net.fc_layers if hasattr(f, "fb_weight"))


def test_double_softmax_loss():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    y = torch.tensor([0])
    plain = loss_fn(logits, y)
    double = loss_fn(logits, y, double_softmax=True)
    assert torch.isclose(plain, -torch.log_softmax(logits, 1)[0, 0])
    assert torch.isclose(double, -torch.log_softmax(torch.softmax(logits, 1), 1)[0, 0])
    assert double > plain
