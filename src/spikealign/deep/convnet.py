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

from .layers import make_conv, make_linear

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
}


def feature_size(insize: int) -> int:
    """Spatial size after two (conv 5x5 valid, max-pool 2/2) blocks."""
    for _ in range(2):
        insize = (insize - 5 + 1) // 2
    return insize


def fc_layer_sizes(input_shape: tuple[int, int]) -> list[int]:
    """``[F, 384, 192, 10]`` for an input of spatial shape ``input_shape``."""
    return [N_CHANNELS * math.prod(feature_size(s) for s in input_shape), *FC_SIZES]


class ConvNet(nn.Module):
    """Conv net of algorithm ``algo`` (module docstring) for ``in_channels x H x W`` inputs."""

    def __init__(self, algo: str, in_channels: int, input_shape: tuple[int, int],
                 generator: torch.Generator | None = None):
        super().__init__()
        if algo not in ALGO_LAYERS:
            raise ValueError(f"algo must be one of {', '.join(ALGO_LAYERS)} (got {algo!r})")
        conv_fa, fc_kind = ALGO_LAYERS[algo]
        self.algo = algo
        self.fc_kind = fc_kind
        self.sizes = fc_layer_sizes(input_shape)
        g = generator
        self.conv1 = make_conv(conv_fa, in_channels, N_CHANNELS, 5, generator=g)
        self.bn1 = nn.BatchNorm2d(N_CHANNELS)
        self.conv2 = make_conv(conv_fa, N_CHANNELS, N_CHANNELS, 5, generator=g)
        self.bn2 = nn.BatchNorm2d(N_CHANNELS)
        self.fc1 = make_linear(fc_kind, self.sizes[0], self.sizes[1], generator=g)
        self.bn3 = nn.BatchNorm1d(self.sizes[1])
        self.fc2 = make_linear(fc_kind, self.sizes[1], self.sizes[2], generator=g)
        self.bn4 = nn.BatchNorm1d(self.sizes[2])
        self.fc3 = make_linear(fc_kind, self.sizes[2], self.sizes[3], generator=g)

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
        backward pass uses (differs from ``fb_weight`` only for SCFA)."""
        out = []
        for layer in self.fc_layers:
            w = layer.weight.detach()
            if effective or not hasattr(layer, "fb_weight"):
                b = layer.effective_feedback()
            else:
                b = layer.fb_weight.detach()
            out.append((w, b))
        return out

    def param_groups(self, weight_decay: float) -> list[dict]:
        """SGD groups: for KP, fc weights and fc feedback weights with ``weight_decay``, the
        rest without (upstream); otherwise one group without weight decay. Frozen feedback
        weights are left out."""
        fc_w = [lay.weight for lay in self.fc_layers]
        fc_b = [lay.fb_weight for lay in self.fc_layers
                if hasattr(lay, "fb_weight") and lay.fb_weight.requires_grad]
        ids = {id(p) for p in fc_w + fc_b}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        if self.fc_kind == "kp":
            return [{"params": fc_w, "weight_decay": weight_decay},
                    {"params": fc_b, "weight_decay": weight_decay},
                    {"params": rest, "weight_decay": 0.0}]
        return [{"params": fc_w + fc_b + rest, "weight_decay": 0.0}]


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, double_softmax: bool = False,
            reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the logits; ``double_softmax`` feeds their softmax instead (upstream)."""
    if double_softmax:
        logits = torch.softmax(logits, dim=-1)
    return F.cross_entropy(logits, targets, reduction=reduction)
