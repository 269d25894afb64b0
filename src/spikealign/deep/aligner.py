"""The spiking alignment phase for any converted model: :class:`Aligner`.

``Aligner(model, algo)`` works on a *chain* of converted linear layers whose feedback is a
free matrix (converted with fa, kp, sal, rdd or stdwi; default: every such layer, in
``named_modules()`` order, consecutive sizes matching; or the qualified names given as
``chain``; frSF, brSF, uSF, DFA and exact layers are refused by name: their feedback is not a
matrix the phase could set) of sizes ``[n_0, n_1, ..., n_D]``
(``n_0`` the first layer's ``in_features``). Each :meth:`Aligner.step` rewrites the layers'
``fb_weight`` and nothing else:

* ``sal``: the fast SALNet (:mod:`.salnet`) over the chain: copy W, b and ``B_{l-1} = fb^T``
  of every layer in (the SALNet's state persists between steps), run ``n_iterations`` phases
  of ``len_epoch * t_ref`` steps, each followed by one SAL update of B, copy B back (as the
  paper's training loop does for the conv net's FC layers);
* ``rdd``: reset the RDD network (:mod:`.rdd`), copy W and B, run one phase of ``rdd_time``
  simulated seconds with updates every ``update_every`` steps, copy B back;
* ``stdwi``: per layer independently, ``duration_ms`` of STDWI (:mod:`.stdwi`) starting from
  its current B (STDWI infers one layer pair at a time); the simulated layer uses W rescaled
  to standard deviation ``1/sqrt(in_features)`` (the scale of figure 7) and the inferred B is
  rescaled to the Frobenius norm B had before (STDWI sets its direction, not its size).

Call :meth:`step` between epochs or :meth:`maybe_step` with the batch index every batch (it
steps every ``every`` batches). A tqdm bar (:func:`spikealign.progress.progress`) shows the
spiking steps unless ``progress=False``. Randomness: ``generator`` (SAL, a torch.Generator)
or ``rng`` (RDD and STDWI, a numpy Generator); default seeds ``seed``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..progress import progress as make_bar
from .conversion import alignment, linear_chain

ALIGNER_ALGOS = ("sal", "rdd", "stdwi")
SAL_DEFAULTS = {
    "n_iterations": 5,
    "t_ref": 10,
    "len_epoch": 200,
    "sal_lr": 0.04,
    "batch_size": 32,
    "buffer_length": 2,
}
RDD_DEFAULTS = {"rdd_time": 90.0, "update_every": 10_000}
STDWI_DEFAULTS = {"duration_ms": 2000.0}


class Aligner:
    """Spiking alignment of the feedback matrices of a chain of converted linear layers."""

    def __init__(
        self,
        model,
        algo: str = "sal",
        *,
        chain: list[str] | None = None,
        every: int | None = None,
        seed: int = 0,
        generator: torch.Generator | None = None,
        rng: np.random.Generator | None = None,
        progress: bool = True,
        **options,
    ):
        if algo not in ALIGNER_ALGOS:
            raise ValueError(
                f"Aligner: algo must be one of {', '.join(ALIGNER_ALGOS)} (got {algo!r})"
            )
        if every is not None and every < 1:
            raise ValueError(f"Aligner: every must be >= 1 (got {every})")
        defaults = {"sal": SAL_DEFAULTS, "rdd": RDD_DEFAULTS, "stdwi": STDWI_DEFAULTS}[algo]
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise ValueError(
                f"Aligner({algo}): unknown option {', '.join(unknown)} "
                f"(allowed: {', '.join(defaults)})"
            )
        self.algo, self.every, self.show = algo, every, progress
        self.options = {**defaults, **options}
        self.model = model
        self.chain = linear_chain(model, chain)
        self.names = [n for n, _ in self.chain]
        self.layers = [m for _, m in self.chain]
        self.sizes = [self.layers[0].in_features] + [m.out_features for m in self.layers]
        self.salnet = self.rddnet = None
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.n_steps = 0
        if algo == "sal":
            from .salnet import SALNet

            o = self.options
            self.salnet = SALNet(
                self.sizes,
                t_ref=o["t_ref"],
                sal_lr=o["sal_lr"],
                batch_size=o["batch_size"],
                buffer_length=o["buffer_length"],
                generator=generator
                if generator is not None
                else torch.Generator().manual_seed(seed),
            )
        elif algo == "rdd":
            from .rdd import RDDNet

            self.rddnet = RDDNet(self.sizes)

    def total_steps(self) -> int:
        """Simulation steps of one :meth:`step` (STDWI: stimulus periods)."""
        o = self.options
        if self.algo == "sal":
            return o["len_epoch"] * o["t_ref"] * o["n_iterations"]
        if self.algo == "rdd":
            from .rdd import rdd_steps

            return rdd_steps(o["rdd_time"])
        return len(self.layers)

    def step(self, progress: bool | None = None) -> dict[str, dict[str, float]]:
        """One alignment phase; returns :func:`alignment` of the chain's layers after it."""
        show = self.show if progress is None else progress
        t0 = time.perf_counter()
        bar = make_bar(
            self.total_steps(),
            f"{self.algo.upper()} phase",
            "layer" if self.algo == "stdwi" else "step",
            disable=not show,
            leave=False,
        )
        try:
            getattr(self, f"_{self.algo}")(bar)
        finally:
            bar.close()
        self.n_steps += 1
        self.last_time_s = time.perf_counter() - t0
        return self.alignment()

    def maybe_step(self, batch_idx: int, progress: bool | None = None):
        """:meth:`step` after every ``every``-th batch (``batch_idx`` counts from 0); returns
        the alignment when it stepped, else None."""
        if self.every is None:
            raise ValueError("Aligner.maybe_step needs every=N (batches between phases)")
        if (batch_idx + 1) % self.every == 0:
            return self.step(progress)
        return None

    def alignment(self) -> dict[str, dict[str, float]]:
        full = alignment(self.model)
        return {n: full[n] for n in self.names if n in full}

    # -- the three mechanisms ------------------------------------------------------------
    def _sal(self, bar):
        o = self.options
        steps = o["len_epoch"] * o["t_ref"]
        self.salnet.load_from_fc(self.layers)
        for _ in range(o["n_iterations"]):
            self.salnet.phase(steps, bar)
        self.salnet.store_to_fc(self.layers)

    def _rdd(self, bar):
        from .rdd import rdd_phase, rdd_steps

        o = self.options
        self.rddnet.reset()
        W = [None] + [f.weight.detach().double().cpu().numpy() for f in self.layers]
        B = [f.fb_weight.detach().double().cpu().numpy().T for f in self.layers]
        self.rddnet.set_weights(W, B)
        rdd_phase(self.rddnet, rdd_steps(o["rdd_time"]), self.rng, bar, o["update_every"])
        with torch.no_grad():
            for f, b in zip(self.layers, self.rddnet.feedback(), strict=True):
                f.fb_weight.copy_(torch.from_numpy(b.T.copy()))

    def _stdwi(self, bar):
        from .stdwi import stdwi

        for f in self.layers:
            W = f.weight.detach().double().cpu().numpy()
            B0 = f.fb_weight.detach().double().cpu().numpy()
            sd = W.std()
            Ws = W / (sd * np.sqrt(W.shape[1])) if sd > 0 else W
            B, *_ = stdwi(Ws, B0, self.options["duration_ms"], self.rng)
            nb, n0 = np.linalg.norm(B), np.linalg.norm(B0)
            if nb > 0 and n0 > 0:
                B = B * (n0 / nb)
            with torch.no_grad():
                f.fb_weight.copy_(torch.from_numpy(B))
            bar.update(1)

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        st = {
            "algo": self.algo,
            "names": self.names,
            "n_steps": self.n_steps,
            "rng": self.rng.bit_generator.state,
        }
        if self.salnet is not None:
            st["salnet"] = self.salnet.state_dict()
        if self.rddnet is not None:
            st["rdd"] = self.rddnet.state_dict()
        return st

    def load_state_dict(self, st: dict):
        if st["algo"] != self.algo or list(st["names"]) != self.names:
            raise ValueError(
                f"Aligner.load_state_dict: state of another aligner ({st['algo']} on {st['names']})"
            )
        self.n_steps = int(st["n_steps"])
        self.rng.bit_generator.state = st["rng"]
        if self.salnet is not None:
            self.salnet.load_state_dict(st["salnet"])
        if self.rddnet is not None:
            self.rddnet.load_state_dict(st["rdd"])
