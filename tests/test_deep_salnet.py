"""SALNet: the fast implementation against the buffer reference; SAL aligns B with W."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikealign.deep.salnet import SALNet  # noqa: E402
from spikealign.deep.salnet_reference import SALNetReference  # noqa: E402
from spikealign.neuron import min_isi_ssn  # noqa: E402
from spikealign.stdp import sal_window  # noqa: E402

torch.set_num_threads(1)

SIZES = [24, 16, 12, 5]


def _pair(dtype, seed=3, batch=4, chunk=7, t_ref=10, lr=0.5):
    fast = SALNet(
        SIZES,
        t_ref=t_ref,
        sal_lr=lr,
        batch_size=batch,
        dtype=dtype,
        generator=torch.Generator().manual_seed(seed),
        chunk=chunk,
    )
    ref = SALNetReference(
        SIZES,
        t_ref=t_ref,
        sal_lr=lr,
        batch_size=batch,
        dtype=dtype,
        generator=torch.Generator().manual_seed(seed),
    )
    return fast, ref


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fast_equals_reference(dtype):
    fast, ref = _pair(dtype)
    for a, b in zip(fast.B, ref.B, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    n_spikes = 0
    for _phase in range(2):
        for _ in range(300):
            s_fast = fast.step().clone()
            s_ref = torch.cat([s.t() for s in ref.step()], 0).to(dtype)
            assert torch.equal(s_fast, s_ref), f"spikes differ at step {fast.t}"
            n_spikes += int(s_fast.sum())
        d_fast, d_ref = fast.apply_update(), ref.apply_update()
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        for a, b in zip(d_fast, d_ref, strict=True):
            scale = float(b.abs().max())
            assert scale > 0
            assert float((a - b.double()).abs().max()) <= tol * scale
        for a, b in zip(fast.B, ref.B, strict=True):
            if a is not None:
                assert torch.allclose(a, b, rtol=0, atol=tol)
    assert n_spikes > 1000


def test_refractoriness_and_rates():
    net = SALNet([60, 40], t_ref=10, batch_size=8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.b[0].fill_(8.0)  # near-saturated: spikes at the minimum interval
        net.b[1].fill_(-50.0)  # silent
        net.B[0].zero_()
        net.W[1].zero_()
    spikes = torch.stack([net.step().clone() for _ in range(200)])
    s0 = spikes[:, :60]
    assert spikes[:, 60:].sum() == 0
    t, i, c = torch.nonzero(s0, as_tuple=True)
    key = i * 8 + c
    for k in torch.unique(key)[:20]:
        times = t[key == k]
        assert int(torch.diff(times).min()) >= min_isi_ssn(10)
    rate = float(s0[20:].mean())
    assert abs(rate - 1 / 11) < 0.01


def test_kernels_from_core():
    causal, anti = sal_window(tau=10).trace_tables(20)
    assert causal[0] == -1.0 and anti[0] == 1.0
    assert np.allclose(anti, np.exp(-np.arange(20) / 10))
    assert math.isclose(sal_window(tau=10).trace_decay(), math.exp(-0.1))
    net = SALNet([3, 3])
    assert (net.a_plus, net.a_minus, net.L) == (-1.0, 1.0, 20)


def test_state_roundtrip_continues_identically():
    a = SALNet(SIZES, batch_size=3, generator=torch.Generator().manual_seed(5))
    a.run(57)
    st = a.state_dict()
    b = SALNet(SIZES, batch_size=3, generator=torch.Generator().manual_seed(99))
    b.load_state_dict(st)
    for _ in range(40):
        assert torch.equal(a.step(), b.step())
    da, db = a.apply_update(), b.apply_update()
    assert all(torch.equal(x, y) for x, y in zip(da, db, strict=True))


def test_sal_reduces_angle():
    net = SALNet(
        [40, 40], t_ref=10, sal_lr=0.2, batch_size=8, generator=torch.Generator().manual_seed(2)
    )
    before = net.alignment()[0]["angle"]
    assert 75 < before < 105
    for _ in range(15):
        net.phase(1000)
    after = net.alignment()[0]["angle"]
    assert after < before - 15, (before, after)
