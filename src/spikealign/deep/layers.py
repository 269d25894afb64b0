"""Linear and conv layers whose backward pass uses feedback weights ``B`` instead of ``W``.

Forward everywhere: ``y = x W^T + b`` (conv: ``y = conv2d(x, W) + b``), exactly as
:class:`torch.nn.Linear` / :class:`torch.nn.Conv2d`. With ``g = dL/dy`` the weight and bias
gradients are exact (``g^T x``, ``sum g``; conv: the exact conv weight gradient); the input
gradient is ``g B_eff`` (conv: ``conv2d_input(B_eff, g)``, i.e. ``conv_transpose2d(g, B_eff)``)
with the *effective feedback* ``B_eff`` of the rule (:meth:`effective_feedback`, shaped like
``W``); ``fb_weight`` is the stored feedback parameter:

=========  ===============================  =================================  ===========
mode       B_eff (input gradient g B_eff)   ``fb_weight``                      grad B
=========  ===============================  =================================  ===========
``fa``     ``B``                            B, fixed (or rewritten by SAL/RDD)  none
``kp``     ``B``                            B                                  ``g^T x``
``scfa``   ``|B0| * sign(W)`` (frSF)        ``|B0|``, fixed                    none
``usf``    ``sign(W) * s``                  (none)                             none
``brsf``   ``|M| * sign(W)``                ``|M|``, redrawn every training    none
                                            forward (every batch)
``dfa``    ``e D`` (see below)              ``D``, shape ``(n_out, in)``       none
=========  ===============================  =================================  ===========

* ``kp`` (Kolen-Pollack; Akrout et al. 2019): ``B`` receives the same gradient as ``W``; with
  the same weight decay on both (:func:`spikealign.deep.conversion.param_groups`) ``B -> W``.
* ``usf`` (uniform sign-concordant, Liao et al. 2016): ``s = sqrt(2 / (fan_in + fan_out))``,
  torch's fans (conv: channels times kernel size), as biotorch (Sanfiz and Akrout 2021).
* ``brsf`` (batch-random sign-concordant): ``M ~ U(0, 1/sqrt(fan_in))`` redrawn at every
  forward in training mode, from a per-layer stream: draw ``k`` uses
  ``torch.Generator().manual_seed(seed + k)``; ``seed`` and ``k`` (``fb_draws``) are in the
  state dict, so a resumed run redraws the same magnitudes.
* ``dfa`` (direct feedback alignment, Nokland 2016), linear layers only: the input gradient is
  the *output error* ``e = dL/d(model output)`` projected by the fixed ``D`` of shape
  ``(n_outputs, in_features)``: ``grad_x = e D``; ``e`` is captured by a hook on the model
  output (:class:`DFAContext`). The layer below therefore receives ``(e D) * f'`` as its
  error, as in DFA. ``effective_feedback()`` is weight-shaped (module ``conversion``):
  ``pinv(D_next) D`` for a hidden layer (``D_next`` of the converted layer that consumes its
  output) and ``D`` for the last layer: the matrix that maps the error the layer receives to
  the gradient it sends down when that error is ``e D_next`` (exact before the nonlinearity).

Each rule is one custom :class:`torch.autograd.Function` (not a module backward hook);
:func:`effective` is the single definition of ``B_eff`` used by backward and by
:meth:`effective_feedback`. BP uses :class:`LinearBP` / :class:`Conv2dBP`
(:class:`torch.nn.Linear` / :class:`torch.nn.Conv2d` with ``effective_feedback() = W``).

Initialisation (as upstream): W and B independent, U(+-1/sqrt(fan_in)) (kaiming_uniform with
a = sqrt 5), bias U(+-1/sqrt(fan_in)), all drawn from an explicit ``torch.Generator``.
:meth:`from_layer` builds a feedback layer around an existing layer's parameters (the same
``Parameter`` objects, so weights and ties are preserved) without drawing anything.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LINEAR_KINDS = ("bp", "fa", "kp", "scfa")
SIGN_MODES = ("scfa", "usf", "brsf")


def _uniform_(t: torch.Tensor, fan_in: int, generator: torch.Generator | None):
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=generator)
    return t


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a linear or conv weight (torch's definition)."""
    rf = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * rf, weight.shape[0] * rf


def usf_scale(weight: torch.Tensor) -> float:
    """uSF's magnitude ``sqrt(2 / (fan_in + fan_out))`` (biotorch's choice)."""
    fi, fo = fans(weight)
    return math.sqrt(2.0 / float(fi + fo))


def effective(mode: str, weight: torch.Tensor, fb_weight: torch.Tensor | None) -> torch.Tensor:
    """``B_eff`` of rule ``mode`` (module docstring) from ``W`` and ``fb_weight``."""
    if mode in ("fa", "kp"):
        return fb_weight
    if mode in ("scfa", "brsf"):
        return fb_weight * weight.sign()
    if mode == "usf":
        return weight.sign() * usf_scale(weight)
    if mode == "bp":
        return weight
    raise ValueError(f"no effective feedback for mode {mode!r}")


class _LinearFeedback(torch.autograd.Function):
    """Shared linear function; ``mode`` selects the backward rule (module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, fb_weight, mode: str, dfa=None):
        ctx.save_for_backward(x, weight, fb_weight)
        ctx.mode = mode
        ctx.dfa = dfa
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, fb_weight = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        grad_x = grad_w = grad_b = grad_fb = None
        if ctx.needs_input_grad[0]:
            if ctx.mode == "dfa":
                e = ctx.dfa.error(len(g2))
                grad_x = (e.to(fb_weight.dtype) @ fb_weight).reshape(x.shape)
            else:
                grad_x = (g2 @ effective(ctx.mode, weight, fb_weight)).reshape(x.shape)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            gw = g2.t() @ x2
            if ctx.needs_input_grad[1]:
                grad_w = gw
            if ctx.mode == "kp" and ctx.needs_input_grad[3]:
                grad_fb = gw.clone()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, grad_fb, None, None


class _BRSFMixin:
    """Batch-random magnitudes: ``fb_weight = |M|`` redrawn at every training forward."""

    def _init_brsf(self, seed: int):
        self.register_buffer("fb_seed", torch.tensor(int(seed), dtype=torch.int64))
        self.register_buffer("fb_draws", torch.tensor(0, dtype=torch.int64))

    def redraw(self):
        """Draw the next magnitudes ``|M| ~ U(0, 1/sqrt(fan_in))`` into ``fb_weight``."""
        g = torch.Generator().manual_seed(int(self.fb_seed) + int(self.fb_draws))
        m = torch.empty(self.weight.shape, dtype=self.fb_weight.dtype)
        m.uniform_(0.0, 1.0 / math.sqrt(fans(self.weight)[0]), generator=g)
        # a new tensor, not an in-place copy: a shared layer's earlier call keeps its draw
        self.fb_weight = nn.Parameter(m.to(self.weight.device), requires_grad=False)
        with torch.no_grad():
            self.fb_draws += 1

    def _maybe_redraw(self):
        if self.training and torch.is_grad_enabled():
            self.redraw()


class LinearFA(nn.Module):
    """Linear layer with feedback alignment: the input gradient uses the fixed ``fb_weight``."""

    mode = "fa"

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.fb_weight = nn.Parameter(torch.empty(out_features, in_features),
                                      requires_grad=self.mode == "kp")
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters(generator)

    @classmethod
    def from_layer(cls, layer: nn.Linear, fb: torch.Tensor | None, **kw):
        """A feedback layer around ``layer``'s own ``weight`` / ``bias`` parameters with
        feedback ``fb`` (copied; ``scfa``/``brsf`` store ``|fb|``). Draws nothing."""
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj.in_features, obj.out_features = layer.in_features, layer.out_features
        obj.weight = layer.weight
        obj.bias = layer.bias
        obj._set_feedback(fb, **kw)
        return obj

    def _set_feedback(self, fb, **kw):
        fb = fb.detach().to(self.weight.dtype).clone()
        if self.mode in SIGN_MODES:
            fb = fb.abs()
        self.fb_weight = nn.Parameter(fb, requires_grad=self.mode == "kp")

    def reset_parameters(self, generator: torch.Generator | None = None):
        _uniform_(self.weight, self.in_features, generator)
        _uniform_(self.fb_weight, self.in_features, generator)
        if self.bias is not None:
            _uniform_(self.bias, self.in_features, generator)

    def forward(self, x):
        return _LinearFeedback.apply(x, self.weight, self.bias, self.fb_weight, self.mode)

    def effective_feedback(self) -> torch.Tensor:
        """The matrix that multiplies the error in the backward pass (shape of ``weight``)."""
        return effective(self.mode, self.weight, self.fb_weight).detach()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}, rule={self.mode}"


class LinearKP(LinearFA):
    """Kolen-Pollack: ``B`` receives the same gradient as ``W``."""

    mode = "kp"


class LinearSCFA(LinearFA):
    """Sign-concordant FA with fixed random magnitudes (frSF): backward through
    ``|B0| * sign(W)``; ``fb_weight`` holds ``|B0|``."""

    mode = "scfa"

    def reset_parameters(self, generator: torch.Generator | None = None):
        super().reset_parameters(generator)
        with torch.no_grad():
            self.fb_weight.abs_()


class LinearUSF(LinearFA):
    """Uniform sign-concordant feedback: backward through ``sign(W) sqrt(2/(fan_in+fan_out))``
    (no stored feedback)."""

    mode = "usf"

    def _set_feedback(self, fb, **kw):
        self.fb_weight = None

    def forward(self, x):
        return _LinearFeedback.apply(x, self.weight, self.bias, self.weight, self.mode)


class LinearBRSF(_BRSFMixin, LinearFA):
    """Batch-random sign-concordant feedback: ``|M| * sign(W)``, ``M`` redrawn every batch."""

    mode = "brsf"

    def _set_feedback(self, fb, seed: int = 0, **kw):
        super()._set_feedback(fb)
        self._init_brsf(seed)

    def forward(self, x):
        self._maybe_redraw()
        return super().forward(x)


class DFAContext:
    """Holds the output error ``e`` of the last backward pass for the DFA layers of one model;
    :meth:`capture` is registered as a forward hook on the model (it hooks the output)."""

    def __init__(self):
        self.e = None
        self.order: list = []   # DFA layers in the order of the last forward

    def __call__(self, module, args, output):
        if isinstance(output, torch.Tensor) and output.requires_grad:
            self.e = None
            output.register_hook(self._store)
        return None

    def _store(self, grad):
        self.e = grad.detach().reshape(-1, grad.shape[-1])

    def error(self, n_rows: int) -> torch.Tensor:
        if self.e is None:
            raise RuntimeError("dfa: no output error captured; DFA needs the backward pass to "
                               "start from the converted model's output (a tensor)")
        if self.e.shape[0] != n_rows:
            raise RuntimeError(f"dfa: output error has {self.e.shape[0]} rows, the layer "
                               f"{n_rows}; DFA needs one output row per layer row (a chain "
                               "of layers ending in the model output)")
        return self.e

    def seen(self, layer):
        if layer not in self.order:
            self.order.append(layer)


class LinearDFA(LinearFA):
    """Direct feedback alignment: ``grad_x = e D``, ``D`` (``fb_weight``) of shape
    ``(n_outputs, in_features)``, ``e`` the model's output error (module docstring)."""

    mode = "dfa"

    def _set_feedback(self, fb, context: DFAContext | None = None, **kw):
        self.fb_weight = nn.Parameter(fb.detach().to(self.weight.dtype).clone(),
                                      requires_grad=False)
        self._dfa = context

    def forward(self, x):
        if self._dfa is None:
            raise RuntimeError("LinearDFA: no DFAContext (build it with deep.convert)")
        self._dfa.seen(self)
        return _LinearFeedback.apply(x, self.weight, self.bias, self.fb_weight, self.mode,
                                     self._dfa)

    def effective_feedback(self) -> torch.Tensor:
        """Weight-shaped equivalent feedback: ``pinv(D_next) D``, ``D`` for the last layer."""
        order = self._dfa.order if self._dfa is not None else []
        D = self.fb_weight.detach()
        if self in order and order.index(self) + 1 < len(order):
            nxt = order[order.index(self) + 1].fb_weight.detach()
            if nxt.shape[1] == self.out_features:
                return (torch.linalg.pinv(nxt.double()) @ D.double()).to(D.dtype)
        if D.shape == self.weight.shape:
            return D
        raise RuntimeError("LinearDFA.effective_feedback: the layer is not the last of its "
                           "chain and no next DFA layer of matching size was seen")


class LinearBP(nn.Linear):
    """:class:`torch.nn.Linear` with the generator-driven initialisation of the FA layers."""

    mode = "bp"

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: torch.Generator | None = None):
        self._generator = generator
        super().__init__(in_features, out_features, bias=bias)

    @classmethod
    def from_layer(cls, layer: nn.Linear, fb=None, **kw):
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj._generator = None
        obj.in_features, obj.out_features = layer.in_features, layer.out_features
        obj.weight, obj.bias = layer.weight, layer.bias
        return obj

    def reset_parameters(self):
        _uniform_(self.weight, self.in_features, self._generator)
        if self.bias is not None:
            _uniform_(self.bias, self.in_features, self._generator)

    def effective_feedback(self) -> torch.Tensor:
        return self.weight.detach()


def make_linear(kind: str, in_features: int, out_features: int,
                generator: torch.Generator | None = None) -> nn.Module:
    """FC layer of kind ``bp`` | ``fa`` | ``kp`` | ``scfa``."""
    classes = {"bp": LinearBP, "fa": LinearFA, "kp": LinearKP, "scfa": LinearSCFA}
    if kind not in classes:
        raise ValueError(f"linear layer kind must be one of {', '.join(LINEAR_KINDS)} "
                         f"(got {kind!r})")
    return classes[kind](in_features, out_features, generator=generator)


# -- convolution ---------------------------------------------------------------------------


class _Conv2dFAFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, fb_weight, stride, padding, dilation, groups,
                mode: str = "fa"):
        ctx.save_for_backward(x, weight, fb_weight)
        ctx.conf = (stride, padding, dilation, groups)
        ctx.mode = mode
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, fb_weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conf
        conv_bw = torch.ops.aten.convolution_backward
        common = (list(stride), list(padding), list(dilation), False, [0, 0], groups)
        grad_x = grad_w = grad_b = grad_fb = None
        if ctx.needs_input_grad[0]:
            fb = effective(ctx.mode, weight, fb_weight)
            grad_x = conv_bw(grad_out, x, fb, None, *common, [True, False, False])[0]
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            gw = conv_bw(grad_out, x, weight, None, *common, [False, True, False])[1]
            if ctx.needs_input_grad[1]:
                grad_w = gw
            if ctx.mode == "kp" and ctx.needs_input_grad[3]:
                grad_fb = gw.clone()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, grad_fb, None, None, None, None, None


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2dFA(nn.Module):
    """2-d convolution whose input gradient is ``conv2d_input(B_eff, grad_out)``
    (``B_eff = fb_weight`` for FA; other rules in the subclasses, module docstring)."""

    mode = "fa"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError("Conv2dFA: channels must be divisible by groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups = groups
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape))
        self.fb_weight = nn.Parameter(torch.empty(shape), requires_grad=self.mode == "kp")
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters(generator)

    @classmethod
    def from_layer(cls, layer: nn.Conv2d, fb: torch.Tensor | None, **kw):
        """A feedback conv around ``layer``'s own parameters (see :meth:`LinearFA.from_layer`);
        ``layer`` must use zero padding given as numbers."""
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj.in_channels, obj.out_channels = layer.in_channels, layer.out_channels
        obj.kernel_size = _pair(layer.kernel_size)
        obj.stride, obj.padding = _pair(layer.stride), _pair(layer.padding)
        obj.dilation, obj.groups = _pair(layer.dilation), layer.groups
        obj.weight, obj.bias = layer.weight, layer.bias
        obj._set_feedback(fb, **kw)
        return obj

    _set_feedback = LinearFA._set_feedback

    @property
    def fan_in(self) -> int:
        return self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]

    def reset_parameters(self, generator: torch.Generator | None = None):
        _uniform_(self.weight, self.fan_in, generator)
        _uniform_(self.fb_weight, self.fan_in, generator)
        if self.bias is not None:
            _uniform_(self.bias, self.fan_in, generator)
        if self.mode in SIGN_MODES:
            with torch.no_grad():
                self.fb_weight.abs_()

    def forward(self, x):
        return _Conv2dFAFunction.apply(x, self.weight, self.bias, self.fb_weight, self.stride,
                                       self.padding, self.dilation, self.groups, self.mode)

    def effective_feedback(self) -> torch.Tensor:
        """The kernel the input gradient is computed with (shape of ``weight``)."""
        return effective(self.mode, self.weight, self.fb_weight).detach()

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}, bias={self.bias is not None}, rule={self.mode}"


class Conv2dKP(Conv2dFA):
    """Kolen-Pollack conv: ``B`` receives the same gradient as ``W``."""

    mode = "kp"


class Conv2dSCFA(Conv2dFA):
    """frSF conv: ``|B0| * sign(W)``; ``fb_weight`` holds ``|B0|``."""

    mode = "scfa"


class Conv2dUSF(Conv2dFA):
    """uSF conv: ``sign(W) sqrt(2/(fan_in+fan_out))``."""

    mode = "usf"

    def _set_feedback(self, fb, **kw):
        self.fb_weight = None

    def forward(self, x):
        return _Conv2dFAFunction.apply(x, self.weight, self.bias, self.weight, self.stride,
                                       self.padding, self.dilation, self.groups, self.mode)


class Conv2dBRSF(_BRSFMixin, Conv2dFA):
    """brSF conv: ``|M| * sign(W)``, ``M`` redrawn every batch."""

    mode = "brsf"

    def _set_feedback(self, fb, seed: int = 0, **kw):
        LinearFA._set_feedback(self, fb)
        self._init_brsf(seed)

    def forward(self, x):
        self._maybe_redraw()
        return super().forward(x)


class Conv2dBP(nn.Conv2d):
    """:class:`torch.nn.Conv2d` with the generator-driven initialisation."""

    mode = "bp"

    def __init__(self, *args, generator: torch.Generator | None = None, **kwargs):
        self._generator = generator
        super().__init__(*args, **kwargs)

    @classmethod
    def from_layer(cls, layer: nn.Conv2d, fb=None, **kw):
        obj = cls.__new__(cls)
        obj.__dict__.update(layer.__dict__)
        obj._parameters = dict(layer._parameters)
        obj._buffers = dict(layer._buffers)
        obj._modules = dict(layer._modules)
        obj._forward_hooks = type(layer._forward_hooks)()
        obj._forward_pre_hooks = type(layer._forward_pre_hooks)()
        obj._backward_hooks = type(layer._backward_hooks)()
        obj._generator = None
        return obj

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
        _uniform_(self.weight, fan_in, self._generator)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, self._generator)

    def effective_feedback(self) -> torch.Tensor:
        return self.weight.detach()


def make_conv(fa: bool, in_channels: int, out_channels: int, kernel_size: int,
              generator: torch.Generator | None = None) -> nn.Module:
    """Conv layer without bias (as upstream): FA (:class:`Conv2dFA`) or exact BP."""
    cls = Conv2dFA if fa else Conv2dBP
    return cls(in_channels, out_channels, kernel_size, bias=False, generator=generator)


LINEAR_CLASSES = {"bp": LinearBP, "fa": LinearFA, "kp": LinearKP, "scfa": LinearSCFA,
                  "usf": LinearUSF, "brsf": LinearBRSF, "dfa": LinearDFA}
CONV_CLASSES = {"bp": Conv2dBP, "fa": Conv2dFA, "kp": Conv2dKP, "scfa": Conv2dSCFA,
                "usf": Conv2dUSF, "brsf": Conv2dBRSF}
