"""Weight-transport-free training for any PyTorch model: :func:`convert`, :func:`alignment`,
:func:`param_groups`.

``convert(model, algo)`` returns a deep copy of ``model`` (the original is untouched) whose
:class:`torch.nn.Linear` and :class:`torch.nn.Conv2d` layers learn with rule ``algo``; the
forward pass is unchanged (the converted layers keep the very ``weight`` / ``bias``
parameters of the copy). Every converted layer has ``effective_feedback()``: the matrix (conv:
kernel) its backward pass uses in place of ``W``, shaped like ``W``.

==========  =====================  ==================================================
algo        linear layers          conv layers
==========  =====================  ==================================================
``bp``      exact (LinearBP)       exact (Conv2dBP)
``fa``      FA, fixed random B     FA
``dfa``     DFA: ``grad_x = e D``  FA (DFA is defined here for linear layers only; biotorch's
                                   DFA also sends ``e`` to conv layers)
``usf``     sign(W) s              sign(W) s, ``s`` the root mean square of W at conversion
``brsf``    abs(M) sign(W)         abs(M) sign(W), ``M`` redrawn every batch
``frsf``    abs(B0) sign(W)        abs(B0) sign(W) (``scfa`` is a synonym)
``kp``      B learns like W        B learns like W (weight decay: :func:`param_groups`)
``sal``     FA, B set by SAL       FA (fixed); the :class:`~.aligner.Aligner` aligns
``rdd``     FA, B set by RDD       the chain of linear layers
``stdwi``   FA, B set by STDWI     FA
==========  =====================  ==================================================

``algo`` may also be a dict ``{qualified name: algo}`` (names as ``model.named_modules()``
gives them); layers it leaves out stay as they are (exact, or the rule of an earlier
conversion) and are listed under ``skipped``. ``layers`` (names or a predicate
``f(name, module) -> bool``) restricts a string ``algo`` the same way.

Converting a converted model converts its layers again: ``convert(convert(m, a), b)`` learns
with ``b`` exactly as ``convert(m, b)`` with the same generator (the earlier feedback state is
dropped; ``feedback=`` hands a matrix over explicitly).

Feedback initialisation: for each converted layer in ``named_modules()`` order (a shared
layer once, at its first name), ``B`` is drawn from ``generator`` (or
:func:`default_generator` ``(seed)``) as U(+-1/sqrt(fan_in)) with the shape of ``W``
(DFA: ``D`` of shape ``(n_outputs, in_features)``, U(+-1/sqrt(in_features))); ``frsf`` keeps
``|B|``; ``brsf`` draws one int64 seed for its per-batch stream instead; ``bp`` and ``usf``
draw nothing. ``feedback={name: tensor}`` gives a layer's initial ``B`` instead of drawing it.
``n_outputs`` (DFA) is the width of the model's output; left out, each DFA layer draws a
seed instead of ``D`` and ``D`` is drawn from it at the first forward pass, which shows the
width (a given ``feedback`` matrix fixes it too). A forward pre-hook on the model records the
call order of the DFA layers at every forward pass (``effective_feedback`` pairs a layer
with the one called after it).

Layers that hold parameters but cannot be converted (anything other than Linear / Conv2d
with zero padding, e.g. Conv1d, Bilinear, LSTM, MultiheadAttention, and a Linear / Conv2d
whose ``weight`` or ``bias`` is not a plain Parameter: the hook-based
``torch.nn.utils.weight_norm`` / ``spectral_norm``, or a parametrization) raise
:class:`UnconvertibleError` naming them; with ``strict=False`` they are kept exact, listed in
``model.conversion_report["unconvertible"]`` and announced by a warning. Normalisation layers
and embeddings (their backward transports no weight matrix) are kept exact and listed under
``kept``. Shared layers (one module object used at several places) stay shared. A converted
layer takes over the hooks of the layer it replaces (forward, forward pre-, backward and
state-dict hooks).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from . import align as _align
from .layers import (
    CONV_CLASSES,
    LINEAR_CLASSES,
    Conv2dBP,
    Conv2dFA,
    DFABegin,
    DFAContext,
    FeedbackUndefined,
    LinearBP,
    LinearDFA,
    LinearFA,
    _uniform_,
    fans,
)

CONVERT_ALGOS = ("bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "sal", "rdd", "stdwi")
SYNONYMS = {"scfa": "frsf"}
#: algo -> (linear layer mode, conv layer mode)
MODES = {
    "bp": ("bp", "bp"),
    "fa": ("fa", "fa"),
    "dfa": ("dfa", "fa"),
    "usf": ("usf", "usf"),
    "brsf": ("brsf", "brsf"),
    "frsf": ("scfa", "scfa"),
    "kp": ("kp", "kp"),
    "sal": ("fa", "fa"),
    "rdd": ("fa", "fa"),
    "stdwi": ("fa", "fa"),
}
#: layers kept exact on purpose: their backward transports no weight matrix
KEEP_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.Embedding, nn.PReLU)
FEEDBACK_TYPES = (LinearFA, LinearBP, Conv2dFA, Conv2dBP)
LINEAR_TYPES = (nn.Linear, *LINEAR_CLASSES.values())
CONV_TYPES = (nn.Conv2d, *CONV_CLASSES.values())
#: layer modes whose feedback is a free matrix that the spiking aligners may rewrite
FREE_MODES = ("fa", "kp")


class UnconvertibleError(ValueError):
    """The model holds layers with parameters that :func:`convert` cannot convert."""


def _canon(algo: str) -> str:
    algo = SYNONYMS.get(algo, algo)
    if algo not in CONVERT_ALGOS:
        raise ValueError(f"algo must be one of {', '.join(CONVERT_ALGOS)} (got {algo!r})")
    return algo


def default_generator(seed: int | None = None) -> torch.Generator:
    """The generator of ``convert(..., seed=seed)``: seeded with a 63-bit key derived from
    ``seed`` (default 0) by ``numpy.random.SeedSequence``, so that ``seed=s`` after
    ``torch.manual_seed(s)`` does not replay the model's own initial weights as ``B``."""
    import numpy as np

    key = np.random.SeedSequence([0 if seed is None else int(seed), 14]).generate_state(
        1, dtype=np.uint64
    )[0]
    return torch.Generator().manual_seed(int(key >> 1))


def is_converted(module: nn.Module) -> bool:
    return isinstance(module, FEEDBACK_TYPES) and hasattr(module, "effective_feedback")


def _numeric_padding(m: nn.Conv2d) -> tuple[int, ...] | None:
    """The zero padding of a Conv2d as numbers: ``"valid"`` is 0; ``"same"`` (stride 1) pads
    ``dilation (k - 1) / 2`` on each side, which is symmetric only when that total is even
    (an even kernel pads one more on the right: None, not convertible)."""
    if not isinstance(m.padding, str):
        return tuple(m.padding)
    if m.padding == "valid":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
    if any(t % 2 for t in total):
        return None
    return (total[0] // 2, total[1] // 2)


def _classify(m: nn.Module) -> tuple[str | None, str | None]:
    """``(kind, reason)``: kind ``"linear"`` / ``"conv"`` for a convertible layer (a plain or
    an already converted one), else None; ``reason`` says why a Linear / Conv2d cannot be."""
    from torch.nn.utils import parametrize

    if isinstance(m, nn.Linear | nn.Conv2d) and parametrize.is_parametrized(m):
        return None, "parametrized weight (weight_norm, spectral_norm, ...)"
    if type(m) in LINEAR_TYPES:
        kind = "linear"
    elif type(m) in CONV_TYPES:
        kind = "conv"
    else:
        return None, None
    for pname in ("weight", "bias"):
        if pname == "bias" and getattr(m, "bias", None) is None:
            continue
        if not isinstance(m._parameters.get(pname), nn.Parameter):
            return None, (
                f"{pname} is not a plain Parameter (hook-based weight_norm or spectral_norm?)"
            )
    if kind == "conv":
        conv = cast(nn.Conv2d, m)
        if getattr(conv, "padding_mode", "zeros") != "zeros" or _numeric_padding(conv) is None:
            return None, None
    return kind, None


def _own_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters(recurse=False))


def _plan(model: nn.Module, algo, layers) -> tuple[dict, dict]:
    """``({name: (module, algo, kind)}, report)`` over ``model.named_modules()``."""
    if isinstance(algo, dict):
        per = {k: _canon(v) for k, v in algo.items()}
        names = {n for n, _ in model.named_modules(remove_duplicate=False)}
        unknown = sorted(set(per) - names)
        if unknown:
            raise ValueError(f"convert: no layer named {', '.join(unknown)}")
    else:
        per = None
        algo = _canon(algo)
    if layers is not None and not callable(layers):
        wanted = set(layers)
        names = {n for n, _ in model.named_modules(remove_duplicate=False)}
        unknown = sorted(wanted - names)
        if unknown:
            raise ValueError(f"convert: layers names no layer {', '.join(unknown)}")
        layers = set(wanted)
    plan: dict[str, tuple[Any, Any, str]] = {}
    report: dict[str, Any] = {"converted": {}, "skipped": [], "kept": [], "unconvertible": []}
    seen = set()
    inside: list[str] = []  # refused layers: their own submodules are theirs
    for name, m in model.named_modules():
        if id(m) in seen or any(name.startswith(p) for p in inside):
            continue
        seen.add(id(m))
        kind, reason = _classify(m)
        if kind is None:
            if reason is not None:
                report["unconvertible"].append(f"{name} ({type(m).__name__}: {reason})")
                inside.append(f"{name}." if name else "")
            elif isinstance(m, KEEP_TYPES):
                if _own_params(m):
                    report["kept"].append(name)
            elif _own_params(m):
                report["unconvertible"].append(f"{name} ({type(m).__name__})")
            continue
        a = per.get(name) if per is not None else algo
        if a is not None and layers is not None:
            ok = layers(name, m) if callable(layers) else name in layers
            a = a if ok else None
        if a is None:
            report["skipped"].append(name)
            continue
        plan[name] = (m, a, kind)
    return plan, report


def _fb_shape(m, a, kind, n_outputs):
    if a == "dfa" and kind == "linear":
        return (n_outputs, m.in_features)
    return tuple(m.weight.shape)


def _refuse_unconvertible(report: dict, strict: bool, stacklevel: int) -> None:
    if not report["unconvertible"]:
        return
    msg = (
        f"convert: cannot convert {', '.join(report['unconvertible'])}: only "
        "nn.Linear and nn.Conv2d layers (zero padding, symmetric if 'same') with plain "
        "Parameters are converted"
    )
    if strict:
        raise UnconvertibleError(msg + "; pass strict=False to keep them exact")
    warnings.warn(msg + "; kept exact (strict=False)", stacklevel=stacklevel)


def _dfa_hook_context(hook):
    """The :class:`DFAContext` behind a forward (pre-)hook of a converted model, else None."""
    if isinstance(hook, DFAContext):
        return hook
    if isinstance(hook, DFABegin):
        return hook.context
    return None


def convert_(
    model: nn.Module,
    algo,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    layers=None,
    strict: bool = True,
    feedback: dict | None = None,
    n_outputs: int | None = None,
) -> nn.Module:
    """:func:`convert` in place (no copy); returns ``model``."""
    if generator is None:
        generator = default_generator(seed)
    plan, report = _plan(model, algo, layers)
    _refuse_unconvertible(report, strict, stacklevel=3)
    feedback = dict(feedback or {})
    context: Any = None  # the DFAContext shared by the model's DFA layers
    dfa_names = [n for n, (_, a, k) in plan.items() if a == "dfa" and k == "linear"]
    if dfa_names:
        planned = {id(m) for m, _, _ in plan.values()}
        # DFA layers of an earlier conversion that stay: the new ones join their context
        staying = [
            m
            for m in model.modules()
            if isinstance(m, LinearDFA) and id(m) not in planned and m._dfa is not None
        ]
        context = staying[0]._dfa if staying else DFAContext()
        given = [feedback[n] for n in dfa_names if n in feedback]
        if n_outputs is None:
            n_outputs = context.n_outputs
        if n_outputs is None and given:
            n_outputs = int(torch.as_tensor(given[0]).shape[0])
        if n_outputs is not None and (isinstance(n_outputs, bool) or int(n_outputs) < 1):
            raise ValueError(f"convert: n_outputs must be a positive integer (got {n_outputs!r})")
        if context.n_outputs is not None and n_outputs != context.n_outputs:
            raise ValueError(
                f"convert: n_outputs={n_outputs}, but the model's other DFA layers "
                f"have {context.n_outputs} rows"
            )
        context.n_outputs = None if n_outputs is None else int(n_outputs)
    new = {}
    for name, (m, a, kind) in plan.items():
        mode = MODES[a][0 if kind == "linear" else 1]
        cls: Any = (LINEAR_CLASSES if kind == "linear" else CONV_CLASSES)[mode]
        kw: dict[str, Any] = {}
        fb = None
        if mode == "brsf":
            kw["seed"] = int(torch.randint(0, 2**62, (1,), generator=generator))
            fb = torch.zeros_like(m.weight)
        elif mode == "dfa" and n_outputs is None:
            kw["seed"] = int(torch.randint(0, 2**62, (1,), generator=generator))
        elif mode not in ("bp", "usf"):
            shape = _fb_shape(m, a, kind, n_outputs)
            if name in feedback:
                fb = torch.as_tensor(feedback.pop(name))
                if tuple(fb.shape) != shape:
                    raise ValueError(
                        f"convert: feedback[{name!r}] has shape {tuple(fb.shape)}, expected {shape}"
                    )
            else:
                fb = torch.empty(shape, dtype=m.weight.dtype)
                _uniform_(fb, shape[1] if mode == "dfa" else fans(m.weight)[0], generator)
        if mode == "dfa":
            kw["context"] = context
        if kind == "conv" and isinstance(m.padding, str):
            m.padding = _numeric_padding(m)  # "valid" / symmetric "same"
        layer = cls.from_layer(m, fb, **kw)
        if fb is not None and hasattr(layer, "fb_weight") and layer.fb_weight is not None:
            layer.fb_weight.data = layer.fb_weight.data.to(m.weight.device)
        layer.train(m.training)
        layer.algo = a
        new[id(m)] = layer
        report["converted"][name] = a
    if feedback:
        raise ValueError(
            f"convert: feedback given for layers not converted: {', '.join(sorted(feedback))}"
        )
    for parent in model.modules():
        for child_name, child in list(parent._modules.items()):
            if child is not None and id(child) in new:
                parent._modules[child_name] = new[id(child)]
    model = new.get(id(model), model)  # the model is itself one layer
    dfa_layers = [m for m in model.modules() if isinstance(m, LinearDFA)]
    in_use = {id(m._dfa) for m in dfa_layers if m._dfa is not None}
    fresh = context is not None and not any(
        _dfa_hook_context(h) is context for h in model._forward_hooks.values()
    )
    for hooks in (model._forward_hooks, model._forward_pre_hooks):
        for key, hook in list(hooks.items()):  # the hooks of DFA layers converted away
            ctx = _dfa_hook_context(hook)
            if ctx is not None and id(ctx) not in in_use:
                del hooks[key]
    if context is not None:
        context.layers = [m for m in dfa_layers if m._dfa is context]
        context.order = None  # recorded again by the next forward pass
        if fresh:
            model.register_forward_pre_hook(DFABegin(context))
            model.register_forward_hook(context)
    model.conversion_report = report  # type: ignore[assignment]  # nn.Module types attributes
    return model


def convert(
    model: nn.Module,
    algo,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    layers: list[str] | Callable | None = None,
    strict: bool = True,
    feedback: dict | None = None,
    n_outputs: int | None = None,
) -> nn.Module:
    """A deep copy of ``model`` whose Linear / Conv2d layers learn with ``algo`` (module
    docstring); ``model`` itself is not modified. The copy has ``conversion_report``:
    ``{"converted": {name: algo}, "skipped": [...], "kept": [...], "unconvertible": [...]}``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert: model must be a torch.nn.Module (got {type(model).__name__})")
    _, report = _plan(model, algo, layers)  # refuse before copying
    if strict:
        _refuse_unconvertible(report, strict, stacklevel=3)
    try:
        twin = copy.deepcopy(model)
    except RuntimeError as exc:
        # the hook-based torch.nn.utils.weight_norm keeps a computed weight torch cannot copy
        hooked = [
            n
            for n, m in model.named_modules()
            if isinstance(m, nn.Linear | nn.Conv2d) and "weight" not in m._parameters
        ]
        what = ", ".join(hooked) if hooked else "the model"
        raise UnconvertibleError(
            f"convert: cannot copy {what}: {str(exc).splitlines()[0]} "
            "(remove torch.nn.utils.weight_norm first)"
        ) from None
    return convert_(
        twin,
        algo,
        generator=generator,
        seed=seed,
        layers=layers,
        strict=strict,
        feedback=feedback,
        n_outputs=n_outputs,
    )


def converted_layers(model: nn.Module) -> dict[str, nn.Module]:
    """``{qualified name: layer}`` of the converted layers (``named_modules`` order; a shared
    layer once, at its first name)."""
    return {n: m for n, m in model.named_modules() if is_converted(m)}


def linear_chain(model: nn.Module, names: list[str] | None = None) -> list[tuple[str, nn.Module]]:
    """The chain of converted linear layers the spiking aligners work on: ``names`` in that
    order, or every converted linear layer whose feedback is a free matrix (rules ``fa`` /
    ``kp``: algos fa, sal, rdd, stdwi, kp) in ``named_modules`` order. Layers whose feedback
    is derived from W (frSF, brSF, uSF), DFA layers and exact ones are refused by name.
    Consecutive sizes must match (``in_features`` of one layer = ``out_features`` of the one
    before)."""
    layers = dict(model.named_modules())

    def free(m):
        return isinstance(m, LinearFA) and getattr(m, "mode", None) in FREE_MODES

    def label(n, m):
        rule = getattr(m, "algo", getattr(m, "mode", None))
        return f"{n} ({rule})" if is_converted(m) else f"{n} (not converted)"

    if names is None:
        chain = [(n, m) for n, m in converted_layers(model).items() if free(m)]
        if not chain:
            other = [
                label(n, m) for n, m in converted_layers(model).items() if hasattr(m, "in_features")
            ]
            why = f"; {', '.join(other)} have no free feedback matrix" if other else ""
            raise ValueError(
                "chain: the model has no converted linear layer with a free "
                "feedback matrix (convert it with algo 'sal', 'rdd', 'stdwi', "
                f"'fa' or 'kp' first){why}"
            )
    else:
        missing = [n for n in names if n not in layers]
        if missing:
            raise ValueError(f"chain: no layer named {', '.join(missing)}")
        chain = [(n, layers[n]) for n in names]
        bad = [label(n, m) for n, m in chain if not free(m)]
        if bad:
            raise ValueError(
                f"chain: {', '.join(bad)} are not converted linear layers with a "
                "free feedback matrix (convert with fa, sal, rdd, stdwi or kp)"
            )
    for (n0, a), (n1, b) in zip(chain, chain[1:], strict=False):
        if b.in_features != a.out_features:
            raise ValueError(
                f"chain: {n1} takes {b.in_features} inputs but {n0} gives "
                f"{a.out_features}; pass the chain explicitly"
            )
    return chain


def alignment(model: nn.Module) -> dict[str, dict[str, float]]:
    """Per converted layer (qualified name), W against ``effective_feedback()``: ``angle``
    (degrees), ``corr`` (Pearson), ``sign`` and ``sign_agreement`` (mean sign(W) sign(B)) and
    ``var`` (variance of W - B); see :mod:`.align`. A model without converted layers gives
    an empty dict. A DFA layer without a weight-shaped equivalent (not called in the last
    forward pass, or not in a chain that ends in the output) gives NaN; before the first
    forward pass DFA layers raise ``RuntimeError`` (their call order is not known yet)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"alignment: model must be a torch.nn.Module (got {type(model).__name__})")
    out = {}
    layer: Any  # a converted layer: weight, effective_feedback()
    for name, layer in converted_layers(model).items():
        w = layer.weight.detach()
        try:
            b = layer.effective_feedback()
        except FeedbackUndefined:
            out[name] = dict.fromkeys(
                ("angle", "corr", "sign", "var", "sign_agreement"), float("nan")
            )
            continue
        a = _align.alignment(w, b)
        a["sign_agreement"] = a["sign"]
        out[name] = a
    return out


def _unique_trainable(params, taken: set) -> list:
    """``params`` that require a gradient, each once and none of ``taken`` (updated)."""
    out = []
    for p in params:
        if p is not None and p.requires_grad and id(p) not in taken:
            taken.add(id(p))
            out.append(p)
    return out


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """SGD parameter groups: the weights of KP layers and their feedback weights with
    ``weight_decay`` (two groups, in that order), every other trainable parameter without
    (Kolen-Pollack needs the same decay on W and B); frozen parameters are left out. Every
    parameter appears once (a weight tied between layers is stepped once). Without KP layers:
    one group without weight decay."""
    kp = [m for m in converted_layers(model).values() if getattr(m, "mode", "") == "kp"]
    taken: set = set()
    w = _unique_trainable((m.weight for m in kp), taken)
    b = _unique_trainable((m.fb_weight for m in kp), taken)
    rest = _unique_trainable(model.parameters(), taken)
    if kp:
        return [
            {"params": w, "weight_decay": weight_decay},
            {"params": b, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ]
    return [{"params": rest, "weight_decay": 0.0}]
