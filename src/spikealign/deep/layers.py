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
``usf``    ``sign(W) * s``                  (none; ``s`` in buffer ``fb_scale``) none
``brsf``   ``|M| * sign(W)``                ``|M|``, redrawn every training    none
                                            forward (every batch)
``dfa``    ``e D`` (see below)              ``D``, shape ``(n_out, in)``       none
=========  ===============================  =================================  ===========

* ``kp`` (Kolen-Pollack; Akrout et al. 2019): ``B`` receives the same gradient as ``W``; with
  the same weight decay on both (:func:`spikealign.deep.conversion.param_groups`) ``B -> W``.
* ``usf`` (uniform sign-concordant, Liao et al. 2016): ``s`` is the root mean square of ``W``
  when the layer is built (:func:`usf_scale`): the standard deviation of the zero-mean
  initialisation the weights actually had. biotorch (Sanfiz and Akrout 2021) scales by the
  standard deviation of the initialisation it applies itself (Xavier: ``sqrt(2 / (fan_in +
  fan_out))``; PyTorch's default: ``1 / sqrt(3 fan_in)``); a converted layer keeps its own
  initialisation, so its scale follows that. ``s`` is stored in the state dict.
* ``brsf`` (batch-random sign-concordant): ``M ~ U(0, 1/sqrt(fan_in))`` redrawn at every
  forward in training mode, from a per-layer stream: draw ``k`` uses
  ``torch.Generator().manual_seed(seed + k)``; ``seed`` and ``k`` (``fb_draws``) are in the
  state dict, so a resumed run redraws the same magnitudes.
* ``dfa`` (direct feedback alignment, Nokland 2016), linear layers only: the input gradient is
  the *output error* ``e = dL/d(model output)`` projected by the fixed ``D`` of shape
  ``(n_outputs, in_features)``: ``grad_x = e D``; ``e`` is captured by a hook on the model
  output (:class:`DFAContext`). The layer below therefore receives ``(e D) * f'`` as its
  error, as in DFA. ``n_outputs`` is the width of the model's output; when it is not known at
  conversion, ``D`` is drawn (from a seed drawn at conversion) at the first forward pass,
  which shows it. ``effective_feedback()`` is weight-shaped (module ``conversion``):
  ``pinv(D_next) D`` for a hidden layer (``D_next`` of the DFA layer *called* after it in the
  last forward pass: a forward pre-hook on the model starts the record of the call order)
  and ``D`` for the last layer: the matrix that maps the error the layer receives to the
  gradient it sends down when that error is ``e D_next`` (exact before the nonlinearity).

Each rule is one custom :class:`torch.autograd.Function` (not a module backward hook);
:func:`effective` is the single definition of ``B_eff`` used by backward and by
:meth:`effective_feedback`. BP uses :class:`LinearBP` / :class:`Conv2dBP`
(:class:`torch.nn.Linear` / :class:`torch.nn.Conv2d` with ``effective_feedback() = W``).

Initialisation (as upstream): W and B independent, U(+-1/sqrt(fan_in)) (kaiming_uniform with
a = sqrt 5), bias U(+-1/sqrt(fan_in)), all drawn from an explicit ``torch.Generator``.
:meth:`from_layer` builds a feedback layer around an existing layer's parameters (the same
``Parameter`` objects, so weights and ties are preserved) without drawing anything; the new
layer takes over the old one's hooks (forward, forward pre-, backward and state-dict hooks:
the same hook dictionaries, so handles the user holds still remove them).
"""

from __future__ import annotations

import math
import warnings

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
    """uSF's magnitude: the root mean square of ``weight``, i.e. the standard deviation of the
    zero-mean initialisation it was drawn from (biotorch scales by the standard deviation of
    its initialisation, module docstring)."""
    with torch.no_grad():
        return float(weight.detach().double().pow(2).mean().sqrt())


def xavier_std(weight: torch.Tensor) -> float:
    """``sqrt(2 / (fan_in + fan_out))``: the uSF scale of state dicts saved before the scale
    followed the weights (what those runs were trained with)."""
    fi, fo = fans(weight)
    return math.sqrt(2.0 / float(fi + fo))


def take_hooks(obj: nn.Module, layer: nn.Module) -> None:
    """Give ``obj`` the hooks of ``layer`` (every ``*hook*`` attribute of ``nn.Module``: the
    same dictionaries, so the handles of ``layer``'s hooks remove them from ``obj`` too)."""
    for key, value in layer.__dict__.items():
        if "hook" in key:
            obj.__dict__[key] = value


def effective(mode: str, weight: torch.Tensor, fb_weight: torch.Tensor | None) -> torch.Tensor:
    """``B_eff`` of rule ``mode`` (module docstring) from ``W`` and ``fb_weight`` (uSF: the
    scale ``s``)."""
    if mode in ("fa", "kp"):
        return fb_weight
    if mode in ("scfa", "brsf"):
        return fb_weight * weight.sign()
    if mode == "usf":
        return weight.sign() * fb_weight
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
            if ctx.mode == "dfa":  # D is read now: drawn after the forward
                layer = ctx.dfa
                e = layer._dfa.error(len(g2))
                D = layer.fb_weight.detach()
                grad_x = (e.to(D.dtype) @ D).reshape(x.shape)
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

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.fb_weight = nn.Parameter(
            torch.empty(out_features, in_features), requires_grad=self.mode == "kp"
        )
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
        take_hooks(obj, layer)
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
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, rule={self.mode}"
        )


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


class _USFMixin:
    """uSF: no feedback matrix; the scale ``s`` (:func:`usf_scale` of ``W`` when the layer is
    built) is the 0-d buffer ``fb_scale``."""

    def _set_feedback(self, fb, **kw):
        self.fb_weight = None
        self.register_buffer(
            "fb_scale",
            torch.tensor(
                usf_scale(self.weight), dtype=self.weight.dtype, device=self.weight.device
            ),
        )

    def reset_parameters(self, generator: torch.Generator | None = None):
        fan_in = fans(self.weight)[0]
        _uniform_(self.weight, fan_in, generator)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, generator)
        self._set_feedback(None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "fb_scale"
        if key not in state_dict and prefix + "weight" in state_dict:
            # saved before the scale followed the weights: the scale it was trained with
            warnings.warn(
                f"uSF layer {prefix[:-1] or '(model)'}: state dict without fb_scale; "
                "using the scale of older versions, sqrt(2/(fan_in+fan_out))",
                stacklevel=2,
            )
            state_dict[key] = torch.tensor(xavier_std(self.weight), dtype=self.weight.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def effective_feedback(self) -> torch.Tensor:
        return effective(self.mode, self.weight, self.fb_scale).detach()


class LinearUSF(_USFMixin, LinearFA):
    """Uniform sign-concordant feedback: backward through ``sign(W) s``, ``s`` the root mean
    square of ``W`` at conversion (no stored feedback matrix)."""

    mode = "usf"

    def forward(self, x):
        return _LinearFeedback.apply(x, self.weight, self.bias, self.fb_scale, self.mode)


class LinearBRSF(_BRSFMixin, LinearFA):
    """Batch-random sign-concordant feedback: ``|M| * sign(W)``, ``M`` redrawn every batch."""

    mode = "brsf"

    def _set_feedback(self, fb, seed: int = 0, **kw):
        super()._set_feedback(fb)
        self._init_brsf(seed)

    def forward(self, x):
        self._maybe_redraw()
        return super().forward(x)


class FeedbackUndefined(RuntimeError):
    """A DFA layer has no weight-shaped effective feedback (it was not called, or the layers
    around it do not form a chain ending in the output); :func:`~.conversion.alignment`
    reports NaN for it."""


class DFAContext:
    """The DFA layers of one model: their call order, the output width ``n_outputs`` and the
    output error ``e`` of the last backward pass. Registered on the model as a forward hook
    (it hooks the output), with :class:`DFABegin` as forward pre-hook."""

    def __init__(self, n_outputs: int | None = None):
        self.e = None
        self.n_outputs = n_outputs
        self.layers: list = []  # the DFA layers using this context
        self.order: list | None = None  # DFA layers in the call order of the last forward
        self._recording: list = []

    def begin(self):
        self._recording = []

    def seen(self, layer):
        if not any(m is layer for m in self._recording):
            self._recording.append(layer)

    def __call__(self, module, args, output):
        self.order = list(self._recording)
        if not isinstance(output, torch.Tensor) or output.dim() == 0:
            return None
        width = int(output.shape[-1])
        if self.n_outputs is None:
            self.materialize(width)
        elif width != self.n_outputs:
            raise ValueError(
                f"dfa: the model's output has {width} features but D has "
                f"{self.n_outputs} rows (n_outputs={self.n_outputs}); convert "
                f"with n_outputs={width}"
            )
        if output.requires_grad:
            self.e = None
            output.register_hook(self._store)
        return None

    def materialize(self, n_outputs: int):
        """Draw ``D`` of every layer still waiting for the output width."""
        self.n_outputs = int(n_outputs)
        for layer in self.layers:
            layer._draw_d(self.n_outputs)

    def _store(self, grad):
        self.e = grad.detach().reshape(-1, grad.shape[-1])

    def error(self, n_rows: int) -> torch.Tensor:
        if self.e is None:
            raise RuntimeError(
                "dfa: no output error captured; DFA needs the backward pass to "
                "start from the converted model's output (a tensor)"
            )
        if self.e.shape[0] != n_rows:
            raise RuntimeError(
                f"dfa: output error has {self.e.shape[0]} rows, the layer "
                f"{n_rows}; DFA needs one output row per layer row (a chain "
                "of layers ending in the model output)"
            )
        return self.e


class DFABegin:
    """Forward pre-hook of a DFA model: starts recording the call order of its DFA layers."""

    def __init__(self, context: DFAContext):
        self.context = context

    def __call__(self, module, args):
        self.context.begin()
        return None


class LinearDFA(LinearFA):
    """Direct feedback alignment: ``grad_x = e D``, ``D`` (``fb_weight``) of shape
    ``(n_outputs, in_features)``, ``e`` the model's output error (module docstring)."""

    mode = "dfa"

    def _set_feedback(self, fb, context: DFAContext | None = None, seed: int = 0, **kw):
        """``fb``: ``D``; None: ``D`` is drawn from ``seed`` once the output width is known
        (until then ``fb_weight`` has 0 rows)."""
        if fb is None:
            fb = torch.empty(0, self.in_features, dtype=self.weight.dtype)
        self.fb_weight = nn.Parameter(
            fb.detach().to(self.weight.dtype).clone(), requires_grad=False
        )
        self._d_seed = int(seed)
        self._dfa = context

    def _draw_d(self, n_outputs: int):
        if self.fb_weight.shape[0] == 0:
            g = torch.Generator().manual_seed(self._d_seed)
            d = _uniform_(
                torch.empty(n_outputs, self.in_features, dtype=self.weight.dtype),
                self.in_features,
                g,
            )
            self.fb_weight.data = d.to(self.weight.device)  # the same Parameter object

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        d = state_dict.get(prefix + "fb_weight")
        if d is not None and self.fb_weight.shape[0] == 0 and d.shape[0] > 0:
            self.fb_weight.data = torch.empty(
                d.shape, dtype=self.fb_weight.dtype, device=self.fb_weight.device
            )
            if self._dfa is not None and self._dfa.n_outputs is None:
                self._dfa.n_outputs = int(d.shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x):
        if self._dfa is None:
            raise RuntimeError("LinearDFA: no DFAContext (build it with deep.convert)")
        self._dfa.seen(self)
        return _LinearFeedback.apply(x, self.weight, self.bias, self.fb_weight, self.mode, self)

    def effective_feedback(self) -> torch.Tensor:
        """Weight-shaped equivalent feedback: ``pinv(D_next) D`` with ``D_next`` of the DFA
        layer called after this one in the last forward pass, ``D`` for the last one."""
        D = self.fb_weight.detach()
        ctx = self._dfa
        if D.shape[0] == 0:
            raise RuntimeError(
                "dfa: D is not drawn yet: its rows are the model's outputs, "
                "known after the first forward pass (or convert with "
                "n_outputs=)"
            )
        order = ctx.order if ctx is not None else None
        if order is None:
            if ctx is not None and len(ctx.layers) == 1 and D.shape == self.weight.shape:
                return D  # the only DFA layer is the last
            raise RuntimeError(
                "dfa: effective feedback unknown until the model has run "
                "forward once (it depends on the call order of the DFA layers)"
            )
        idx = next((i for i, m in enumerate(order) if m is self), None)
        if idx is None:
            raise FeedbackUndefined(
                "dfa: no effective feedback: the layer was not called in the last forward pass"
            )
        if idx + 1 < len(order):
            nxt = order[idx + 1].fb_weight.detach()
            if nxt.shape[1] == self.out_features:
                return (torch.linalg.pinv(nxt.double()) @ D.double()).to(D.dtype)
            raise FeedbackUndefined(
                "dfa: no effective feedback: the DFA layer called after "
                "this one does not take its output"
            )
        if D.shape == self.weight.shape:
            return D
        raise FeedbackUndefined(
            "dfa: no effective feedback: the last DFA layer called does not give the model's output"
        )


class LinearBP(nn.Linear):
    """:class:`torch.nn.Linear` with the generator-driven initialisation of the FA layers."""

    mode = "bp"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ):
        self._generator = generator
        super().__init__(in_features, out_features, bias=bias)

    @classmethod
    def from_layer(cls, layer: nn.Linear, fb=None, **kw):
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj._generator = None
        obj.in_features, obj.out_features = layer.in_features, layer.out_features
        obj.weight, obj.bias = layer.weight, layer.bias
        take_hooks(obj, layer)
        return obj

    def reset_parameters(self):
        _uniform_(self.weight, self.in_features, self._generator)
        if self.bias is not None:
            _uniform_(self.bias, self.in_features, self._generator)

    def effective_feedback(self) -> torch.Tensor:
        return self.weight.detach()


def make_linear(
    kind: str, in_features: int, out_features: int, generator: torch.Generator | None = None
) -> nn.Module:
    """FC layer of kind ``bp`` | ``fa`` | ``kp`` | ``scfa``."""
    classes = {"bp": LinearBP, "fa": LinearFA, "kp": LinearKP, "scfa": LinearSCFA}
    if kind not in classes:
        raise ValueError(
            f"linear layer kind must be one of {', '.join(LINEAR_KINDS)} (got {kind!r})"
        )
    return classes[kind](in_features, out_features, generator=generator)


# -- convolution ---------------------------------------------------------------------------


class _Conv2dFAFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, x, weight, bias, fb_weight, stride, padding, dilation, groups, mode: str = "fa"
    ):
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

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ):
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
        take_hooks(obj, layer)
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
        return _Conv2dFAFunction.apply(
            x,
            self.weight,
            self.bias,
            self.fb_weight,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.mode,
        )

    def effective_feedback(self) -> torch.Tensor:
        """The kernel the input gradient is computed with (shape of ``weight``)."""
        return effective(self.mode, self.weight, self.fb_weight).detach()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, bias={self.bias is not None}, rule={self.mode}"
        )


class Conv2dKP(Conv2dFA):
    """Kolen-Pollack conv: ``B`` receives the same gradient as ``W``."""

    mode = "kp"


class Conv2dSCFA(Conv2dFA):
    """frSF conv: ``|B0| * sign(W)``; ``fb_weight`` holds ``|B0|``."""

    mode = "scfa"


class Conv2dUSF(_USFMixin, Conv2dFA):
    """uSF conv: ``sign(W) s``, ``s`` the root mean square of ``W`` at conversion."""

    mode = "usf"

    def forward(self, x):
        return _Conv2dFAFunction.apply(
            x,
            self.weight,
            self.bias,
            self.fb_scale,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.mode,
        )


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
    def from_layer(cls, layer: nn.Module, fb=None, **kw):
        """An exact conv around ``layer``'s ``weight`` / ``bias`` (a Conv2d or a converted
        conv with zero padding given as numbers) and its hooks; draws nothing."""
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj.in_channels, obj.out_channels = layer.in_channels, layer.out_channels
        obj.kernel_size = _pair(layer.kernel_size)
        obj.stride, obj.padding = _pair(layer.stride), _pair(layer.padding)
        obj.dilation, obj.groups = _pair(layer.dilation), layer.groups
        obj.transposed, obj.output_padding = False, (0, 0)
        obj.padding_mode = "zeros"
        obj._reversed_padding_repeated_twice = [p for p in reversed(obj.padding) for _ in (0, 1)]
        obj.weight, obj.bias = layer.weight, layer.bias
        take_hooks(obj, layer)
        obj._generator = None
        return obj

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
        _uniform_(self.weight, fan_in, self._generator)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, self._generator)

    def effective_feedback(self) -> torch.Tensor:
        return self.weight.detach()


def make_conv(
    fa: bool,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Conv layer without bias (as upstream): FA (:class:`Conv2dFA`) or exact BP."""
    cls = Conv2dFA if fa else Conv2dBP
    return cls(in_channels, out_channels, kernel_size, bias=False, generator=generator)


LINEAR_CLASSES = {
    "bp": LinearBP,
    "fa": LinearFA,
    "kp": LinearKP,
    "scfa": LinearSCFA,
    "usf": LinearUSF,
    "brsf": LinearBRSF,
    "dfa": LinearDFA,
}
CONV_CLASSES = {
    "bp": Conv2dBP,
    "fa": Conv2dFA,
    "kp": Conv2dKP,
    "scfa": Conv2dSCFA,
    "usf": Conv2dUSF,
    "brsf": Conv2dBRSF,
}
