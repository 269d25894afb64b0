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
the same generator (:func:`build_model`).
"""

from __future__ import annotations

import importlib
import math

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
    pooled = [s // 2 for s in input_shape]                 # after conv1 (padding 2) + pool
    pad2 = 0 if min(pooled) >= 10 else 2
    feat = [(p + 2 * pad2 - 4) // 2 for p in pooled]
    if min(feat) < 1:
        raise ValueError(f"lenet5 needs inputs of at least 4x4 pixels (got {input_shape})")
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=pad2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * feat[0] * feat[1], 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, n_classes))


MODELS = {"mlp": mlp, "lenet5": lenet5}


def resolve(spec: str):
    """The builder of ``--model spec`` (``convnet`` gives None); a bad spec raises
    ``ValueError`` naming ``model``."""
    if spec == "convnet":
        return None
    if spec in MODELS:
        return MODELS[spec]
    if ":" not in spec:
        raise ValueError(f"model: {spec!r} is not one of convnet, {', '.join(MODELS)} nor "
                         "module:function")
    mod, _, fn = spec.partition(":")
    try:
        module = importlib.import_module(mod)
    except ImportError as exc:
        raise ValueError(f"model: cannot import {mod!r} ({exc})") from None
    builder = getattr(module, fn, None)
    if not callable(builder):
        raise ValueError(f"model: {mod!r} has no function {fn!r}")
    return builder


def plan_for(algo: str) -> str | dict:
    """The :func:`convert` algo of a registry or user model for training algo ``algo``:
    every Linear / Conv2d layer with that rule (``scfa`` = ``frsf``), except ``bp_fa``
    (conv layers FA, linear layers exact)."""
    return "frsf" if algo == "scfa" else algo


def build_model(spec: str, algo: str, in_channels: int, input_shape, n_classes: int,
                generator: torch.Generator) -> nn.Module:
    """Model ``spec`` (module docstring) converted for training algo ``algo``."""
    builder = resolve(spec)
    if builder is None:
        from .convnet import ConvNet

        return ConvNet(algo, in_channels, tuple(input_shape), generator=generator)
    # not the init seed itself: the generator would then replay the weights as B
    build_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(build_seed)
        model = builder(in_channels, tuple(input_shape), n_classes)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: {spec} returned {type(model).__name__}, not a torch.nn.Module")
    if algo == "bp_fa":
        names = {n: ("fa" if isinstance(m, nn.Conv2d) else "bp")
                 for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}
        return convert_(model, names, generator=generator)
    return convert_(model, plan_for(algo), generator=generator)
