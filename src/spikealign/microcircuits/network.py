"""State and structure of a layered network of cortical microcircuits (reference model §3.1).

Layers ``0 .. L-1`` with sizes ``dims``: layer 0 is the input, layers ``1 .. L-2`` are hidden,
layer ``L-1`` is the output.

* **Input neurons** are sampling neurons with potential ``u_in`` (the pattern value).
* **Hidden layer l**: pyramidal neurons ``u = b + v_bas + lambda_api v_api`` with
  ``v_bas = W_up PSP(layer l-1)`` and ``v_api = W_down PSP(pyramids of l+1) + W_pi PSP(own
  interneurons)``; one interneuron per neuron of layer ``l+1`` with
  ``u_inn = b_{l+1} + W_ip PSP(own pyramids)``.
* **Output layer**: ``u = b + v_bas + lambda_nudge v_nudge`` with
  ``v_nudge = u_tgt - mean(v_bas) - b`` while a target is given, else ``u = b + v_bas``.

Weights are stored ``W[post, pre]``: ``W_up`` (dims[l], dims[l-1]), ``W_down`` and ``W_pi``
(dims[l], dims[l+1]), ``W_ip`` (dims[l+1], dims[l]).

Storage: all neurons live in flat arrays indexed by a global id in *draw order* (input; for
each hidden layer its pyramids, then its interneurons; output), the order in which they draw
their uniform numbers each step. Each weight kind is one flat array; :meth:`Network.w_up`
and friends return per-layer ``(post, pre)`` views into it, so the readable reference engine
and the compiled engine work on the same memory.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ..psp import PSP_NAMES, make_psp
from ..stdp import Window, exp_window

#: spike time meaning "no spike yet"; far enough in the past that every kernel is 0 there
NEVER = -(2**40)


@dataclass(frozen=True)
class Layout:
    """Index bookkeeping of a network with layer sizes ``dims`` (at least input and output)."""

    dims: tuple[int, ...]
    pyr_start: np.ndarray = field(init=False, repr=False)
    inn_start: np.ndarray = field(init=False, repr=False)
    w_up_start: np.ndarray = field(init=False, repr=False)
    fb_start: np.ndarray = field(init=False, repr=False)
    n_neurons: int = field(init=False)
    n_w_up: int = field(init=False)
    n_fb: int = field(init=False)

    def __post_init__(self):
        dims = tuple(int(d) for d in self.dims)
        if len(dims) < 2 or min(dims) < 1:
            raise ValueError(f"dims must list at least two layer sizes >= 1 (got {dims})")
        object.__setattr__(self, "dims", dims)
        n_layers = len(dims)
        pyr = np.full(n_layers, -1, np.int64)
        inn = np.full(n_layers, -1, np.int64)
        up = np.full(n_layers, -1, np.int64)
        fb = np.full(n_layers, -1, np.int64)
        g = n_up = n_fb = 0
        for layer in range(n_layers):
            pyr[layer] = g
            g += dims[layer]
            if 0 < layer < n_layers - 1:
                inn[layer] = g
                g += dims[layer + 1]
                fb[layer] = n_fb
                n_fb += dims[layer] * dims[layer + 1]
            if layer > 0:
                up[layer] = n_up
                n_up += dims[layer] * dims[layer - 1]
        for name, val in (
            ("pyr_start", pyr),
            ("inn_start", inn),
            ("w_up_start", up),
            ("fb_start", fb),
            ("n_neurons", g),
            ("n_w_up", n_up),
            ("n_fb", n_fb),
        ):
            object.__setattr__(self, name, val)

    @property
    def n_layers(self) -> int:
        return len(self.dims)

    @property
    def hidden(self) -> range:
        return range(1, self.n_layers - 1)

    @property
    def output(self) -> int:
        return self.n_layers - 1

    def pyr(self, layer: int) -> slice:
        """Global ids of the pyramidal (or input) neurons of ``layer``."""
        start = int(self.pyr_start[layer])
        return slice(start, start + self.dims[layer])

    def inn(self, layer: int) -> slice:
        """Global ids of the interneurons of hidden ``layer``."""
        start = int(self.inn_start[layer])
        return slice(start, start + self.dims[layer + 1])

    def populations(self) -> list[tuple[str, int, slice]]:
        """``(kind, layer, ids)`` in draw order; kind is input, pyr, inn or output."""
        out = [("input", 0, self.pyr(0))]
        for layer in self.hidden:
            out += [("pyr", layer, self.pyr(layer)), ("inn", layer, self.inn(layer))]
        out.append(("output", self.output, self.pyr(self.output)))
        return out

    def neuron_table(self) -> np.ndarray:
        """``(n_neurons, 2)`` int array: layer and kind code (0 input/pyr/output, 1 inn)."""
        table = np.zeros((self.n_neurons, 2), np.int64)
        for kind, layer, ids in self.populations():
            table[ids, 0] = layer
            table[ids, 1] = 1 if kind == "inn" else 0
        return table


@dataclass(frozen=True)
class NetParams:
    """Constant parameters of a microcircuit network (reference model §3.6).

    ``lr_up[l]`` / ``lr_down[l]`` belong to layer ``l`` (entries of the input, and ``lr_down``
    of the output, are 0). The SAL window is the core exponential window with
    ``a_plus = stdp_a_causal``, ``a_minus = stdp_a_anticausal`` (``dt = t_post - t_pre``).
    ``sal_overwrite`` reproduces the paper's assignment when pre and post spike in one step.
    """

    dims: tuple[int, ...]
    t_ref: int = 10
    tau_syn: int = 10
    n_last: int = 1
    lambda_api: float = 0.02
    lambda_nudge: float = 0.6
    learning_lag: int = 2000
    ma_size: int = 2000
    lr_up: tuple[float, ...] = ()
    lr_down: tuple[float, ...] = ()
    stdp_a_causal: float = -1.0
    stdp_a_anticausal: float = 1.0
    stdp_tau_causal: float = 10.0
    stdp_tau_anticausal: float = 10.0
    sal_overwrite: bool = False
    psp: str = "rect"

    def __post_init__(self):
        n_layers = len(self.dims)
        for name in ("lr_up", "lr_down"):
            val = tuple(float(x) for x in getattr(self, name)) or (0.0,) * n_layers
            if len(val) != n_layers:
                raise ValueError(f"{name} needs one entry per layer ({n_layers})")
            object.__setattr__(self, name, val)
        for name in ("t_ref", "tau_syn", "n_last", "ma_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.psp not in PSP_NAMES:
            raise ValueError(f"psp must be one of {PSP_NAMES}")

    @classmethod
    def from_config(cls, npr, options=None) -> NetParams:
        """From a ``network_properties`` section (and the ``options`` section)."""
        n_layers = len(npr.dims)
        lr_up = [0.0] + [r.up for r in npr.lr]
        lr_down = [0.0] + [r.down or 0.0 for r in npr.lr[:-1]] + [0.0]
        return cls(
            dims=tuple(npr.dims),
            t_ref=npr.t_ref,
            tau_syn=npr.tau_syn,
            n_last=npr.n_last_spks,
            lambda_api=npr.lambda_api,
            lambda_nudge=npr.lambda_nudge,
            learning_lag=npr.learning_lag,
            ma_size=npr.size_moving_average,
            lr_up=tuple(lr_up[:n_layers]),
            lr_down=tuple(lr_down[:n_layers]),
            stdp_a_causal=npr.stdp_a_causal,
            stdp_a_anticausal=npr.stdp_a_anticausal,
            stdp_tau_causal=npr.stdp_tau_causal,
            stdp_tau_anticausal=npr.stdp_tau_anticausal,
            sal_overwrite=options is not None and options.sal_same_step == "overwrite",
        )

    @property
    def log_t_ref(self) -> float:
        return math.log(self.t_ref)

    @property
    def psp_table(self) -> np.ndarray:
        """PSP at ages 0, 1, ...: a spike acts in its own step (``first_age=0``)."""
        return make_psp(self.psp, self.t_ref, self.tau_syn).table(first_age=0)

    @property
    def window(self) -> Window:
        """The feedback (SAL) STDP window, ``K(dt)`` with ``dt = t_post - t_pre``."""
        return exp_window(
            a_plus=self.stdp_a_causal,
            a_minus=self.stdp_a_anticausal,
            tau_plus=self.stdp_tau_causal,
            tau_minus=self.stdp_tau_anticausal,
        )

    @property
    def window_args(self) -> tuple[int, float, float, float, float]:
        """``(kind code, a_plus, a_minus, tau_plus, tau_minus)`` for ``stdp.window_value``."""
        w = self.window
        return (w.code, float(w.a_plus), float(w.a_minus), float(w.tau_plus), float(w.tau_minus))


def _broadcast(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), shape)


#: sections of :attr:`Network.values`, in storage order
VALUE_SECTIONS = (
    "u",
    "v_bas",
    "v_api",
    "v_nudge",
    "u_tgt",
    "w_up_flat",
    "w_down_flat",
    "w_pi_flat",
    "w_ip_flat",
    "flags",
)


class Network:
    """Mutable state of one network: spikes, potentials, moving averages, weights, clock.

    All recordable values (potentials, weights and the two pattern flags ``validation`` and
    ``symmetrization``) are views into one flat array :attr:`values`, so a recording is a
    gather ``values[index]`` (:mod:`.recording`).
    """

    def __init__(self, params: NetParams):
        self.params = params
        self.layout = lay = Layout(params.dims)
        n, m = lay.n_neurons, params.ma_size
        self.last = np.full((n, params.n_last), NEVER, np.int64)  # spike times, oldest first
        sizes = {
            "u": n,
            "v_bas": n,
            "v_api": n,
            "v_nudge": n,
            "u_tgt": n,
            "w_up_flat": lay.n_w_up,
            "w_down_flat": lay.n_fb,
            "w_pi_flat": lay.n_fb,
            "w_ip_flat": lay.n_fb,
            "flags": 2,
        }
        self.offsets: dict[str, int] = {}
        total = 0
        for name in VALUE_SECTIONS:
            self.offsets[name] = total
            total += sizes[name]
        self._sizes = sizes
        self.values = np.zeros(total)
        self._bind()
        self.bias = np.zeros(n)  # pyramids: own bias; interneurons: the next layer's bias
        # sliding-window means of u and v_bas (paper's MovingAverage: the initial value 0 is
        # the first sample; all averages move together, so they share one counter)
        self.ma_u = np.zeros(n)
        self.ma_vb = np.zeros(n)
        self.ma_u_stack = np.zeros((m, n))
        self.ma_vb_stack = np.zeros((m, n))
        #: t (next step), number of samples in the window, stack slot to replace next
        self.clock = np.array([0, 1, 1 % m], np.int64)
        self.lam_api = np.full(lay.n_layers, float(params.lambda_api))

    def _bind(self):
        """(Re)create the named views into :attr:`values`."""
        for name in VALUE_SECTIONS:
            off = self.offsets[name]
            setattr(self, name, self.values[off : off + self._sizes[name]])

    # -- clock ------------------------------------------------------------------------------
    @property
    def t(self) -> int:
        return int(self.clock[0])

    # -- per-layer weight views -----------------------------------------------------------------
    def w_up(self, layer: int) -> np.ndarray:
        lay = self.layout
        s = int(lay.w_up_start[layer])
        shape = (lay.dims[layer], lay.dims[layer - 1])
        return self.w_up_flat[s : s + shape[0] * shape[1]].reshape(shape)

    def _fb(self, flat, layer: int, transpose: bool) -> np.ndarray:
        lay = self.layout
        s = int(lay.fb_start[layer])
        shape = (lay.dims[layer], lay.dims[layer + 1])
        if transpose:
            shape = shape[::-1]
        return flat[s : s + shape[0] * shape[1]].reshape(shape)

    def w_down(self, layer: int) -> np.ndarray:
        return self._fb(self.w_down_flat, layer, False)

    def w_pi(self, layer: int) -> np.ndarray:
        return self._fb(self.w_pi_flat, layer, False)

    def w_ip(self, layer: int) -> np.ndarray:
        return self._fb(self.w_ip_flat, layer, True)

    # -- set-up -------------------------------------------------------------------------------
    def set_weights(self, weights: list[dict]):
        """``weights[l-1]`` holds the weights of layer ``l`` (keys w_up, w_down, w_pi, w_ip);
        scalars and smaller arrays are broadcast, missing keys keep their values."""
        lay = self.layout
        if len(weights) != lay.n_layers - 1:
            raise ValueError(f"weights needs {lay.n_layers - 1} entries, got {len(weights)}")
        for layer, entry in enumerate(weights, start=1):
            for name, value in entry.items():
                if value is None:
                    continue
                view = getattr(self, name)(layer)
                view[...] = _broadcast(value, view.shape)

    def set_bias(self, biases: list):
        """``biases[l-1]`` is the bias of layer ``l``; a hidden layer's interneurons get the
        bias of the layer above (they predict it)."""
        lay = self.layout
        if len(biases) != lay.n_layers - 1:
            raise ValueError(f"bias needs {lay.n_layers - 1} entries, got {len(biases)}")
        for layer in range(1, lay.n_layers):
            self.bias[lay.pyr(layer)] = _broadcast(biases[layer - 1], (lay.dims[layer],))
            if layer < lay.n_layers - 1:
                self.bias[lay.inn(layer)] = _broadcast(biases[layer], (lay.dims[layer + 1],))

    def set_sps(self):
        """Self-predicting state: ``W_ip <- W_up(l+1)``, ``W_pi <- -W_down``."""
        for layer in self.layout.hidden:
            self.w_ip(layer)[...] = self.w_up(layer + 1)
            self.w_pi(layer)[...] = -self.w_down(layer)

    def copy_backprop(self):
        """Copied feedback (backprop mode): ``W_down <- W_up(l+1)^T``."""
        for layer in self.layout.hidden:
            self.w_down(layer)[...] = self.w_up(layer + 1).T

    def distribute_weights(self, update_down: bool = True):
        """Paper's ``distribute_weights``: copy the feedback first in backprop mode, then
        establish the self-predicting state."""
        if not update_down:
            self.copy_backprop()
        self.set_sps()

    def set_symmetrization(self):
        """Start of a symmetrization pattern: ``lambda_api = 1``, interneuron paths off."""
        for layer in self.layout.hidden:
            self.lam_api[layer] = 1.0
            self.w_pi(layer)[...] = 0.0
            self.w_ip(layer)[...] = 0.0

    def unset_symmetrization(self):
        """End of a symmetrization pattern: restore ``lambda_api`` and the self-predicting state
        (the paper re-establishes it even when ``set_sps`` is off)."""
        for layer in self.layout.hidden:
            self.lam_api[layer] = self.params.lambda_api
        self.set_sps()

    # -- read-out -----------------------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        """Copies of all weights, keyed ``"{layer}.w_up"`` etc."""
        out = {}
        for layer in range(1, self.layout.n_layers):
            out[f"{layer}.w_up"] = self.w_up(layer).copy()
            if layer < self.layout.n_layers - 1:
                for name in ("w_down", "w_pi", "w_ip"):
                    out[f"{layer}.{name}"] = getattr(self, name)(layer).copy()
        return out

    def copy(self) -> Network:
        """An independent copy of the whole state."""
        new = copy.copy(self)
        for key, val in vars(self).items():
            if isinstance(val, np.ndarray) and key not in VALUE_SECTIONS:
                setattr(new, key, val.copy())
        new._bind()
        return new
