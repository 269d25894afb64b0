"""Linear and conv layers whose backward pass uses feedback weights ``B`` instead of ``W``.

Forward everywhere: ``y = x W^T + b`` (conv: ``y = conv2d(x, W)``). ``B`` (``fb_weight``) has
the shape of ``W``. With ``g = dL/dy``:

============  ===================================  ===================  ====================
layer         input gradient                       grad W, grad b       grad B
============  ===================================  ===================  ====================
LinearFA      g B                                  g^T x, sum g         none (B fixed)
LinearKP      g B                                  g^T x, sum g         g^T x (as W)
LinearSCFA    g (|B0| * sign W)                    g^T x, sum g         none (|B0| fixed)
Conv2dFA      conv2d_input(B, g)                   exact                none (B fixed)
============  ===================================  ===================  ====================

Each is a custom :class:`torch.autograd.Function` (not a module backward hook). KP with
weight decay on W and B drives B to W (Kolen-Pollack; Akrout et al. 2019). BP uses
:class:`torch.nn.Linear`/:class:`torch.nn.Conv2d` (:func:`make_linear`, :func:`make_conv`).

Initialisation (as upstream): W and B independent, U(+-1/sqrt(fan_in)) (kaiming_uniform with
a = sqrt 5), bias U(+-1/sqrt(fan_in)), all drawn from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LINEAR_KINDS = ("bp", "fa", "kp", "scfa")


def _uniform_(t: torch.Tensor, fan_in: int, generator: torch.Generator | None):
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=generator)
    return t


class _LinearFeedback(torch.autograd.Function):
    """Shared linear function; ``mode`` selects the backward rule (module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, fb_weight, mode: str):
        ctx.save_for_backward(x, weight, fb_weight)
        ctx.mode = mode
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, fb_weight = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        grad_x = grad_w = grad_b = grad_fb = None
        if ctx.needs_input_grad[0]:
            fb = fb_weight * weight.sign() if ctx.mode == "scfa" else fb_weight
            grad_x = (g2 @ fb).reshape(x.shape)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            gw = g2.t() @ x2
            if ctx.needs_input_grad[1]:
                grad_w = gw
            if ctx.mode == "kp" and ctx.needs_input_grad[3]:
                grad_fb = gw.clone()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, grad_fb, None


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

    def reset_parameters(self, generator: torch.Generator | None = None):
        _uniform_(self.weight, self.in_features, generator)
        _uniform_(self.fb_weight, self.in_features, generator)
        if self.bias is not None:
            _uniform_(self.bias, self.in_features, generator)

    def forward(self, x):
        return _LinearFeedback.apply(x, self.weight, self.bias, self.fb_weight, self.mode)

    def effective_feedback(self) -> torch.Tensor:
        """The matrix that multiplies the error in the backward pass."""
        return self.fb_weight.detach()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class LinearKP(LinearFA):
    """Kolen-Pollack: ``B`` receives the same gradient as ``W``."""

    mode = "kp"


class LinearSCFA(LinearFA):
    """Sign-concordant FA: backward through ``|B0| * sign(W)``; ``fb_weight`` holds ``|B0|``."""

    mode = "scfa"

    def reset_parameters(self, generator: torch.Generator | None = None):
        super().reset_parameters(generator)
        with torch.no_grad():
            self.fb_weight.abs_()

    def effective_feedback(self) -> torch.Tensor:
        return (self.fb_weight * self.weight.sign()).detach()


class LinearBP(nn.Linear):
    """:class:`torch.nn.Linear` with the generator-driven initialisation of the FA layers."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: torch.Generator | None = None):
        self._generator = generator
        super().__init__(in_features, out_features, bias=bias)

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
    def forward(ctx, x, weight, bias, fb_weight, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight, fb_weight)
        ctx.conf = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, fb_weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conf
        conv_bw = torch.ops.aten.convolution_backward
        common = (list(stride), list(padding), list(dilation), False, [0, 0], groups)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = conv_bw(grad_out, x, fb_weight, None, *common, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            grad_w = conv_bw(grad_out, x, weight, None, *common, [False, True, False])[1]
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2dFA(nn.Module):
    """2-d convolution whose input gradient is ``conv2d_input(fb_weight, grad_out)``."""

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
        self.fb_weight = nn.Parameter(torch.empty(shape), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters(generator)

    @property
    def fan_in(self) -> int:
        return self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]

    def reset_parameters(self, generator: torch.Generator | None = None):
        _uniform_(self.weight, self.fan_in, generator)
        _uniform_(self.fb_weight, self.fan_in, generator)
        if self.bias is not None:
            _uniform_(self.bias, self.fan_in, generator)

    def forward(self, x):
        return _Conv2dFAFunction.apply(x, self.weight, self.bias, self.fb_weight, self.stride,
                                       self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}, bias={self.bias is not None}"


class Conv2dBP(nn.Conv2d):
    """:class:`torch.nn.Conv2d` with the generator-driven initialisation."""

    def __init__(self, *args, generator: torch.Generator | None = None, **kwargs):
        self._generator = generator
        super().__init__(*args, **kwargs)

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
        _uniform_(self.weight, fan_in, self._generator)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, self._generator)


def make_conv(fa: bool, in_channels: int, out_channels: int, kernel_size: int,
              generator: torch.Generator | None = None) -> nn.Module:
    """Conv layer without bias (as upstream): FA (:class:`Conv2dFA`) or exact BP."""
    cls = Conv2dFA if fa else Conv2dBP
    return cls(in_channels, out_channels, kernel_size, bias=False, generator=generator)
