"""The conv net of the benchmark (upstream ``symmnet.ConvNet``) and its algorithm variants.

conv1 (64, 5x5, no bias) -> ReLU -> BatchNorm2d -> MaxPool 2/2 -> conv2 (64, 5x5, no bias) ->
ReLU -> BatchNorm2d -> MaxPool 2/2 -> flatten (F) -> fc1 (F -> 384) -> ReLU -> BatchNorm1d ->
fc2 (384 -> 192) -> ReLU -> BatchNorm1d -> fc3 (192 -> 10).

F = 64 * 5 * 5 = 1600 for 32x32 inputs and 64 * 4 * 4 = 1024 for 28x28. :meth:`ConvNet.forward`
returns logits; :func:`loss_fn` applies cross-entropy to them, or, with
``double_softmax=True``, to their softmax as upstream does (``docs/deviations.md``).

========  ===========  ===========  ============================================
algo      conv layers  FC layers    B of the FC layers
========  ===========  ===========  ============================================
bp        exact        exact        none (alignment logged with B := W)
bp_fa     FA           exact        none
fa        FA           FA           fixed random
kp        FA           KP           learns with W's gradient (+ weight decay)
scfa      FA           SCFA         fixed |B0|, sign from W
sal       FA           FA           rewritten by SAL phases (:mod:`.salnet`)
rdd       FA           FA           rewritten by RDD phases (:mod:`.rdd`)
========  ===========  ===========  ============================================
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conversion import convert_, param_groups
from .layers import _uniform_

FC_SIZES = (384, 192, 10)
N_CHANNELS = 64

#: algo -> (conv layers use FA, FC layer kind)
ALGO_LAYERS = {
    "bp": (False, "bp"),
    "bp_fa": (True, "bp"),
    "fa": (True, "fa"),
    "kp": (True, "kp"),
    "scfa": (True, "scfa"),
    "sal": (True, "fa"),
    "rdd": (True, "fa"),
    "stdwi": (True, "fa"),
    "dfa": (True, "dfa"),
    "usf": (True, "usf"),
    "brsf": (True, "brsf"),
    "frsf": (True, "scfa"),
}
#: FC layer kind -> :func:`spikealign.deep.conversion.convert` algo
KIND_ALGO = {
    "bp": "bp",
    "fa": "fa",
    "kp": "kp",
    "scfa": "frsf",
    "dfa": "dfa",
    "usf": "usf",
    "brsf": "brsf",
}


def feature_size(insize: int) -> int:
    """Spatial size after two (conv 5x5 valid, max-pool 2/2) blocks."""
    for _ in range(2):
        insize = (insize - 5 + 1) // 2
    return insize


def fc_layer_sizes(input_shape: tuple[int, int]) -> list[int]:
    """``[F, 384, 192, 10]`` for an input of spatial shape ``input_shape``."""
    if min(feature_size(s) for s in input_shape) < 1:
        raise ValueError(
            f"the conv net needs inputs of at least 16x16 pixels (got "
            f"{input_shape[0]}x{input_shape[1]}); use --model mlp or lenet5"
        )
    return [N_CHANNELS * math.prod(feature_size(s) for s in input_shape), *FC_SIZES]


class ConvNet(nn.Module):
    """Conv net of algorithm ``algo`` (module docstring) for ``in_channels x H x W`` inputs.

    Built from plain :class:`torch.nn.Conv2d` / :class:`torch.nn.Linear` layers and converted
    in place by :func:`spikealign.deep.conversion.convert_` (conv layers ``fa`` or ``bp``, FC
    layers ``KIND_ALGO[fc_kind]``). Initialisation order from ``generator`` (unchanged since
    before the conversion API): per layer conv1, conv2, fc1, fc2, fc3: ``W``, then ``B`` when
    the layer gets a feedback matrix, then the bias (FC layers only), each U(+-1/sqrt(fan_in))
    (DFA's ``D``: (10, in), U(+-1/sqrt(in))); brSF layers draw their seeds afterwards.
    """

    def __init__(
        self,
        algo: str,
        in_channels: int,
        input_shape: tuple[int, int],
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if algo not in ALGO_LAYERS:
            raise ValueError(f"algo must be one of {', '.join(ALGO_LAYERS)} (got {algo!r})")
        conv_fa, fc_kind = ALGO_LAYERS[algo]
        self.algo = algo
        self.fc_kind = fc_kind
        self.sizes = fc_layer_sizes(input_shape)
        g = generator
        skip = torch.nn.utils.skip_init
        self.conv1 = skip(nn.Conv2d, in_channels, N_CHANNELS, 5, bias=False)
        self.bn1 = nn.BatchNorm2d(N_CHANNELS)
        self.conv2 = skip(nn.Conv2d, N_CHANNELS, N_CHANNELS, 5, bias=False)
        self.bn2 = nn.BatchNorm2d(N_CHANNELS)
        self.fc1 = skip(nn.Linear, self.sizes[0], self.sizes[1])
        self.bn3 = nn.BatchNorm1d(self.sizes[1])
        self.fc2 = skip(nn.Linear, self.sizes[1], self.sizes[2])
        self.bn4 = nn.BatchNorm1d(self.sizes[2])
        self.fc3 = skip(nn.Linear, self.sizes[2], self.sizes[3])
        plan = {"conv1": "fa" if conv_fa else "bp", "conv2": "fa" if conv_fa else "bp"}
        plan.update({f"fc{i}": KIND_ALGO[fc_kind] for i in (1, 2, 3)})
        feedback = {}
        n_out = self.sizes[-1]
        for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
            layer = getattr(self, name)
            fan_in = math.prod(layer.weight.shape[1:])
            _uniform_(layer.weight, fan_in, g)
            if plan[name] in ("fa", "kp", "frsf"):
                feedback[name] = _uniform_(torch.empty(layer.weight.shape), fan_in, g)
            elif plan[name] == "dfa":
                feedback[name] = _uniform_(torch.empty(n_out, fan_in), fan_in, g)
            if layer.bias is not None:
                _uniform_(layer.bias, fan_in, g)
        convert_(self, plan, generator=g, feedback=feedback, n_outputs=n_out)

    @property
    def fc_layers(self) -> list[nn.Module]:
        return [self.fc1, self.fc2, self.fc3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 2, 2)
        x = F.max_pool2d(self.bn2(F.relu(self.conv2(x))), 2, 2)
        x = x.flatten(1)
        x = self.bn3(F.relu(self.fc1(x)))
        x = self.bn4(F.relu(self.fc2(x)))
        return self.fc3(x)

    def fc_pairs(self, effective: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(W, B)`` of fc1..fc3. BP layers give ``B := W``. ``effective``: the matrix the
        backward pass uses (differs from ``fb_weight`` for SCFA / brSF, DFA, uSF)."""
        return fc_pairs(self.fc_layers, effective)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """SGD groups (:func:`spikealign.deep.conversion.param_groups`): for KP, fc weights and
        fc feedback weights with ``weight_decay``, the rest without (upstream); otherwise one
        group without weight decay. Frozen feedback weights are left out."""
        return param_groups(self, weight_decay)


def fc_pairs(layers, effective: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(W, B)`` of converted linear layers: ``fb_weight`` when it has W's shape and
    ``effective`` is False (upstream logs SCFA against ``|B0|``), else
    ``effective_feedback()``."""
    out = []
    for layer in layers:
        w = layer.weight.detach()
        fb = getattr(layer, "fb_weight", None)
        if effective or fb is None or fb.shape != w.shape:
            b = layer.effective_feedback()
        else:
            b = fb.detach()
        out.append((w, b))
    return out


def loss_fn(
    logits: torch.Tensor,
    targets: torch.Tensor,
    double_softmax: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy of the logits; ``double_softmax`` feeds their softmax instead (upstream)."""
    if double_softmax:
        logits = torch.softmax(logits, dim=-1)
    return F.cross_entropy(logits, targets, reduction=reduction)
