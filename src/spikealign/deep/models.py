"""Models of ``spikealign deep train --model``: a small registry and user models.

``--model NAME`` (``model`` in :class:`spikealign.deep.train.TrainConfig`):

* ``convnet``: the paper's conv net (:class:`spikealign.deep.convnet.ConvNet`; inputs of at
  least 16x16 pixels); the default;
* ``mlp``: flatten -> Linear(F, 256) -> ReLU -> Linear(256, 256) -> ReLU -> Linear(256, C);
* ``lenet5``: Conv2d(c, 6, 5, padding 2) -> ReLU -> MaxPool 2 -> Conv2d(6, 16, 5) -> ReLU ->
  MaxPool 2 -> flatten -> Linear(., 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, C)
  (LeNet-5 with ReLU and max pooling; the second conv gets padding 2 too when the pooled
  input is smaller than 10 pixels, e.g. for 8x8 digits: 16 x 2 x 2 features);
* ``package.module:function``: a user's own model, ``function(in_channels, input_shape,
  n_classes) -> torch.nn.Module`` (``input_shape = (H, W)``); the module must be importable
  (on ``PYTHONPATH``). Its ``nn.Linear`` / ``nn.Conv2d`` layers are converted with
  :func:`spikealign.deep.conversion.convert`; layers that cannot be converted are an error.

Every model but ``convnet`` is built with torch's global RNG forked and seeded with a seed
drawn first from the run's init generator (so its default initialisation is reproducible,
independent of the feedback matrices, and leaves the global state alone), then converted with
the same generator (:func:`build_model`; DFA with ``n_outputs = n_classes``).

:func:`build_model` checks every model before a run writes anything: a spec that names no
importable module or function, a module that fails to import, a builder that takes other
arguments, raises or returns no ``nn.Module``, layers that cannot be converted, and a model
that fails on one batch of zeros of the data set's shape (evaluation mode, no gradient) or
gives other than ``(batch, n_classes)`` outputs each raise a one-line ``ValueError`` starting
with ``model:``.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re

import torch
from torch import nn

from .conversion import convert_


def mlp(in_channels: int, input_shape, n_classes: int, hidden=(256, 256)) -> nn.Module:
    sizes = [in_channels * math.prod(input_shape), *hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], n_classes))
    return nn.Sequential(*layers)


def lenet5(in_channels: int, input_shape, n_classes: int) -> nn.Module:
    pooled = [s // 2 for s in input_shape]  # after conv1 (padding 2) + pool
    pad2 = 0 if min(pooled) >= 10 else 2
    feat = [(p + 2 * pad2 - 4) // 2 for p in pooled]
    if min(feat) < 1:
        raise ValueError(f"lenet5 needs inputs of at least 4x4 pixels (got {input_shape})")
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=pad2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * feat[0] * feat[1], 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, n_classes),
    )


MODELS = {"mlp": mlp, "lenet5": lenet5}
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def resolve(spec: str):
    """The builder of ``--model spec`` (``convnet`` gives None); a bad spec raises
    ``ValueError`` naming ``model``."""
    if spec == "convnet":
        return None
    if spec in MODELS:
        return MODELS[spec]
    if ":" not in spec:
        raise ValueError(
            f"model: {spec!r} is not one of convnet, {', '.join(MODELS)} nor "
            "package.module:function"
        )
    mod, _, fn = spec.partition(":")
    if not _DOTTED.fullmatch(mod):
        what = "no module name" if not mod else f"{mod!r} is not a module name"
        raise ValueError(
            f"model: {spec!r}: {what} before ':' (expected "
            "package.module:function, importable from PYTHONPATH)"
        )
    if not re.fullmatch(r"[A-Za-z_]\w*", fn):
        what = "no function name" if not fn else f"{fn!r} is not a function name"
        raise ValueError(f"model: {spec!r}: {what} after ':' (expected package.module:function)")
    try:
        module = importlib.import_module(mod)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's module is theirs
        raise ValueError(f"model: cannot import {mod!r}: {_first_line(exc)}") from None
    if not hasattr(module, fn):
        raise ValueError(f"model: {mod!r} has no function {fn!r}")
    builder = getattr(module, fn)
    if not callable(builder):
        raise ValueError(f"model: {mod}.{fn} is a {type(builder).__name__}, not a function")
    return builder


def probe(model: nn.Module, spec: str, in_channels: int, input_shape, n_classes: int) -> None:
    """Run one batch of zeros ``(2, in_channels, *input_shape)`` through ``model`` (evaluation
    mode, no gradient: no state changes) and check it gives ``(2, n_classes)`` outputs; a
    failure raises a one-line ``ValueError`` naming ``model``. A DFA model records the call
    order of its layers."""
    x = torch.zeros(2, in_channels, *input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # noqa: BLE001 - the user's forward pass, whatever it raises
        raise ValueError(
            f"model: {spec} fails on a batch of shape {tuple(x.shape)}: {_first_line(exc)}"
        ) from None
    finally:
        model.train(was_training)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != (2, n_classes):
        raise ValueError(
            f"model: {spec} gives outputs of shape {got} for a batch of shape "
            f"{tuple(x.shape)}; expected (2, {n_classes}): one logit per class"
        )


def plan_for(algo: str) -> str | dict:
    """The :func:`convert` algo of a registry or user model for training algo ``algo``:
    every Linear / Conv2d layer with that rule (``scfa`` = ``frsf``), except ``bp_fa``
    (conv layers FA, linear layers exact)."""
    return "frsf" if algo == "scfa" else algo


def build_model(
    spec: str, algo: str, in_channels: int, input_shape, n_classes: int, generator: torch.Generator
) -> nn.Module:
    """Model ``spec`` (module docstring) converted for training algo ``algo`` and checked on one
    batch (:func:`probe`); every failure is a one-line ``ValueError`` naming ``model``."""
    builder = resolve(spec)
    shape = tuple(input_shape)
    if builder is None:
        from .convnet import ConvNet

        try:
            model = ConvNet(algo, in_channels, shape, generator=generator)
        except ValueError as exc:
            raise ValueError(f"model: convnet: {exc}") from None
        probe(model, spec, in_channels, shape, n_classes)
        return model
    try:
        inspect.signature(builder).bind(in_channels, shape, n_classes)
    except TypeError as exc:
        raise ValueError(
            f"model: {spec} must take (in_channels, input_shape, n_classes) ({exc})"
        ) from None
    except ValueError:
        pass  # no signature to check (a builtin)
    # not the init seed itself: the generator would then replay the weights as B
    build_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(build_seed)
        try:
            model = builder(in_channels, shape, n_classes)
        except Exception as exc:  # noqa: BLE001 - the user's builder, whatever it raises
            raise ValueError(
                f"model: {spec}({in_channels}, {shape}, {n_classes}) raised {_first_line(exc)}"
            ) from None
        if not isinstance(model, nn.Module):
            raise ValueError(
                f"model: {spec} returned {type(model).__name__}, not a torch.nn.Module"
            )
        # the user's model as built (lazy layers take their shapes here, from the forked RNG)
        probe(model, spec, in_channels, shape, n_classes)
    if algo == "bp_fa":
        plan = {
            n: ("fa" if isinstance(m, nn.Conv2d) else "bp")
            for n, m in model.named_modules()
            if isinstance(m, nn.Linear | nn.Conv2d)
        }
    else:
        plan = plan_for(algo)
    try:
        model = convert_(model, plan, generator=generator, n_outputs=n_classes)
    except ValueError as exc:
        raise ValueError(f"model: {spec}: {exc}") from None
    probe(model, spec, in_channels, shape, n_classes)  # converted: DFA's call order
    return model
