"""SALNet, fast: the batched spiking GLM network of :mod:`.salnet_common` with SAL on ``B``.

Same model, same random numbers and the same spikes as :mod:`.salnet_reference`, computed
without spike buffers and without per-step outer products:

* **running PSP counts.** The rect PSP of length ``t_ref`` is the number of spikes in the last
  ``t_ref`` steps: ``c(t) = c(t-1) + s(t) - s(t - t_ref)`` (exact integers). Because the
  minimum inter-spike interval is ``t_ref + 1``, a neuron may spike iff its own count is 0,
  so refractoriness needs no counter: ``spike = (r(u) - c > rand)`` (``r - c < 0`` whenever
  ``c >= 1``).
* **exact recursive traces.** Both STDP traces are ``+-T`` with
  ``T(t) = sum_{k<L} lam^k s(t-k)``, ``lam = exp(-1/t_ref)``; the truncated sum is kept
  exactly by ``T(t) = lam T(t-1) + s(t) - lam^L s(t-L)``. A ring of the last ``L`` spike
  vectors supplies ``s(t - t_ref)`` and ``s(t - L)``.
* **blocked STDP accumulation.** ``dB_l = sum_t [a_- T_l(t) (x) s_{l+1}(t)
  + a_+ s_l(t) (x) T_{l+1}(t)]`` summed over copies too (only the batch mean is applied):
  the per-step vectors are stored for ``chunk`` steps and contracted by two GEMMs per layer
  pair (``(n_l, chunk*batch) @ (chunk*batch, n_{l+1})``), accumulated in float64.

State tensors are neuron-major ``(N, batch)`` with the layers stacked, so every elementwise
operation runs once over all layers, and each layer's slice is contiguous for the matmuls.
The state (counts, traces, ring, step, generator) persists across phases, as upstream.
"""

from __future__ import annotations

import math

import torch

from .align import alignment
from .salnet_common import check_sizes, init_params, kernels


class SALNet:
    def __init__(
        self,
        sizes,
        t_ref: int = 10,
        sal_lr: float = 0.04,
        batch_size: int = 1,
        buffer_length: int = 2,
        dtype=torch.float32,
        generator: torch.Generator | None = None,
        chunk: int | None = None,
    ):
        self.sizes = check_sizes(sizes)
        self.t_ref, self.sal_lr, self.batch = int(t_ref), float(sal_lr), int(batch_size)
        self.dtype = dtype
        self.generator = generator if generator is not None else torch.Generator()
        psp, causal, anti, self.decay, self.log_t_ref, self.min_isi, self.L = kernels(
            t_ref, buffer_length
        )
        if not (psp == 1.0).all() or len(psp) != self.min_isi - 1:
            raise ValueError("SALNet fast path needs the rect PSP of length t_ref")
        self.a_plus, self.a_minus = float(causal[0]), float(anti[0])
        self.decay_L = self.decay**self.L
        self.W, self.B, self.b = init_params(self.sizes, self.generator, dtype)
        if chunk is None:
            chunk = max(1, min(64, math.ceil(1024 / self.batch)))
        self.chunk = int(chunk)
        self.off = [0]
        for n in self.sizes:
            self.off.append(self.off[-1] + n)
        self.N = self.off[-1]
        self._alloc()

    # -- state ---------------------------------------------------------------------------
    def _alloc(self):
        N, bt, dt = self.N, self.batch, self.dtype
        self.count = torch.zeros(N, bt, dtype=dt)
        self.trace = torch.zeros(N, bt, dtype=dt)
        self.ring = torch.zeros(self.L, N, bt, dtype=dt)
        self.u = torch.empty(N, bt, dtype=dt)
        self.rand = torch.empty(N, bt, dtype=dt)
        self.spk_bool = torch.empty(N, bt, dtype=torch.bool)
        self.s = torch.zeros(N, bt, dtype=dt)
        self.sbuf = torch.zeros(N, self.chunk, bt, dtype=dt)
        self.tbuf = torch.zeros(N, self.chunk, bt, dtype=dt)
        self.k = 0
        self.t = 0
        self.dB = [
            torch.zeros(self.sizes[l], self.sizes[l + 1], dtype=torch.float64)
            for l in range(len(self.sizes) - 1)
        ]
        self.n_spikes = torch.zeros(len(self.sizes), dtype=torch.float64)

    def _sl(self, x, l):
        return x[self.off[l] : self.off[l + 1]]

    def reset_state(self):
        """Back to rest (no spikes in the past) and an empty update."""
        self._alloc()

    # -- dynamics ------------------------------------------------------------------------
    def _potentials(self):
        D = len(self.sizes)
        for l in range(D):
            u = self._sl(self.u, l)
            bias = (self.b[l] - self.log_t_ref)[:, None]
            if l > 0:
                torch.addmm(bias, self.W[l], self._sl(self.count, l - 1), out=u)
                if l < D - 1:
                    u.addmm_(self.B[l], self._sl(self.count, l + 1))
            else:
                torch.addmm(bias, self.B[l], self._sl(self.count, l + 1), out=u)

    def step(self) -> torch.Tensor:
        """One time step; returns the spikes ``(N, batch)`` (a view, overwritten next step)."""
        self._potentials()
        torch.rand(self.N, self.batch, generator=self.generator, dtype=self.dtype, out=self.rand)
        p = torch.sigmoid(self.u, out=self.u)
        p.sub_(self.count)
        torch.gt(p, self.rand, out=self.spk_bool)
        s = self.s
        s.copy_(self.spk_bool)
        ring = self.ring
        t = self.t
        self.count.add_(s).sub_(ring[(t - self.t_ref) % self.L])
        self.trace.mul_(self.decay).add_(s).sub_(ring[t % self.L], alpha=self.decay_L)
        ring[t % self.L].copy_(s)
        self.sbuf[:, self.k].copy_(s)
        self.tbuf[:, self.k].copy_(self.trace)
        self.k += 1
        self.t += 1
        if self.k == self.chunk:
            self._flush()
        return s

    def _flush(self):
        k = self.k
        if k == 0:
            return
        S = self.sbuf[:, :k].reshape(self.N, -1)
        T = self.tbuf[:, :k].reshape(self.N, -1)
        for l in range(len(self.sizes) - 1):
            Tl, Sn = self._sl(T, l), self._sl(S, l + 1)
            Sl, Tn = self._sl(S, l), self._sl(T, l + 1)
            d = torch.mm(Tl, Sn.t())
            if self.a_minus != 1.0:
                d.mul_(self.a_minus)
            d.addmm_(Sl, Tn.t(), alpha=self.a_plus)
            self.dB[l] += d
        for l in range(len(self.sizes)):
            self.n_spikes[l] += float(self._sl(S, l).sum())
        self.k = 0

    def run(self, n_steps: int, progress=None):
        """``n_steps`` steps under ``torch.no_grad``, accumulating ``dB``; ``progress`` is an
        optional tqdm bar updated per step."""
        with torch.no_grad():
            for _ in range(int(n_steps)):
                self.step()
                if progress is not None:
                    progress.update(1)
            self._flush()

    def apply_update(self) -> list[torch.Tensor]:
        """``B_l += sal_lr * mean_batch(dB_l) / L``; resets ``dB``; returns the applied
        per-copy means ``mean_batch(dB_l) / L``."""
        self._flush()
        out = []
        for l, d in enumerate(self.dB):
            dw = d / float(self.batch * self.L)
            self.B[l] += (self.sal_lr * dw).to(self.dtype)
            d.zero_()
            out.append(dw)
        return out

    def phase(self, n_steps: int, progress=None) -> list[torch.Tensor]:
        """One SAL phase: ``n_steps`` steps, then one update."""
        self.run(n_steps, progress)
        return self.apply_update()

    # -- weights ---------------------------------------------------------------------------
    def alignment(self) -> list[dict[str, float]]:
        """Per layer pair ``l``: alignment of ``W_{l+1}`` and ``B_l^T`` (:mod:`.align`)."""
        return [alignment(self.W[l + 1], self.B[l].t()) for l in range(len(self.sizes) - 1)]

    def load_from_fc(self, fc_layers):
        """Copy W, b of fc_1..fc_{D-1} and ``B_l = fc_{l+1}.fb_weight^T``; ``b_0`` keeps its
        own (random) value: the conv net has no counterpart (upstream). A layer without
        bias gives ``b_l = 0``."""
        with torch.no_grad():
            for l, layer in enumerate(fc_layers, start=1):
                self.W[l] = layer.weight.detach().to(self.dtype).clone()
                self.b[l] = (
                    layer.bias.detach().to(self.dtype).clone()
                    if layer.bias is not None
                    else torch.zeros_like(self.b[l])
                )
                self.B[l - 1] = layer.fb_weight.detach().t().to(self.dtype).contiguous()

    def store_to_fc(self, fc_layers):
        """Write ``B_l^T`` back into ``fc_{l+1}.fb_weight`` (the only values SAL changes)."""
        with torch.no_grad():
            for l, layer in enumerate(fc_layers, start=1):
                layer.fb_weight.copy_(self.B[l - 1].t())

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        self._flush()
        return {
            "W": self.W,
            "B": self.B,
            "b": self.b,
            "count": self.count,
            "trace": self.trace,
            "ring": self.ring,
            "t": self.t,
            "dB": self.dB,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, st: dict):
        self.W, self.B, self.b = list(st["W"]), list(st["B"]), list(st["b"])
        self.count.copy_(st["count"])
        self.trace.copy_(st["trace"])
        self.ring.copy_(st["ring"])
        self.t = int(st["t"])
        for d, v in zip(self.dB, st["dB"], strict=True):
            d.copy_(v)
        self.generator.set_state(st["generator"])
