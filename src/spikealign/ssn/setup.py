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

Options of the paper's code (``stdp.*`` fields of the config):

* ``noise_layout: upstream``: the backward draw also fills the diagonal and the first
  super-diagonal ``(i, i+1)`` (upstream ``tril(k=1)``, quirk 11).
* ``rule_params: upstream``: both rules draw their noise with ``ws.noise`` and use ``ws.a_plus``
  as the base amplitude of both signs, and ``tau_minus`` as both widths (quirks 10 and 12).
* ``clip_amplitudes``: every amplitude is ``max(0, a + eta)`` (paper v3), so at sigma > 2/3
  some synapses get amplitude 0: no sleep learning (ws) or no SAL (sal) there.

Wake target: ``C_wake = C*`` (main branch) or, with ``target_scaling`` (paper v3),
``C_wake = C* F / t_ref`` with the sleep rule's per-synapse window area
``F = (A+ T+ + A- T-) / 2`` (:func:`window_area`), so that each synapse compares the target with
the sleep statistics measured through its own noisy kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..boltzmann import copy_triu, exact_distribution, moments
from ..stdp import Window, forward_backward, truncated_normal
from .config import SSNConfig


@dataclass
class Problem:
    """Everything fixed for a run: target, its exact moments, initial values and the rules."""

    W_target: np.ndarray
    b_target: np.ndarray
    target_distr: np.ndarray
    C_target: np.ndarray  # off-diagonal coactivations, zero diagonal
    m_target: np.ndarray  # marginals
    C_wake: np.ndarray  # what the gradient compares the sleep coactivation with
    W0: np.ndarray
    b0: np.ndarray
    ws_rule: Window
    sal_rule: Window


def draw_target(cfg: SSNConfig):
    rng = np.random.default_rng(cfg.seed.distr)  # type: ignore[union-attr]  # validated: set
    n = cfg.dim
    W = copy_triu(2.0 * rng.beta(cfg.distr.alpha, cfg.distr.beta, size=(n, n)) - 1.0)
    b = 2.0 * rng.beta(cfg.distr.alpha, cfg.distr.beta, size=n) - 1.0
    return W, b


def _noisy_amplitudes(rng, sigma: float, n: int, layout: str) -> np.ndarray:
    fwd = truncated_normal(rng, sigma, (n, n))
    bwd = truncated_normal(rng, sigma, (n, n))
    return forward_backward(fwd, bwd, layout=layout)


def window_area(rule: Window, n: int) -> np.ndarray:
    """Per-synapse area of a triangular window, ``F = (A+ T+ + A- T-) / 2`` (``(n, n)``).

    Upstream's ``STDPRuler.noised_correlation_factors``; only defined for the triangular
    kernel (the area of an exponential window is another formula, and upstream refuses it).
    """
    if rule.kind != "tri":
        raise ValueError(
            f"window_area: only the triangular window has this area (got {rule.kind!r})"
        )
    a_p, a_m, t_p, t_m = rule.matrices(n)
    return 0.5 * (a_p * t_p + a_m * t_m)


def make_rules(cfg: SSNConfig, rng: np.random.Generator) -> tuple[Window, Window]:
    """The sleep and SAL windows, drawing their four noise matrices from ``rng`` in the paper's
    order (ws forward, ws backward, sal forward, sal backward)."""
    n = cfg.dim
    st = cfg.stdp
    ws, sal = st.ws, st.sal
    upstream = st.rule_params == "upstream"
    sigma_sal = ws.noise if upstream else sal.noise
    eta_ws = _noisy_amplitudes(rng, ws.noise, n, st.noise_layout)
    eta_sal = _noisy_amplitudes(rng, sigma_sal, n, st.noise_layout)

    def amp(base, eta):
        a = base + eta
        return np.maximum(a, 0.0) if st.clip_amplitudes else a

    if upstream:
        ws_p = ws_m = amp(ws.a_plus, eta_ws)
        sal_p = sal_m = amp(ws.a_plus, eta_sal)
        ws_tau = (ws.tau_minus, ws.tau_minus)
        sal_tau = (sal.tau_minus, sal.tau_minus)
    else:
        ws_p, ws_m = amp(ws.a_plus, eta_ws), amp(ws.a_minus, eta_ws)
        sal_p, sal_m = amp(sal.a_plus, eta_sal), amp(sal.a_minus, eta_sal)
        ws_tau = (ws.tau_plus, ws.tau_minus)
        sal_tau = (sal.tau_plus, sal.tau_minus)
    ws_rule = Window("tri", ws_p, ws_m, *ws_tau)
    # anti-Hebbian: causal pairs depress, anti-causal pairs potentiate
    sal_rule = Window("tri", -sal_p, sal_m, *sal_tau)
    return ws_rule, sal_rule


def make_problem(cfg: SSNConfig) -> Problem:
    n = cfg.dim
    W_t, b_t = draw_target(cfg)
    probs, states = exact_distribution(W_t, b_t)
    marg, C = moments(probs, states)
    np.fill_diagonal(C, 0.0)

    rng = np.random.default_rng(cfg.seed.init)  # type: ignore[union-attr]  # validated: set
    W0 = copy_triu(rng.normal(0.0, cfg.weight_init, size=(n, n)))
    W0 = W0 + rng.normal(0.0, cfg.init_noise, size=(n, n))
    b0 = rng.normal(0.0, cfg.bias_init, size=n)

    ws_rule, sal_rule = make_rules(cfg, rng)
    C_wake = C * window_area(ws_rule, n) / cfg.t_ref if cfg.target_scaling else C
    return Problem(W_t, b_t, probs, C, marg, C_wake, W0, b0, ws_rule, sal_rule)
