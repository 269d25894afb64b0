"""Issue 18, ``spikealign.deep.convert``: no silent wrong result. Converting a converted model,
tied weights in ``param_groups``, layers whose weight is not a plain Parameter, hooks of
converted layers, DFA's call order and output width, the aligner's chain and uSF's scale.
(``deep train --model`` failures: ``tests/test_deep_model_errors.py``.)"""

import math
import warnings
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from spikealign import deep  # noqa: E402
from spikealign.deep.conversion import (  # noqa: E402
    CONVERT_ALGOS,
    UnconvertibleError,
    convert_,
    converted_layers,
    param_groups,
)

torch.set_num_threads(1)
D64 = torch.float64
HYP = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _randn(*shape, seed=0, grad=False):
    x = torch.randn(*shape, dtype=D64, generator=torch.Generator().manual_seed(seed))
    return x.requires_grad_(grad)


# -- converting a converted model --------------------------------------------------------------


def _convmlp():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 6), nn.ReLU(), nn.Linear(6, 4)
    ).double()


class _Shared(nn.Module):
    """A layer used twice, a BatchNorm, a residual sum: the conversion walks all of it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.proj = nn.Linear(50, 6)
        self.shared = nn.Linear(6, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h = self.proj(torch.relu(self.bn(self.conv(x))).flatten(1))
        h = h + torch.tanh(self.shared(torch.tanh(self.shared(h))))
        return self.out(h)


MODELS = {"convmlp": (_convmlp, (1, 5, 5)), "shared": (lambda: _Shared().double(), (1, 5, 5))}


def _run(net, x_shape, steps=2):
    """Outputs, input gradients and parameter gradients of ``steps`` training batches."""
    out = []
    net.train()
    for k in range(steps):
        x = _randn(4, *x_shape, seed=10 + k, grad=True)
        net.zero_grad()
        y = net(x)
        (y * _randn(*y.shape, seed=20 + k)).sum().backward()
        out.append(
            (
                y.detach(),
                x.grad,
                {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None},
            )
        )
    return out


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("second", CONVERT_ALGOS)
@pytest.mark.parametrize("first", CONVERT_ALGOS)
def test_convert_twice_follows_the_second_algorithm(first, second, model):
    """convert(convert(m, a), b) learns exactly as convert(m, b): same layer types, feedback
    state, gradients; every layer reported converted with b, none 'kept'."""
    build, shape = MODELS[model]
    twice = deep.convert(deep.convert(build(), first, seed=1), second, seed=2)
    once = deep.convert(build(), second, seed=2)
    assert twice.conversion_report["converted"] == once.conversion_report["converted"]
    assert set(twice.conversion_report["converted"].values()) == {second}
    assert twice.conversion_report["kept"] == once.conversion_report["kept"]
    a, b = converted_layers(twice), converted_layers(once)
    assert {n: type(m) for n, m in a.items()} == {n: type(m) for n, m in b.items()}
    for (oa, ga, pa), (ob, gb, pb) in zip(_run(twice, shape), _run(once, shape), strict=True):
        assert torch.equal(oa, ob) and torch.equal(ga, gb)
        assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)
    sa, sb = twice.state_dict(), once.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    for n in a:
        assert torch.equal(a[n].effective_feedback(), b[n].effective_feedback()), n
    # a DFA model converted away keeps no hook of the old rule; one converted to DFA has one
    n_ctx = sum(type(h).__name__ == "DFAContext" for h in twice._forward_hooks.values())
    assert n_ctx == (1 if second == "dfa" else 0)


def test_convert_in_place_twice_and_partly():
    net = _convmlp()
    convert_(net, "kp", seed=0)
    convert_(net, "fa", seed=0)
    assert all(m.mode == "fa" for m in converted_layers(net).values())
    assert param_groups(net, 0.1)[0]["weight_decay"] == 0.0  # no KP group left
    # a partial reconversion leaves the other layers as they were and says so
    c = deep.convert(deep.convert(_convmlp(), "dfa", seed=0), "fa", layers=["3"], seed=0)
    assert c.conversion_report["converted"] == {"3": "fa"}
    assert c.conversion_report["skipped"] == ["0", "5"]
    assert c[5].mode == "dfa" and c[3].mode == "fa"
    x = _randn(3, 1, 5, 5, grad=True)
    y = c(x)
    y.sum().backward()  # DFA's hook still works
    assert c[5].fb_weight.shape == (4, 6)


# -- tied parameters -----------------------------------------------------------------------


class _Tied(nn.Module):
    """conv2 shares conv1's weight and bias; fc2 shares fc1's; fc3 shares only its weight."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2.weight, self.conv2.bias = self.conv1.weight, self.conv1.bias
        self.fc0 = nn.Linear(2 * 4 * 4, 5)
        self.fc1 = nn.Linear(5, 5)
        self.fc2 = nn.Linear(5, 5)
        self.fc2.weight, self.fc2.bias = self.fc1.weight, self.fc1.bias
        self.fc3 = nn.Linear(5, 5)
        self.fc3.weight = self.fc1.weight
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.relu(self.conv2(torch.relu(self.conv1(x)))).flatten(1)
        h = torch.tanh(self.fc0(h))
        h = torch.tanh(self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(h))))))
        return self.out(h)


TIED_PLANS = [
    *CONVERT_ALGOS,
    {
        "conv1": "kp",
        "conv2": "fa",
        "fc0": "kp",
        "fc1": "kp",
        "fc2": "fa",
        "fc3": "usf",
        "out": "kp",
    },
]


def _capture(layers):
    """Per call of each layer: its input and the gradient at its output (hooks)."""
    calls = []

    def hook(module, args, output):
        rec = {"m": module, "x": args[0].detach()}
        calls.append(rec)
        output.register_hook(lambda g: rec.__setitem__("g", g.detach()))

    handles = [m.register_forward_hook(hook) for m in layers]
    return calls, handles


@pytest.mark.parametrize(
    "plan", TIED_PLANS, ids=[str(p) if isinstance(p, str) else "mixed" for p in TIED_PLANS]
)
def test_tied_parameters_move_once_per_step(plan):
    net = deep.convert(_Tied().double(), plan, seed=0)
    assert net.fc2.weight is net.fc1.weight and net.conv2.bias is net.conv1.bias
    groups = param_groups(net, 0.01)
    listed = [id(p) for g in groups for p in g["params"]]
    assert len(listed) == len(set(listed))  # each parameter once
    trainable = {id(p) for p in net.parameters() if p.requires_grad}
    assert set(listed) == trainable
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    lr = 0.1
    opt = torch.optim.SGD(groups, lr=lr, momentum=0.9)
    calls, handles = _capture([net.conv1, net.conv2, net.fc1, net.fc2, net.fc3])
    x = _randn(3, 2, 4, 4, seed=5)
    opt.zero_grad()
    y = net(x)
    (y * _randn(*y.shape, seed=6)).sum().backward()
    for h in handles:
        h.remove()
    # the gradient of a tied weight, by hand: the sum over every use of g^T x
    hand = {}
    for rec in calls:
        m, xin, g = rec["m"], rec["x"], rec["g"]
        if isinstance(m, nn.Conv2d) or hasattr(m, "kernel_size"):
            gw = torch.nn.grad.conv2d_weight(xin, m.weight.shape, g, padding=1)
            gb = g.sum((0, 2, 3))
        else:
            gw, gb = g.T @ xin, g.sum(0)
        hand[id(m.weight)] = hand.get(id(m.weight), 0) + gw
        hand[id(m.bias)] = hand.get(id(m.bias), 0) + gb
    before = {id(p): p.detach().clone() for p in net.parameters()}
    grads = {id(p): p.grad.clone() for p in net.parameters() if p.grad is not None}
    opt.step()
    for name, p in net.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, before[id(p)]), name
            continue
        g = hand.get(id(p), grads[id(p)])
        assert torch.allclose(grads[id(p)], g, atol=1e-12), name
        want = before[id(p)] - lr * (g + decay[id(p)] * before[id(p)])
        assert torch.allclose(p.detach(), want, atol=1e-12), name


# -- layers whose weight is not a plain Parameter -------------------------------------------


def _legacy(fn, layer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(layer)


NORMS = {
    "weight_norm": lambda m: _legacy(torch.nn.utils.weight_norm, m),
    "spectral_norm": lambda m: _legacy(torch.nn.utils.spectral_norm, m),
    "param_weight_norm": torch.nn.utils.parametrizations.weight_norm,
    "param_spectral_norm": torch.nn.utils.parametrizations.spectral_norm,
    "param_custom": lambda m: (
        torch.nn.utils.parametrize.register_parametrization(m, "weight", _Double()) or m
    ),
}


class _Double(nn.Module):
    def forward(self, w):
        return 2 * w


def _with_norm(norm, conv):
    torch.manual_seed(0)
    inner = nn.Conv2d(1, 2, 3) if conv else nn.Linear(4, 4)
    layer = NORMS[norm](inner)
    if conv:
        return nn.Sequential(
            nn.Linear(5, 5), nn.Unflatten(1, (1, 5, 1)), nn.Sequential(nn.Identity(), layer)
        ), "2.1"
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(OrderedDict(enc=layer))), "2.enc"


@pytest.mark.parametrize("conv", [False, True], ids=["linear", "conv"])
@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize("how", ["convert", "convert_"])
def test_layers_with_computed_weights_are_refused_by_name(how, norm, conv):
    model, name = _with_norm(norm, conv)
    fn = deep.convert if how == "convert" else convert_
    with pytest.raises(UnconvertibleError) as err:
        fn(model, "fa", seed=0)
    msg = str(err.value)
    assert msg.startswith(f"convert: cannot convert {name} (") and "\n" not in msg
    assert " 0 (" not in msg and "parametrizations" not in msg


@pytest.mark.parametrize("norm", sorted(NORMS))
def test_computed_weights_kept_exact_with_strict_false(norm):
    """strict=False: the layer stays as it was (its weight keeps following weight_g/v or the
    parametrization), the others convert; convert (a copy) of the hook-based weight_norm,
    which torch cannot copy, is refused by name."""
    model, name = _with_norm(norm, conv=False)
    with pytest.warns(UserWarning, match=name.replace(".", r"\.")):
        c = convert_(model, "fa", seed=0, strict=False)
    assert list(converted_layers(c)) == ["0"]
    assert c.conversion_report["unconvertible"][0].startswith(f"{name} (")
    layer = c[2].enc
    w0 = layer.weight.detach().clone()
    opt = torch.optim.SGD(c.parameters(), lr=0.5)
    c(_randn(3, 4).float()).pow(2).sum().backward()
    opt.step()
    c(_randn(3, 4).float())  # the hook-based norms recompute on forward
    assert not torch.equal(layer.weight.detach(), w0)
    if norm == "weight_norm":
        model, name = _with_norm(norm, conv=False)
        with pytest.raises(UnconvertibleError, match=name.replace(".", r"\.")):
            deep.convert(model, "fa", strict=False)


# -- hooks of converted layers ---------------------------------------------------------------


HOOK_KINDS = ("forward_pre", "forward", "backward")


def _hooked(kind, conv, log):
    torch.manual_seed(4)
    layer = nn.Conv2d(1, 2, 3) if conv else nn.Linear(9, 4)
    if kind == "forward_pre":
        handle = layer.register_forward_pre_hook(
            lambda m, args: (log.append(type(m).__name__), (2 * args[0],))[1]
        )
    elif kind == "forward":
        handle = layer.register_forward_hook(
            lambda m, args, out: (log.append(type(m).__name__), out + 1)[1]
        )
    else:
        handle = layer.register_full_backward_hook(
            lambda m, gin, gout: log.append(type(m).__name__)
        )
    tail = [nn.Flatten(), nn.Linear(2 * 3 * 3, 3)] if conv else [nn.ReLU(), nn.Linear(4, 3)]
    return nn.Sequential(layer, *tail).double(), handle


@pytest.mark.parametrize("conv", [False, True], ids=["linear", "conv"])
@pytest.mark.parametrize("kind", HOOK_KINDS)
@pytest.mark.parametrize("algo", CONVERT_ALGOS)
def test_hooks_are_carried_over(algo, kind, conv):
    log: list = []
    model, _ = _hooked(kind, conv, log)
    shape = (2, 1, 5, 5) if conv else (2, 9)
    x = _randn(*shape, grad=True)
    ref = model(x)
    ref.sum().backward()
    log.clear()
    c = deep.convert(model, algo, seed=0)
    y = c(x)
    assert torch.allclose(y, ref)  # the hook still changes the forward pass
    y.sum().backward()
    assert log and all(name == type(c[0]).__name__ for name in log)
    # in place: the handle the user holds removes the hook from the converted layer
    log2: list = []
    model2, handle = _hooked(kind, conv, log2)
    c2 = convert_(model2, algo, seed=0)
    handle.remove()
    c2(x).sum().backward()
    assert log2 == []


# -- DFA: call order and output width --------------------------------------------------------


class _Ordered(nn.Module):
    """Linear layers ``l0 .. l{n-1}`` called in that order, defined (registered) in
    ``definition`` order; an unused ``aux`` layer registered last when ``aux`` is set."""

    def __init__(self, sizes, definition, aux=None):
        super().__init__()
        torch.manual_seed(7)
        layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False)]
        for i in definition:
            setattr(self, f"l{i}", layers[i])
        self.n = len(layers)
        if aux is not None:
            self.aux = nn.Linear(sizes[0], aux)

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"l{i}")(x)
            if i + 1 < self.n:
                x = torch.relu(x)
        return x


def _dfa_feedback(sizes, seed):
    g = torch.Generator().manual_seed(seed)
    return {
        f"l{i}": torch.rand(sizes[-1], n, generator=g, dtype=D64) - 0.5
        for i, n in enumerate(sizes[:-1])
    }


@HYP
@given(sizes=st.lists(st.integers(2, 7), min_size=3, max_size=5), perm_seed=st.integers(0, 10_000))
def test_dfa_call_order_not_definition_order(sizes, perm_seed):
    """The same layers defined in another order give the same gradients and the same
    effective feedback (pinv(D_next) D with D_next of the layer *called* next)."""
    n = len(sizes) - 1
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(perm_seed)).tolist()
    fb = _dfa_feedback(sizes, perm_seed)
    nets = [
        deep.convert(_Ordered(sizes, order).double(), "dfa", feedback=fb, seed=0)
        for order in (list(range(n)), perm)
    ]
    grads, effs = [], []
    for net in nets:
        x = _randn(4, sizes[0], seed=1, grad=True)
        y = net(x)
        (y * _randn(*y.shape, seed=2)).sum().backward()
        grads.append([x.grad] + [getattr(net, f"l{i}").weight.grad for i in range(n)])
        effs.append({f"l{i}": getattr(net, f"l{i}").effective_feedback() for i in range(n)})
    assert all(torch.allclose(a, b) for a, b in zip(*grads, strict=True))
    for i in range(n):
        want = fb[f"l{i}"] if i == n - 1 else torch.linalg.pinv(fb[f"l{i + 1}"]) @ fb[f"l{i}"]
        for eff in effs:
            assert torch.allclose(eff[f"l{i}"], want, atol=1e-10), (i, perm)
    a0, a1 = deep.alignment(nets[0]), deep.alignment(nets[1])
    assert a0.keys() == a1.keys()
    assert all(a0[k]["angle"] == pytest.approx(a1[k]["angle"], abs=1e-9) for k in a0)


def test_dfa_effective_feedback_before_the_first_forward_is_refused():
    net = deep.convert(_Ordered([4, 3, 2], [1, 0]).double(), "dfa", n_outputs=2, seed=0)
    with pytest.raises(RuntimeError, match="forward"):
        deep.alignment(net)
    net(_randn(2, 4))
    assert set(deep.alignment(net)) == {"l0", "l1"}


@HYP
@given(
    sizes=st.lists(st.integers(2, 7), min_size=2, max_size=4),
    aux=st.integers(1, 9),
    first=st.booleans(),
)
def test_dfa_n_outputs_from_the_output_shape(sizes, aux, first):
    """D has one row per model output, whatever Linear is defined last (an unused ``aux``
    layer of another width, or the output layer defined first)."""
    n = len(sizes) - 1
    order = list(range(n))[::-1] if first else list(range(n))
    net = deep.convert(_Ordered(sizes, order, aux=aux).double(), "dfa", seed=0)
    x = _randn(3, sizes[0], seed=4, grad=True)
    y = net(x)
    assert y.shape == (3, sizes[-1])
    e = _randn(*y.shape, seed=5)
    (y * e).sum().backward()
    for i in range(n):
        assert getattr(net, f"l{i}").fb_weight.shape == (sizes[-1], sizes[i])
    assert torch.allclose(x.grad, e @ net.l0.fb_weight)  # e D of the first layer
    # a state dict of a model that has run loads into a fresh conversion (D drawn or not)
    twin = deep.convert(_Ordered(sizes, order, aux=aux).double(), "dfa", seed=9)
    twin.load_state_dict(net.state_dict())
    assert torch.equal(twin.l0.fb_weight, net.l0.fb_weight)


def test_dfa_wrong_n_outputs_is_one_line():
    net = deep.convert(_Ordered([4, 3, 2], [0, 1]), "dfa", n_outputs=5, seed=0)
    with pytest.raises(ValueError, match=r"output has 2 features.*n_outputs=2") as err:
        net(torch.zeros(1, 4))
    assert "\n" not in str(err.value)


# -- the aligner: only free feedback matrices ------------------------------------------------


@pytest.mark.parametrize("chain", [None, ["0", "2"]], ids=["default", "explicit"])
@pytest.mark.parametrize("rule", ["frsf", "brsf", "usf", "dfa", "bp"])
@pytest.mark.parametrize("phase", ["sal", "rdd", "stdwi"])
def test_aligner_refuses_derived_feedback(phase, rule, chain):
    net = deep.convert(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)), rule, seed=0)
    with pytest.raises(ValueError) as err:
        deep.Aligner(net, phase, chain=chain, progress=False)
    msg = str(err.value)
    assert "0 (" in msg and "2 (" in msg and rule in msg and "\n" not in msg


def test_aligner_leaves_sign_concordant_layers_alone():
    net = deep.convert(
        nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)),
        {"0": "sal", "2": "frsf"},
        seed=0,
    )
    b0 = net[2].fb_weight.detach().clone()
    al = deep.Aligner(net, "sal", progress=False, n_iterations=1, len_epoch=20)
    assert al.names == ["0"]
    al.step()
    assert torch.equal(net[2].fb_weight, b0) and bool((net[2].fb_weight >= 0).all())
    kp = deep.convert(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)), "kp")
    assert deep.Aligner(kp, "rdd", progress=False).names == ["0", "2"]


# -- uSF: the scale of the weights' own initialisation ----------------------------------------


def _init(kind, w, g):
    with torch.no_grad():
        if kind == "torch":  # PyTorch's default: U(+-1/sqrt(fan_in))
            fan_in = math.prod(w.shape[1:])
            w.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=g)
            return 1 / math.sqrt(3 * fan_in)
        fan_in, fan_out = math.prod(w.shape[1:]), w.shape[0] * math.prod(w.shape[2:])
        if kind == "xavier":
            std = math.sqrt(2 / (fan_in + fan_out))
            w.uniform_(-math.sqrt(3) * std, math.sqrt(3) * std, generator=g)
            return std
        std = {"normal": 0.05, "kaiming": math.sqrt(2 / fan_in)}[kind]
        w.normal_(0, std, generator=g)
        return std


SHAPES = [(40, 30), (200, 100), (10, 300), (16, 8, 3, 3), (6, 3, 5, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("kind", ["torch", "xavier", "normal", "kaiming"])
def test_usf_scale_is_the_std_of_the_actual_init(kind, shape):
    layer = (
        nn.Linear(shape[1], shape[0])
        if len(shape) == 2
        else nn.Conv2d(shape[1], shape[0], shape[2])
    )
    std = _init(kind, layer.weight, torch.Generator().manual_seed(0))
    c = deep.convert(layer, "usf")
    W = c.weight.detach()
    s = float(c.effective_feedback().abs().max())
    assert torch.equal(c.effective_feedback(), torch.sign(W) * c.fb_scale)
    assert s == pytest.approx(float(W.double().pow(2).mean().sqrt()), rel=1e-6)
    # the rms of n draws estimates the std with relative error sqrt(var(w^2)) / (2 n^0.5 s^2):
    # uniform 0.45 / sqrt(n), normal 0.71 / sqrt(n); 5 of them
    n = W.numel()
    assert s == pytest.approx(std, rel=5 * 0.71 / math.sqrt(n))
    # the backward pass uses it
    x = (
        (_randn(2, shape[1], seed=1) if len(shape) == 2 else _randn(2, shape[1], 7, 7, seed=1))
        .float()
        .requires_grad_(True)
    )
    y = c(x)
    gy = torch.ones_like(y)
    y.backward(gy)
    if len(shape) == 2:
        assert torch.allclose(
            x.grad, gy @ (torch.sign(W) * std), rtol=5 * 0.71 / math.sqrt(n), atol=1e-6
        )


def test_usf_old_state_dict_keeps_the_scale_it_was_trained_with():
    c = deep.convert(nn.Linear(30, 20), "usf")
    state = {k: v for k, v in c.state_dict().items() if k != "fb_scale"}
    with pytest.warns(UserWarning, match="fb_scale"):
        c.load_state_dict(state)
    assert float(c.fb_scale) == pytest.approx(math.sqrt(2 / 50))
    twin = deep.convert(nn.Linear(30, 20), "usf")
    twin.load_state_dict(c.state_dict())
    assert float(twin.fb_scale) == pytest.approx(math.sqrt(2 / 50))
