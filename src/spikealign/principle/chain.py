"""Markov chain of two reciprocally coupled sampling neurons A and B over their ages.

Convention (used throughout :mod:`spikealign.principle`)
---------------------------------------------------------
``W_AB`` is the weight **from B onto A** (``W[post, pre]`` with A = 0, B = 1) and
``dt = t_A - t_B``. There is no label swap anywhere (upstream swaps labels inside its
constructor; see ``docs/deviations.md``).

Model
-----
The *age* ``zeta`` of a neuron is the number of steps since its last spike (0: it spiked in
this step), capped at ``c = t_max - 1``, an absorbing "long ago" age. The chain's state is
``(zeta_A, zeta_B)``; arrays over states are indexed ``[zeta_A, zeta_B]`` and the flat index
is ``zeta_A * t_max + zeta_B``. In one step both ages advance by one (capped) and, given the
state, the neurons spike independently (a spike resets the age to 0):

    P(A spikes) = a[zA, zB] = sigma(b_A + W_AB kappa(min(zB + 1, c)))  if zA >= m - 1, else 0
    P(B spikes) = b[zA, zB] = sigma(b_B + W_BA kappa(min(zA + 1, c)))  if zB >= m - 1, else 0

with ``sigma(u) = 1 / (1 + t_ref exp(-u))`` (:func:`spikealign.neuron.spike_probability`) and
``m`` the minimum inter-spike interval. The PSP is read at the partner's age *after* the step:
a spike acts from the next step on, as in the simulator.

Two refractoriness variants (``chain=``):

* ``"upstream"``: ``m = t_ref`` and ``kappa`` is the continuous kernel at integer ages, as the
  paper's ``stddc`` chain.
* ``"simulator"``: ``m = t_ref + 1`` and ``kappa`` is the table the core simulator uses
  (:meth:`spikealign.sim.SimParams.psp_table`, zero beyond its length). The chain is then
  *exactly* the law of :func:`spikealign.sim.simulate` for two neurons whenever a neuron's PSP
  depends only on its partner's last spike (rect kernel with ``t_syn <= t_ref + 1``, or any kernel
  with ``n_last_psp=1``) and the kernel vanishes from age ``t_max - 1`` on (so that the capped
  age is exact). The hazard quantisation of the simulator (< 2**-48 per step) is ignored.

Stationary distribution
-----------------------
The transition matrix ``T`` (:func:`transition_matrix`, column-stochastic, ``T[to, from]``) has
``t_max**2`` states. Between spikes the state moves deterministically along a diagonal
``(i, j) -> (i + 1, j + 1)``; mass enters the state space only at the *boundary* states
``(0, 0)``, ``(0, j)`` and ``(i, 0)`` (a spike) and leaves only by a spike. Every state's
stationary mass is therefore a linear function of the ``2 t_max - 1`` boundary masses (products
of survival probabilities along diagonals, plus accumulation in the capped row, column and
corner). :func:`stationary` eliminates all interior states this way (an exact Schur
complement), solves the small boundary chain ``v = M v, n.v = 1`` by Grassmann-Taksar-Heyman
elimination and expands ``v`` back to ``p``. Cost O(t_max**2) plus one O((2 t_max)^3 / 3)
elimination instead of a sparse LU of the t_max^2 chain. Everything adds and multiplies
non-negative numbers (the complements ``1 - a`` are computed directly), so every state keeps
full relative precision, even at masses of 1e-30 where a plain LU solve returns noise.
:func:`stationary_sparse` is the direct sparse solve used to check it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numba import njit

from ..config import ConfigError
from ..neuron import silence_probability, spike_probability
from ..psp import PSP_NAMES, make_psp

CHAINS = ("upstream", "simulator")

#: bytes of working memory per chain state (about 40 float64 arrays of t_max**2 entries)
BYTES_PER_STATE = 40 * 8


def memory_budget() -> int:
    """Bytes the principle computations may use: ``SPIKEALIGN_MAX_MEMORY`` (bytes) if set,
    else half of the memory the OS reports available."""
    env = os.environ.get("SPIKEALIGN_MAX_MEMORY")
    if env:
        return int(float(env))
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def check_memory(n_bytes: float, what: str):
    """Raise ``ConfigError`` if ``what`` needs more than :func:`memory_budget`."""
    budget = memory_budget()
    if n_bytes > budget:
        raise ConfigError(
            f"{what} needs about {_fmt_bytes(n_bytes)}, more than the "
            f"{_fmt_bytes(budget)} available (set SPIKEALIGN_MAX_MEMORY to change)"
        )


def _is_int(x) -> bool:
    return (
        isinstance(x, int | np.integer)
        and not isinstance(x, bool)
        or (isinstance(x, float | np.floating) and float(x).is_integer())
    )


@dataclass(frozen=True)
class ChainSpec:
    """Validated neuron/synapse parameters of the two-neuron chain (weights excluded)."""

    t_ref: int
    t_syn: float
    t_max: int
    psp: str = "rect"
    chain: str = "upstream"

    def __post_init__(self):
        if not _is_int(self.t_ref) or self.t_ref < 1:
            raise ConfigError(f"t_ref: must be an integer >= 1 (got {self.t_ref!r})")
        if not _is_int(self.t_max) or self.t_max < 2:
            raise ConfigError(f"t_max: must be an integer >= 2 (got {self.t_max!r})")
        object.__setattr__(self, "t_ref", int(self.t_ref))
        object.__setattr__(self, "t_max", int(self.t_max))
        if self.t_ref >= self.t_max:
            raise ConfigError(
                f"t_max: must be larger than t_ref (got t_ref={self.t_ref}, t_max={self.t_max})"
            )
        try:
            t_syn = float(self.t_syn)
        except (TypeError, ValueError):
            raise ConfigError(f"t_syn: must be a number > 0 (got {self.t_syn!r})") from None
        if not (math.isfinite(t_syn) and t_syn > 0):
            raise ConfigError(f"t_syn: must be > 0 (got {self.t_syn!r})")
        object.__setattr__(self, "t_syn", t_syn)
        if self.psp not in PSP_NAMES:
            raise ConfigError(
                f"psp: unknown PSP shape {self.psp!r}; allowed: {', '.join(PSP_NAMES)}"
            )
        if self.chain not in CHAINS:
            raise ConfigError(f"chain: must be one of {', '.join(CHAINS)} (got {self.chain!r})")
        check_memory(BYTES_PER_STATE * self.t_max**2, f"t_max={self.t_max}")

    @property
    def min_isi(self) -> int:
        """Minimum inter-spike interval of the chain's neurons."""
        return self.t_ref if self.chain == "upstream" else self.t_ref + 1

    def kappa(self) -> np.ndarray:
        """PSP at ages ``0 .. t_max - 1`` as this chain reads it (module docstring)."""
        n = self.t_max
        if self.chain == "upstream":
            return make_psp(self.psp, self.t_ref, self.t_syn)(np.arange(n, dtype=float))
        from ..sim import SimParams

        table = SimParams(self.t_ref, self.t_syn, self.psp, n_last_psp=1).psp_table()
        out = np.zeros(n)
        k = min(n, len(table))
        out[:k] = table[:k]
        return out


def _check_finite(**values):
    for name, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: must be a finite number (got {v!r})") from None
        if not math.isfinite(f):
            raise ConfigError(f"{name}: must be a finite number (got {v!r})")


def spike_probabilities(
    w_ab,
    w_ba,
    b_a,
    b_b,
    spec: ChainSpec,
    kappa: np.ndarray | None = None,
    *,
    complements: bool = False,
):
    """Per-state spike probabilities ``(a, b)`` of A and B, arrays ``[zeta_A, zeta_B]``.

    ``a[i, j]`` is the probability that A spikes in the next step given the state ``(i, j)``
    (module docstring); ``kappa`` (from :meth:`ChainSpec.kappa`) may be passed to save work.
    ``complements=True`` also returns ``1 - a`` and ``1 - b``, computed without cancellation
    (they matter in relative terms when a neuron almost surely fires).
    """
    _check_finite(w_ab=w_ab, w_ba=w_ba, b_a=b_a, b_b=b_b)
    n = spec.t_max
    c = n - 1
    if kappa is None:
        kappa = spec.kappa()
    after = kappa[np.minimum(np.arange(n) + 1, c)]  # PSP at the partner's age after the step
    free = np.arange(n) >= spec.min_isi - 1
    u_a = b_a + w_ab * after  # indexed by zeta_B
    u_b = b_b + w_ba * after  # indexed by zeta_A
    a = np.where(free[:, None], spike_probability(u_a, spec.t_ref)[None, :], 0.0)
    b = np.where(free[None, :], spike_probability(u_b, spec.t_ref)[:, None], 0.0)
    if not complements:
        return a, b
    na = np.where(free[:, None], silence_probability(u_a, spec.t_ref)[None, :], 1.0)
    nb = np.where(free[None, :], silence_probability(u_b, spec.t_ref)[:, None], 1.0)
    return a, b, na, nb


def transition_matrix(a: np.ndarray, b: np.ndarray) -> sp.csr_matrix:
    """Column-stochastic sparse transition matrix ``T[to, from]`` of the chain (vectorised).

    From state ``(i, j)`` with ``i+ = min(i + 1, c)``, ``j+ = min(j + 1, c)``: to ``(i+, j+)``
    with ``(1-a)(1-b)``, to ``(0, j+)`` with ``a(1-b)``, to ``(i+, 0)`` with ``(1-a) b``, to
    ``(0, 0)`` with ``a b``. Zero entries are dropped.
    """
    n = a.shape[0]
    c = n - 1
    i, j = np.divmod(np.arange(n * n), n)
    ip = np.minimum(i + 1, c)
    jp = np.minimum(j + 1, c)
    af, bf = a.ravel(), b.ravel()
    frm = np.arange(n * n)
    rows = np.concatenate([ip * n + jp, jp, ip * n, np.zeros_like(i)])
    cols = np.concatenate([frm, frm, frm, frm])
    vals = np.concatenate([(1 - af) * (1 - bf), af * (1 - bf), (1 - af) * bf, af * bf])
    keep = vals != 0
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n * n, n * n))


def stationary_sparse(T: sp.spmatrix) -> np.ndarray:
    """Stationary vector of a column-stochastic sparse ``T`` by a sparse LU solve of
    ``(T - I) p = 0`` with the last equation replaced by ``sum(p) = 1`` (a check/reference)."""
    n = T.shape[0]
    A = (T - sp.identity(n, format="csr")).tolil()
    A[n - 1, :] = np.ones(n)
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    return spla.spsolve(A.tocsc(), rhs)


# -- structured stationary solve ------------------------------------------------------------


@njit(cache=True)
def gth_stationary(M):  # pragma: no cover - compiled
    """Stationary vector (unnormalised, entry 0 = 1) of the column-stochastic ``M`` (``v = M v``)
    by Grassmann-Taksar-Heyman elimination: state elimination with sums and products of
    non-negative numbers only, so every entry keeps full relative precision however small.
    Returns an empty array if a pivot vanishes (the caller falls back to :func:`solve_dense`).
    The diagonal of ``M`` (self-loops) is never used.
    """
    n = M.shape[0]
    P = M.T.copy()  # row-stochastic: P[from, to]
    for k in range(n - 1, 0, -1):
        s = 0.0
        for j in range(k):
            s += P[k, j]
        if not s > 0.0:
            return np.empty(0)
        for i in range(k):
            P[i, k] /= s
        for i in range(k):
            f = P[i, k]
            if f != 0.0:
                for j in range(k):
                    P[i, j] += f * P[k, j]
    v = np.zeros(n)
    v[0] = 1.0
    for k in range(1, n):
        acc = 0.0
        for i in range(k):
            acc += v[i] * P[i, k]
        v[k] = acc
    return v


@njit(cache=True)
def solve_dense(A, rhs):  # pragma: no cover - compiled
    """Solve ``A x = rhs`` by Gaussian elimination with partial pivoting (a copy of ``A``).

    The boundary systems are small (``2 t_max - 1`` unknowns); a compiled single-threaded
    elimination keeps their cost predictable, whereas a threaded BLAS can be 100x slower on a
    loaded machine.
    """
    n = A.shape[0]
    M = A.copy()
    x = rhs.copy()
    for k in range(n):
        piv = k
        best = abs(M[k, k])
        for i in range(k + 1, n):
            v = abs(M[i, k])
            if v > best:
                best = v
                piv = i
        if best == 0.0:
            raise ValueError("chain: singular boundary system")
        if piv != k:
            for j in range(n):
                t = M[k, j]
                M[k, j] = M[piv, j]
                M[piv, j] = t
            t = x[k]
            x[k] = x[piv]
            x[piv] = t
        inv = 1.0 / M[k, k]
        for i in range(k + 1, n):
            f = M[i, k] * inv
            if f != 0.0:
                for j in range(k + 1, n):
                    M[i, j] -= f * M[k, j]
                x[i] -= f * x[k]
    for k in range(n - 1, -1, -1):
        acc = x[k]
        for j in range(k + 1, n):
            acc -= M[k, j] * x[j]
        x[k] = acc / M[k, k]
    return x


@lru_cache(maxsize=16)
def _diagonal_layout(n: int):
    """Index arrays that lay the diagonals of an ``n x n`` block out as rows.

    Row ``r`` holds diagonal ``d = r - (n - 1)`` (``j - i = d``) from its boundary end:
    element ``k`` is ``(k + max(0, -d), k + max(0, d))``; ``valid`` marks ``k < n - |d|``.
    """
    d = np.arange(-(n - 1), n)[:, None]
    k = np.arange(n)[None, :]
    rows = k + np.maximum(0, -d)
    cols = k + np.maximum(0, d)
    valid = k < n - np.abs(d)
    rows = np.where(valid, rows, 0)
    cols = np.where(valid, cols, 0)
    return rows, cols, valid


def _diagonal_survival(s_block: np.ndarray) -> np.ndarray:
    """``L[i, j] = prod_{m=1}^{min(i,j)} s[i-m, j-m]``: survival along the diagonal from its
    boundary state (``i = 0`` or ``j = 0``, where ``L = 1``) to ``(i, j)``."""
    n = s_block.shape[0]
    rows, cols, valid = _diagonal_layout(n)
    g = np.where(valid, s_block[rows, cols], 1.0)
    cp = np.ones_like(g)
    np.cumprod(g[:, :-1], axis=1, out=cp[:, 1:])
    out = np.empty_like(s_block)
    out[rows[valid], cols[valid]] = cp[valid]
    return out


@lru_cache(maxsize=16)
def _interior_layout(c: int):
    """For the interior ``c x c`` block of the age chain: the unknown each state's mass comes
    from (``src``: z for the diagonal, x_d above it, y_d below it), and the flat index
    ``target * (2c + 1) + src`` of the three reset transitions of every state, in the order
    A alone -> x_{j+1}, B alone -> y_{i+1}, both -> z. Depends only on ``c`` (cached)."""
    nv = 2 * c + 1
    ii, jj = np.divmod(np.arange(c * c), c)
    d = jj - ii
    src = np.where(d > 0, d, np.where(d < 0, c - d, 0))
    tgt = np.concatenate([jj + 1, c + ii + 1, np.zeros_like(ii)])
    flat_idx = tgt * nv + np.tile(src, 3)
    src.flags.writeable = False
    flat_idx.flags.writeable = False
    return src, flat_idx


@lru_cache(maxsize=16)
def _lower_mask(n: int):
    k = np.arange(n)
    return k[:, None] > k[None, :], k[:, None] >= k[None, :]


def _cap_accumulation(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``A[k, m] = g[m] prod_{l=m}^{k-1} q[l]`` for ``k >= m``, else 0 (mass entering a capped
    row/column at position ``m`` and surviving to position ``k``)."""
    n = len(g)
    strict, lower = _lower_mask(n)
    z = np.where(strict, np.concatenate([[1.0], q[: n - 1]])[:, None], 1.0)
    Q = np.cumprod(z, axis=0)
    return np.where(lower, Q * g[None, :], 0.0)


def stationary(
    a: np.ndarray, b: np.ndarray, na: np.ndarray | None = None, nb: np.ndarray | None = None
) -> np.ndarray:
    """Stationary distribution ``p[zeta_A, zeta_B]`` (sums to 1) of the chain with spike
    probabilities ``a, b`` (:func:`spike_probabilities`; pass the complements ``na = 1 - a``,
    ``nb = 1 - b`` from ``complements=True`` for full relative precision), by boundary
    elimination (module docstring).

    Every step adds and multiplies non-negative numbers only (the boundary chain is solved by
    GTH elimination), so even states of mass 1e-30 come out with relative errors near rounding.
    """
    n = a.shape[0]
    c = n - 1
    nv = 2 * c + 1  # unknowns: z = p(0,0); x_d = p(0,d) at d; y_d = p(d,0) at c + d
    na = 1.0 - a if na is None else na
    nb = 1.0 - b if nb is None else nb
    s = na * nb
    al = a * nb
    be = na * b
    ga = a * b

    # interior (non-capped) block: one source each, coefficient = diagonal survival
    L = _diagonal_survival(s[:c, :c])
    src, flat_idx = _interior_layout(c)
    Lf = L.ravel()
    w = np.concatenate([al[:c, :c].ravel(), be[:c, :c].ravel(), ga[:c, :c].ravel()])
    M = np.bincount(flat_idx, weights=w * np.tile(Lf, 3), minlength=nv * nv).reshape(nv, nv)
    mass = np.bincount(src, weights=Lf, minlength=nv)

    # capped column (k, c), k < c: entries at m from x_{c-m}
    m = np.arange(c)
    g_col = np.ones(c)
    g_col[1:] = s[m[1:] - 1, c - 1] * L[m[1:] - 1, c - 1]
    AC = _cap_accumulation(s[:c, c], g_col)  # [k, m] -> source c - m
    col_src = c - m
    # capped row (c, k): entries at m from y_{c-m}
    g_row = np.ones(c)
    g_row[1:] = s[c - 1, m[1:] - 1] * L[c - 1, m[1:] - 1]
    AR = _cap_accumulation(s[c, :c], g_row)  # [k, m] -> source 2c - m
    row_src = 2 * c - m

    M[c, col_src] += al[:c, c] @ AC
    M[c + 1 + m[:, None], col_src[None, :]] += be[:c, c][:, None] * AC
    M[0, col_src] += ga[:c, c] @ AC
    M[1 + m[:, None], row_src[None, :]] += al[c, :c][:, None] * AR
    M[2 * c, row_src] += be[c, :c] @ AR
    M[0, row_src] += ga[c, :c] @ AR
    mass[col_src] += AC.sum(axis=0)
    mass[row_src] += AR.sum(axis=0)

    # corner (c, c): inflow from (c-1, c-1), (c-1, c), (c, c-1); self-loop s[c, c]
    leave = a[c, c] + b[c, c] - a[c, c] * b[c, c]  # 1 - s[c, c], without cancellation
    if not leave > 0:
        raise ValueError("chain: neither neuron can ever spike (spike probabilities are 0)")
    cv = np.zeros(nv)
    cv[0] = s[c - 1, c - 1] * L[c - 1, c - 1]
    cv[col_src] += s[c - 1, c] * AC[c - 1]
    cv[row_src] += s[c, c - 1] * AR[c - 1]
    cv /= leave
    M[c] += al[c, c] * cv
    M[2 * c] += be[c, c] * cv
    M[0] += ga[c, c] * cv
    mass += cv

    # boundary balance v = M v with mass.v = 1 (M is column-stochastic)
    v = gth_stationary(M)
    if len(v):
        v /= mass @ v
    else:  # a vanishing GTH pivot (degenerate chain): LU with one equation replaced
        A = M - np.eye(nv)
        A[0] = mass
        rhs = np.zeros(nv)
        rhs[0] = 1.0
        v = solve_dense(A, rhs)
    # the boundary balance must hold (elementwise products: no threaded BLAS for this check)
    resid = np.abs((M * v[None, :]).sum(axis=1) - v).max()
    if not (np.all(np.isfinite(v)) and resid <= 1e-9 * max(1.0, np.abs(v).max())):
        raise ValueError(f"chain: stationary solve failed (residual {resid:.2e})")

    p = np.empty((n, n))
    p[:c, :c] = (v[src] * Lf).reshape(c, c)
    p[:c, c] = AC @ v[col_src]
    p[c, :c] = AR @ v[row_src]
    p[c, c] = cv @ v
    return p
