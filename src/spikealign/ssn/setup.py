"""Initial conditions of an SSN run: target, initial parameters and the (noisy) STDP rules.

Random draws follow the paper's ``train_bm.py`` order, so the same seeds give the same target
and initial values:

* ``Generator(PCG64(seed.distr))``: ``W* = copy_triu(2 Beta(a, b)[N x N] - 1)`` (symmetric,
  zero diagonal), then ``b* = 2 Beta(a, b)[N] - 1``.
* ``Generator(PCG64(seed.init))``: ``W0 = copy_triu(N(0, weight_init)[N x N]) +
  N(0, init_noise)[N x N]`` (the added full matrix is the asymmetric "synaptic noise"), then
  ``b0 = N(0, bias_init)[N]``, then four ``N x N`` truncated-normal matrices (redrawn to
  +-1.5 sigma): forward and backward amplitude noise of the sleep rule (sigma = ws.noise) and of
  the SAL rule (sigma = sal.noise).

Sleep ("ws") rule: triangular window with per-synapse amplitude ``a + eta_ij``, where
``eta_ij`` comes from the forward matrix for ``i < j`` and from the backward matrix for
``i > j``; one ``eta_ij`` serves both signs of dt. SAL rule: the same construction with its own
noise, causal side ``-(sal.a_plus + eta'_ij)``, anti-causal side ``+(sal.a_minus + eta'_ij)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..boltzmann import copy_triu, exact_distribution, moments
from ..stdp import Window, forward_backward, truncated_normal
from .config import RuleSection, SSNConfig


@dataclass
class Problem:
    """Everything fixed for a run: target, its exact moments, initial values and the rules."""

    W_target: np.ndarray
    b_target: np.ndarray
    target_distr: np.ndarray
    C_target: np.ndarray  # off-diagonal coactivations, zero diagonal
    m_target: np.ndarray  # marginals
    W0: np.ndarray
    b0: np.ndarray
    ws_rule: Window
    sal_rule: Window


def draw_target(cfg: SSNConfig):
    rng = np.random.default_rng(cfg.seed.distr)
    n = cfg.dim
    W = copy_triu(2.0 * rng.beta(cfg.distr.alpha, cfg.distr.beta, size=(n, n)) - 1.0)
    b = 2.0 * rng.beta(cfg.distr.alpha, cfg.distr.beta, size=n) - 1.0
    return W, b


def _noisy_amplitudes(rng, rule: RuleSection, n: int):
    fwd = truncated_normal(rng, rule.noise, (n, n))
    bwd = truncated_normal(rng, rule.noise, (n, n))
    return forward_backward(fwd, bwd)


def make_problem(cfg: SSNConfig) -> Problem:
    n = cfg.dim
    W_t, b_t = draw_target(cfg)
    probs, states = exact_distribution(W_t, b_t)
    marg, C = moments(probs, states)
    np.fill_diagonal(C, 0.0)

    rng = np.random.default_rng(cfg.seed.init)
    W0 = copy_triu(rng.normal(0.0, cfg.weight_init, size=(n, n)))
    W0 = W0 + rng.normal(0.0, cfg.init_noise, size=(n, n))
    b0 = rng.normal(0.0, cfg.bias_init, size=n)

    ws, sal = cfg.stdp.ws, cfg.stdp.sal
    eta_ws = _noisy_amplitudes(rng, ws, n)
    eta_sal = _noisy_amplitudes(rng, sal, n)
    ws_rule = Window("tri", ws.a_plus + eta_ws, ws.a_minus + eta_ws, ws.tau_plus, ws.tau_minus)
    sal_rule = Window("tri", -(sal.a_plus + eta_sal), sal.a_minus + eta_sal, sal.tau_plus,
                      sal.tau_minus)
    return Problem(W_t, b_t, probs, C, marg, W0, b0, ws_rule, sal_rule)
