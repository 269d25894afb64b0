"""Evaluation of a spiking Boltzmann machine.

* Classification (:func:`classify`): clamp the image to the visible units, let label and hidden
  units run free for ``eval.steps`` steps; the prediction is the label unit with the most spikes
  (ties broken at random). Test accuracy = fraction of correct predictions.
* Pattern completion (:func:`complete`): clamp the upper half of an image (rows
  ``0 .. H/2 - 1``) and free the rest; a free pixel reads 1 if it was on more than half of the
  time (``counts t_ref / steps > 1/2``). Score: fraction of the occluded pixels that are right.
* Visible marginal (small networks): exact, by enumerating all states with
  :func:`spikealign.boltzmann.exact_distribution` and summing over the hidden units (an
  asymmetric ``W`` enters through ``(W + W^T) / 2``: the Boltzmann machine that the symmetric
  part defines), and sampled, from the state histogram of a long free phase; D_KL(data || q).
"""

from __future__ import annotations

import numpy as np

from ..boltzmann import MAX_EXACT_DIM, exact_distribution, kl_divergence
from .data import Dataset
from .model import BoltzmannMachine


def classify(net: BoltzmannMachine, images, steps: int, rng: np.random.Generator):
    """Predicted class per image and the label spike counts ``(n_images, n_label)``."""
    if net.n_label == 0:
        raise ValueError("classify: the network has no label units")
    counts = np.zeros((len(images), net.n_label), dtype=np.int64)
    for k, x in enumerate(images):
        counts[k] = net.phase(steps, rng, net.clamp_vector(x)).counts[net.label]
    jitter = rng.uniform(0.0, 0.5, size=counts.shape)  # < 1 spike: only breaks ties
    return np.argmax(counts + jitter, axis=1), counts


def completion_mask(shape: tuple[int, int]) -> np.ndarray:
    """Visible units hidden from the network: the lower half of the image."""
    h, w = shape
    m = np.zeros((h, w), dtype=bool)
    m[h // 2 :] = True
    return m.ravel()


def complete(net: BoltzmannMachine, images, shape, steps: int, rng: np.random.Generator):
    """Fraction of correctly completed occluded pixels and the completions (module doc)."""
    free = completion_mask(shape)
    out = np.zeros((len(images), net.n_visible), dtype=np.uint8)
    for k, x in enumerate(images):
        st = net.phase(steps, rng, net.clamp_vector(x, visible_free=free))
        on = st.counts[net.visible] * net.params.t_ref / steps
        out[k] = np.where(free, on > 0.5, x)
    images = np.asarray(images)
    return float(np.mean(out[:, free] == images[:, free])), out


def visible_marginal_exact(W, b, n_visible: int) -> np.ndarray:
    """Exact marginal over the visible units (first ``n_visible``) of the Boltzmann machine
    ``(W, b)``, summing out the others."""
    n = len(b)
    if n > MAX_EXACT_DIM:
        raise ValueError(f"exact marginal: at most {MAX_EXACT_DIM} units (got {n})")
    p, _ = exact_distribution(W, b)
    return p.reshape(2**n_visible, 2 ** (n - n_visible)).sum(axis=1)


def visible_marginal_sampled(hist, n: int, n_visible: int) -> np.ndarray:
    """Sampled visible marginal from a ``2^n`` state histogram (visible units first)."""
    h = np.asarray(hist, dtype=float).reshape(2**n_visible, 2 ** (n - n_visible)).sum(axis=1)
    return h / h.sum()


def marginal_dkls(net: BoltzmannMachine, data: Dataset, steps: int, rng):
    """``(D_KL(data || sampled), D_KL(data || exact), sampled marginal)`` (no label units)."""
    p = data.distribution()
    hist = net.sample(steps, rng)
    q_s = visible_marginal_sampled(hist, net.n, net.n_visible)
    q_e = visible_marginal_exact(net.W, net.b, net.n_visible)
    return kl_divergence(p, q_s), kl_divergence(p, q_e), q_s


#: seeds of the evaluation generators of each part (with seed.sim and the epoch)
PART_STREAM = {"validation": 7, "test": 11}


def score(res: dict) -> float:
    """Higher is better: the accuracy, else minus the exact D_KL, else the completion."""
    for key, sign in (("accuracy", 1.0), ("dkl_exact", -1.0), ("completion", 1.0)):
        if not np.isnan(res[key]):
            return sign * res[key]
    return -np.inf


def evaluate(
    net: BoltzmannMachine, data: Dataset, cfg, *, epoch: int, final: bool, part: str = "validation"
) -> dict:
    """The scores of one evaluation on the ``part`` images (``"validation"`` or ``"test"``;
    NaN where not applicable); all of them when ``final``, else the first
    ``eval.n_validation``. The random draws come from ``Generator([seed.sim, s, epoch])``
    (``s`` = :data:`PART_STREAM`; training's generator is left alone)."""
    if part not in PART_STREAM:
        raise ValueError(f"part must be validation or test (got {part!r})")
    rng = np.random.default_rng([cfg.seed.sim, PART_STREAM[part], epoch])
    ev = cfg.eval
    x, y = data.part(part)
    res = {
        "accuracy": np.nan,
        "completion": np.nan,
        "dkl_sampled": np.nan,
        "dkl_exact": np.nan,
        "n_eval": 0,
    }
    if net.n_label:
        n = len(x) if final or ev.n_validation is None else min(ev.n_validation, len(x))
        pred, _ = classify(net, x[:n], ev.steps, rng)
        res["accuracy"] = float(np.mean(pred == y[:n]))
        res["n_eval"] = n
    if ev.completion:
        k = min(ev.completion, len(x))
        res["completion"] = complete(net, x[:k], data.shape, ev.steps, rng)[0]
    if data.n_classes == 0 and net.n <= 20 and part == "validation":
        ds, de, _ = marginal_dkls(net, data, ev.dkl_steps, rng)
        res["dkl_sampled"], res["dkl_exact"] = ds, de
    return res
