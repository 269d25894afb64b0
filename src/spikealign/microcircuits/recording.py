"""Recordings: block means of chosen quantities, and optional spike records.

:class:`Recorder` follows the paper's ``Tracker``: every step the chosen values are added to a
float64 buffer; after every ``block`` steps (counted over the whole run, not per pattern) the
buffer divided by ``block`` becomes one float32 sample. A last incomplete block is divided by
its own length. Memory is the number of samples times the values per sample, fixed up front.

Values are gathered from :attr:`Network.values` by index, the same way in both engines.
"""

from __future__ import annotations

import numpy as np

from .network import Network


def quantity_index(net: Network, layer: int, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Indices into ``net.values`` of quantity ``name`` of ``layer``, and its shape."""
    lay, off = net.layout, net.offsets
    dims = lay.dims

    def ids(section, sl):
        return off[section] + np.arange(sl.start, sl.stop), (sl.stop - sl.start,)

    if name == "u_in" or name == "u_pyr":
        return ids("u", lay.pyr(layer))
    if name == "u_inn":
        return ids("u", lay.inn(layer))
    if name in ("v_bas", "v_api", "v_nudge", "u_tgt"):
        return ids(name, lay.pyr(layer))
    if name == "w_up":
        shape = (dims[layer], dims[layer - 1])
        return off["w_up_flat"] + lay.w_up_start[layer] + np.arange(shape[0] * shape[1]), shape
    if name in ("w_down", "w_pi", "w_ip"):
        shape = (dims[layer], dims[layer + 1])
        if name == "w_ip":
            shape = shape[::-1]
        start = off[f"{name}_flat"] + lay.fb_start[layer]
        return start + np.arange(shape[0] * shape[1]), shape
    if name in ("validation", "symmetrization"):
        return np.array([off["flags"] + (0 if name == "validation" else 1)]), (1,)
    raise ValueError(f"unknown recorded quantity {name!r}")


class Recorder:
    """Block means of ``quantities[layer]`` (lists of names) over a run of ``n_steps``."""

    def __init__(self, net: Network, quantities: list[list[str]], n_steps: int, block: int):
        if block < 1:
            raise ValueError("block must be >= 1")
        self.block = int(block)
        self.items: list[tuple[int, str, int, int, tuple[int, ...]]] = []
        index = []
        start = 0
        for layer, names in enumerate(quantities):
            for name in names:
                idx, shape = quantity_index(net, layer, name)
                self.items.append((layer, name, start, idx.size, shape))
                index.append(idx)
                start += idx.size
        self.index = (np.concatenate(index) if index else np.zeros(0)).astype(np.int64)
        self.buf = np.zeros(self.index.size)
        n_samples = -(-int(n_steps) // self.block) if self.index.size else 0
        self.out = np.zeros((n_samples, self.index.size), np.float32)
        self.count = np.zeros(1, np.int64)  # steps recorded so far

    @property
    def active(self) -> bool:
        return self.index.size > 0

    def record(self, values: np.ndarray):
        """Add one step (reference engine; the compiled engine does the same in its loop)."""
        if not self.active:
            return
        self.buf += values[self.index]
        i = int(self.count[0])
        if (i + 1) % self.block == 0:
            self.out[i // self.block] = self.buf / self.block
            self.buf[:] = 0.0
        self.count[0] = i + 1

    def finalize(self):
        """Turn a last incomplete block into a sample (its mean)."""
        i = int(self.count[0])
        rest = i % self.block
        if self.active and rest:
            self.out[i // self.block] = self.buf / rest
            self.buf[:] = 0.0

    def results(self) -> dict[str, np.ndarray]:
        """``{"rec.{layer}.{name}": array (n_samples, *shape)}`` as float32."""
        n = self.out.shape[0]
        return {
            f"rec.{layer}.{name}": self.out[:, start : start + size].reshape((n, *shape))
            for layer, name, start, size, shape in self.items
        }


class SpikeLog:
    """Collects ``(time, neuron)`` rows (global neuron ids, see ``Layout.populations``)."""

    def __init__(self):
        self._chunks: list[np.ndarray] = []

    def add(self, times, ids):
        if len(times):
            self._chunks.append(
                np.stack([np.asarray(times, np.int64), np.asarray(ids, np.int64)], axis=1)
            )

    def record(self) -> np.ndarray:
        """``(n, 2)`` int64, sorted by time then neuron."""
        if not self._chunks:
            return np.zeros((0, 2), np.int64)
        return np.concatenate(self._chunks)
