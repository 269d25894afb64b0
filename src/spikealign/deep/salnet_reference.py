"""SALNet, reference implementation: the buffer formulation of upstream ``symmnet.sal_net``.

Each layer keeps its last ``L`` spikes in a buffer (index 0 newest); PSPs and STDP traces are
filters over the buffers, ``value = sum_k kern[k] s(t-k)``; the STDP update is accumulated per
copy as batched outer products. Readable and slow; :mod:`.salnet` is the fast twin and must
give the same spikes and the same update for the same generator (``tests/test_deep_salnet.py``).
Equations: :mod:`.salnet_common`.
"""

from __future__ import annotations

import torch

from .salnet_common import check_sizes, init_params, kernels


class SALNetReference:
    def __init__(
        self,
        sizes,
        t_ref: int = 10,
        sal_lr: float = 0.04,
        batch_size: int = 1,
        buffer_length: int = 2,
        dtype=torch.float32,
        generator: torch.Generator | None = None,
    ):
        self.sizes = check_sizes(sizes)
        self.t_ref, self.sal_lr, self.batch = int(t_ref), float(sal_lr), int(batch_size)
        self.dtype = dtype
        self.generator = generator if generator is not None else torch.Generator()
        psp, causal, anti, _, self.log_t_ref, self.min_isi, self.L = kernels(t_ref, buffer_length)
        self.psp_kern = torch.tensor(psp, dtype=dtype)
        self.causal = torch.tensor(causal, dtype=dtype)
        self.anti = torch.tensor(anti, dtype=dtype)
        self.W, self.B, self.b = init_params(self.sizes, self.generator, dtype)
        D, bt = len(self.sizes), self.batch
        self.buf = [torch.zeros(bt, n, self.L, dtype=dtype) for n in self.sizes]
        self.counter = [torch.full((bt, n), float("inf"), dtype=dtype) for n in self.sizes]
        self.dB = [
            torch.zeros(bt, self.sizes[l], self.sizes[l + 1], dtype=dtype) for l in range(D - 1)
        ]
        self.t = 0

    @staticmethod
    def _filter(buf, kern):
        return (buf[:, :, : kern.shape[0]] * kern).sum(-1)

    def step(self) -> list[torch.Tensor]:
        D = len(self.sizes)
        psp = [self._filter(b, self.psp_kern) for b in self.buf]
        u = []
        for l in range(D):
            v = self.b[l].expand(self.batch, -1).clone()
            if l > 0:
                v = v + psp[l - 1] @ self.W[l].t()
            if l < D - 1:
                v = v + psp[l + 1] @ self.B[l].t()
            u.append(v)
        rand = torch.rand(
            sum(self.sizes), self.batch, generator=self.generator, dtype=self.dtype
        ).t()
        spikes, off = [], 0
        for l, n in enumerate(self.sizes):
            p = torch.sigmoid(u[l] - self.log_t_ref)
            s = (p > rand[:, off : off + n]) & (self.counter[l] >= self.min_isi)
            off += n
            self.counter[l] += 1.0
            self.counter[l][s] = 1.0
            self.buf[l] = torch.roll(self.buf[l], 1, dims=2)
            self.buf[l][:, :, 0] = s.to(self.dtype)
            spikes.append(s)
        for l in range(D - 1):
            post, pre = self.buf[l], self.buf[l + 1]
            trace_pre = self._filter(pre, self.causal)
            trace_post = self._filter(post, self.anti)
            self.dB[l] += post[:, :, 0, None] * trace_pre[:, None, :]
            self.dB[l] += trace_post[:, :, None] * pre[:, None, :, 0]
        self.t += 1
        return spikes

    def apply_update(self) -> list[torch.Tensor]:
        """``B_l += sal_lr * mean_batch(dB_l) / L``; returns the applied ``dB_l`` means / L."""
        out = []
        for l, d in enumerate(self.dB):
            dw = d.mean(0) / float(self.L)
            self.B[l] += self.sal_lr * dw
            d.zero_()
            out.append(dw)
        return out
