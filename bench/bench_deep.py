"""Deep-benchmark throughput; one figure per line, ``name: value unit``.

* SALNet ms per step, fast vs reference, sizes [1600, 384, 192, 10], batch 32 (target:
  fast <= 4 ms), and the ratio;
* training time per batch (128 Fashion-MNIST-shaped images) of every variant and the epoch
  time relative to BP. An epoch is ``n_batches`` training batches plus, for SAL and RDD, the
  spiking phase (SAL: 5 x 2000 steps at batch 32; RDD: 90,000 steps), both extrapolated from
  measured per-batch and per-step times (goal: <= 1.1x BP for FA, KP and SCFA).

    PYTHONPATH=src python bench/bench_deep.py [--threads 1] [--batches 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def per_call(fn, n: int, warm: int = 2, repeats: int = 1) -> float:
    """Seconds per call: the fastest of ``repeats`` blocks of ``n`` calls (robust against
    other processes on a shared machine)."""
    for _ in range(warm):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--salnet-steps", type=int, default=500)
    ap.add_argument("--reference-steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="blocks per figure; fastest wins")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from spikealign.deep.convnet import ConvNet, loss_fn
    from spikealign.deep.rdd import RDDNet, rdd_phase
    from spikealign.deep.salnet import SALNet
    from spikealign.deep.salnet_reference import SALNetReference

    sizes = [1600, 384, 192, 10]
    fast = SALNet(sizes, batch_size=32, generator=torch.Generator().manual_seed(0))
    fast.run(100)
    t_fast = per_call(fast.step, args.salnet_steps, repeats=args.repeats)
    ref = SALNetReference(sizes, batch_size=32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        t_ref = per_call(ref.step, args.reference_steps, warm=1)
    print(f"salnet_fast_ms_per_step: {t_fast * 1e3:.2f} ms")
    print(f"salnet_reference_ms_per_step: {t_ref * 1e3:.1f} ms")
    print(f"salnet_fast_speedup: {t_ref / t_fast:.1f} x")

    # training throughput on Fashion-MNIST-shaped batches
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    n_batches = 60000 // 128 + 1
    algos = ("bp", "bp_fa", "fa", "kp", "scfa", "sal", "rdd")
    steps = {}
    for algo in algos:
        net = ConvNet(algo, 1, (28, 28), generator=torch.Generator().manual_seed(0))
        opt = torch.optim.SGD(net.param_groups(0.001), lr=0.01, momentum=0.9)

        def train_step(net=net, opt=opt):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x), y).backward()
            opt.step()

        steps[algo] = train_step
        for _ in range(2):
            train_step()
    # interleaved rounds, fastest round per variant: fair under changing machine load
    per_batch = {a: float("inf") for a in algos}
    for _ in range(args.repeats):
        for algo in algos:
            per_batch[algo] = min(per_batch[algo], per_call(steps[algo], args.batches, warm=0))
    for algo in algos:
        print(f"train_batch_ms_{algo}: {per_batch[algo] * 1e3:.1f} ms")
    fm = [1024, 384, 192, 10]
    sal = SALNet(fm, batch_size=32, generator=torch.Generator().manual_seed(1))
    sal.run(100)
    sal_step = per_call(sal.step, args.salnet_steps, repeats=args.repeats)
    rdd = RDDNet(fm)
    rng = np.random.default_rng(0)
    W = [None] + [rng.uniform(-0.05, 0.05, (fm[i], fm[i - 1])) for i in range(1, 4)]
    B = [rng.uniform(-0.05, 0.05, (fm[i], fm[i + 1])) for i in range(3)]
    rdd.set_weights(W, B)
    rdd_phase(rdd, 300, rng)
    t0 = time.perf_counter()
    rdd_phase(rdd, 3000, rng)
    rdd_step = (time.perf_counter() - t0) / 3000
    print(f"sal_phase_ms_per_step_fmnist: {sal_step * 1e3:.2f} ms")
    print(f"rdd_phase_ms_per_step_fmnist: {rdd_step * 1e3:.3f} ms")
    epoch = {a: per_batch[a] * n_batches for a in per_batch}
    epoch["sal"] += 10_000 * sal_step
    epoch["rdd"] += 90_000 * rdd_step
    print(f"epoch_time_bp_fmnist: {epoch['bp']:.1f} s")
    for algo in ("bp_fa", "fa", "kp", "scfa", "sal", "rdd"):
        print(f"epoch_time_ratio_{algo}_vs_bp: {epoch[algo] / epoch['bp']:.2f} x")


if __name__ == "__main__":
    main()
