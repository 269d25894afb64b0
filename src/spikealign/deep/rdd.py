"""RDD: regression-discontinuity estimates of feedback weights (Guerguiev et al. 2020), as in
upstream ``symmnet.rdd_layers`` / ``rdd_net`` and ``main_salnet.train_rdd``.

Layers ``0..D-1`` of leaky neurons (dt = 1 ms; times in steps). Per step, in layer order (a
layer sees the spikes its lower neighbour emitted in the same step):

* basal input ``Bas = alpha * (drive (x) kappa)`` when the layer is driven, else
  ``W' (f_hist (x) kappa)`` from the layer below, else 0; ``(x) kappa`` filters a 30-step
  history with ``kappa(a) = (e^{-a/10} - e^{-a/3}) / 7``, ``a = 1..30`` steps ago;
  ``W' = 0.2 * fan_in * W / std(W)``;
* ``v += dt (-g_L v + g_D (Bas - v))``; spike if ``v >= 1`` and not refractory, then
  ``v = -1`` and 3 refractory steps. ``u`` follows the same ODE without reset and is reset to
  ``v`` outside RDD windows;
* a 30-step RDD window opens when ``|1 - u| <= 0.1``; inside it the neuron tracks ``max u``,
  counts its spikes and sums the feedback ``q = b_hist (x) kappa`` (upper layer) into ``R``;
  ``R_pre`` is ``q`` at the last step before the window;
* at a window's end, if the layer is driven and ``|max u - 1| <= 10``: with
  ``err = c_a max_u + c_b - (R / 30 - R_pre)``, ``c_a -= eta err max_u``, ``c_b -= eta err``
  where ``(a, b) = (2, 0)`` if it spiked in the window, else ``(3, 1)``;
  ``beta = (c_2 + c_0) - (c_3 + c_1)`` (the jump of the two fits at threshold 1);
* feedback update: ``B[beta != 0] = beta * std(B_first) / std(beta[beta != 0])``, with
  ``std(B_first)`` recorded when ``B`` is first set.

``B_l`` has shape ``(n_l, n_{l+1})``; it estimates ``W_{l+1}^T``. A training phase
(:func:`rdd_phase`) drives layer 0, 1, 2, ... for equal thirds of ``steps`` with Poisson input
(rate 0.2 per step) on a random 20 % of each layer's units, re-chosen every 100 steps, and
updates ``B`` every 10,000 steps. The per-neuron dynamics run in one compiled loop per layer
(numba); the forward matvecs use BLAS. All state is float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DT = 1.0e-3
V_RESET = -1.0
THRESHOLD = 1.0
REFRACTORY = 3
U_WINDOW = 10.0
TAU_S = 3.0
TAU_L = 10.0
MEM = 30
RDD_WINDOW = 30
RDD_INIT_WINDOW = 0.1
INPUT_RATE = 0.2
ALPHA = 4.0
G_L = 0.1 / DT
G_D = 0.6 / DT
RDD_ETA = 1.0e-3
UPDATE_EVERY = 10_000
RESAMPLE_EVERY = 100
DRIVE_FRACTION = 0.2


def kappa(a) -> np.ndarray:
    """``kappa(a) = (e^{-a/tau_L} - e^{-a/tau_s}) / (tau_L - tau_s)`` (steps)."""
    a = np.asarray(a, dtype=float)
    return (np.exp(-a / TAU_L) - np.exp(-a / TAU_S)) / (TAU_L - TAU_S)


#: KR[p, j]: kappa of ring slot j when the next write goes to slot p (slot p-1 is 1 step ago)
_KR = np.array([[kappa(((p - 1 - j) % MEM) + 1) for j in range(MEM)] for p in range(MEM)])


@njit(cache=True)
def _layer_step(
    bas, q, has_rdd, driven, v, refr, fired, u, left, R, R_pre, n_spk, max_u, P, beta
):  # pragma: no cover - compiled
    n = v.shape[0]
    nb = R.shape[1]
    for i in range(n):
        ending = False
        if has_rdd:
            ending = left[i] == 1
            if left[i] > 0 and u[i] > max_u[i]:
                max_u[i] = u[i]
        if refr[i] > 0:
            refr[i] -= 1
        v[i] += DT * (-G_L * v[i] + G_D * (bas[i] - v[i]))
        left0 = 0
        if has_rdd:
            u[i] += DT * (-G_L * u[i] + G_D * (bas[i] - u[i]))
            left0 = left[i]
            if left0 > 0:
                for j in range(nb):
                    R[i, j] += q[j]
        f = v[i] >= THRESHOLD and refr[i] <= 0
        fired[i] = f
        if f:
            v[i] = V_RESET
            refr[i] = REFRACTORY
        if not has_rdd:
            continue
        if driven and ending and abs(max_u[i] - THRESHOLD) <= U_WINDOW:
            a, c = (2, 0) if n_spk[i] >= 1 else (3, 1)
            mu = max_u[i]
            for j in range(nb):
                err = P[i, a, j] * mu + P[i, c, j] - (R[i, j] / RDD_WINDOW - R_pre[i, j])
                P[i, a, j] -= RDD_ETA * err * mu
                P[i, c, j] -= RDD_ETA * err
                beta[i, j] = (
                    P[i, 2, j] * THRESHOLD + P[i, 0, j] - (P[i, 3, j] * THRESHOLD + P[i, 1, j])
                )
        if left[i] > 0:
            left[i] -= 1
        if left[i] == 0:
            u[i] = v[i]
            if abs(THRESHOLD - u[i]) <= RDD_INIT_WINDOW:
                left[i] = RDD_WINDOW
                if left0 == 0:
                    # upstream writes R_pre = q in every step outside a window; only the
                    # value at a window's opening step is ever read
                    for j in range(nb):
                        R_pre[i, j] = q[j]
        if left[i] > 0 and f:
            n_spk[i] += 1
        if ending:
            n_spk[i] = 0
            max_u[i] = 0.0
            for j in range(nb):
                R[i, j] = 0.0


class _History:
    """Ring of the last 30 values per unit; :meth:`filtered` is ``sum_a kappa(a) x(t-a+1)``."""

    def __init__(self, n: int):
        self.ring = np.zeros((n, MEM))
        self.ptr = 0

    def push(self, x):
        self.ring[:, self.ptr] = x
        self.ptr = (self.ptr + 1) % MEM

    def filtered(self) -> np.ndarray:
        return self.ring @ _KR[self.ptr]


class RDDLayer:
    def __init__(self, size: int, f_in: int | None = None, b_in: int | None = None):
        self.size, self.f_in, self.b_in = size, f_in, b_in
        self.rdd = b_in is not None
        nb = b_in if self.rdd else 0
        self.weight = None  # scaled forward weights (size, f_in)
        self.fb_weight = np.zeros((size, nb))
        self.fb_std = None
        self.P = np.zeros((size, 4, nb))
        self.beta = np.zeros((size, nb))
        self.reset()

    def reset(self):
        """Zero the dynamic state and B (upstream); regression coefficients and beta persist."""
        n, nb = self.size, self.b_in or 0
        self.v = np.full(n, V_RESET)
        self.refr = np.zeros(n, dtype=np.int64)
        self.fired = np.zeros(n, dtype=np.bool_)
        self.hist = _History(n)
        self.u = np.full(n, V_RESET)
        self.left = np.zeros(n, dtype=np.int64)
        self.R = np.zeros((n, nb))
        self.R_pre = np.zeros((n, nb))
        self.n_spk = np.zeros(n, dtype=np.int64)
        self.max_u = np.zeros(n)
        if self.rdd:
            self.fb_weight = np.zeros((n, nb))

    def set_weights(self, weight=None, fb_weight=None):
        if weight is not None:
            w = np.asarray(weight, dtype=float)
            self.weight = 0.2 * self.f_in * w / np.std(w)
        if fb_weight is not None:
            self.fb_weight = np.array(fb_weight, dtype=float)
            if self.fb_std is None:
                self.fb_std = float(np.std(self.fb_weight))

    def step(self, f_hist: _History | None, b_hist: _History | None, drive: _History | None):
        if drive is not None:
            bas = ALPHA * drive.filtered()
        elif f_hist is not None and self.weight is not None:
            bas = self.weight @ f_hist.filtered()
        else:
            bas = np.zeros(self.size)
        q = b_hist.filtered() if self.rdd else np.zeros(0)
        _layer_step(
            bas,
            q,
            self.rdd,
            drive is not None,
            self.v,
            self.refr,
            self.fired,
            self.u,
            self.left,
            self.R,
            self.R_pre,
            self.n_spk,
            self.max_u,
            self.P,
            self.beta,
        )
        self.hist.push(self.fired)

    def update_fb_weights(self):
        mask = self.beta != 0
        if mask.any():
            self.fb_weight[mask] = self.beta[mask] * self.fb_std / np.std(self.beta[mask])


class RDDNet:
    """Layers of sizes ``sizes``; layer 0 has only feedback, the last only forward input."""

    def __init__(self, sizes):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2:
            raise ValueError("RDDNet needs at least two layers")
        self.sizes = sizes
        D = len(sizes)
        self.layers = [
            RDDLayer(sizes[l], sizes[l - 1] if l > 0 else None, sizes[l + 1] if l < D - 1 else None)
            for l in range(D)
        ]

    def reset(self):
        for layer in self.layers:
            layer.reset()

    def step(self, drives: list[_History | None]):
        """One step; ``drives[l]`` is the driving history of layer ``l`` or None."""
        L = self.layers
        D = len(L)
        for l in range(D):
            f = L[l - 1].hist if l > 0 else None
            b = L[l + 1].hist if l < D - 1 else None
            L[l].step(f, b, drives[l] if l < len(drives) else None)

    def update_fb_weights(self):
        for layer in self.layers[:-1]:
            layer.update_fb_weights()

    def set_weights(self, W, B):
        """``W[l]`` (l = 1..D-1) forward weights ``(n_l, n_{l-1})``; ``B[l]`` (l = 0..D-2)
        feedback ``(n_l, n_{l+1})``; None entries are left alone."""
        for l, layer in enumerate(self.layers):
            layer.set_weights(W[l] if l > 0 else None, B[l] if l < len(B) else None)

    def feedback(self) -> list[np.ndarray]:
        return [layer.fb_weight for layer in self.layers[:-1]]

    def state_dict(self) -> dict:
        return {
            "P": [lay.P for lay in self.layers],
            "beta": [lay.beta for lay in self.layers],
            "fb_std": [lay.fb_std for lay in self.layers],
        }

    def load_state_dict(self, st: dict):
        for lay, P, beta, s in zip(self.layers, st["P"], st["beta"], st["fb_std"], strict=True):
            lay.P, lay.beta, lay.fb_std = np.array(P), np.array(beta), s


class Driver:
    """Poisson drive (rate 0.2 per step) on a random 20 % of a layer's units, re-chosen every
    100 steps (upstream ``train_rdd``)."""

    def __init__(self, sizes, rng: np.random.Generator):
        self.rng = rng
        self.sizes = list(sizes)
        self.hists = [_History(n) for n in self.sizes]
        self.rates = [np.zeros(n) for n in self.sizes]
        self.choose()

    def choose(self):
        for n, r in zip(self.sizes, self.rates, strict=True):
            r[:] = 0.0
            r[self.rng.choice(n, int(DRIVE_FRACTION * n), replace=False)] = INPUT_RATE

    def advance(self, layer: int) -> _History:
        self.hists[layer].push(self.rng.poisson(self.rates[layer]))
        return self.hists[layer]


def rdd_phase(
    net: RDDNet,
    steps: int,
    rng: np.random.Generator,
    progress=None,
    update_every: int = UPDATE_EVERY,
):
    """One training phase (module docstring): ``steps`` steps, layers ``0..D-2`` driven for
    equal consecutive parts, feedback updates every ``update_every`` steps."""
    D = len(net.sizes)
    driven = D - 1
    drv = Driver(net.sizes[:driven], rng)
    for i in range(int(steps)):
        if (i + 1) % RESAMPLE_EVERY == 0:
            drv.choose()
        k = min(driven - 1, (i * driven) // int(steps))
        drives: list = [None] * D
        drives[k] = drv.advance(k)
        net.step(drives)
        if (i + 1) % update_every == 0:
            net.update_fb_weights()
        if progress is not None:
            progress.update(1)


def rdd_steps(rdd_time_s: float) -> int:
    """Number of ``DT`` steps in ``rdd_time_s`` seconds of simulated time."""
    return int(round(rdd_time_s / DT))
