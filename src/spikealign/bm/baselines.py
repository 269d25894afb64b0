"""Baselines for the spiking Boltzmann machine, on the same split and the same binary input.

Every baseline chooses its hyperparameters on the validation images (a small grid, and for
the iterative ones the epoch with the best validation accuracy) and is evaluated once on the
test images with that choice (:func:`run_baselines`):

* ``logistic_regression``: multinomial logistic regression on the binary pixels
  (``C`` in :data:`LR_C`);
* ``knn``: k-nearest neighbours, Euclidean (= Hamming on binary pixels), ``k`` in
  :data:`KNN_K`;
* ``mlp``: a multilayer perceptron with one hidden layer of ``n_hidden`` ReLU units (Adam,
  L2 penalty ``alpha`` in :data:`MLP_ALPHA`, at most 300 epochs, stopped when 10 % of the
  training images held out inside scikit-learn stop improving);
* ``bernoulli_rbm_lr``: scikit-learn's ``BernoulliRBM`` with ``n_hidden`` units (unsupervised,
  on the training images) and logistic regression on its hidden probabilities;
* ``boltzmann_cd1`` and ``boltzmann_pcd``: a **non-spiking Boltzmann machine of the spiking
  machine's architecture** (:class:`ClassRBM`): binary visible and label units (the data
  layer) connected to ``n_hidden`` binary hidden units, weights learned by contrastive
  divergence with one block-Gibbs step from the data (CD-1) or with persistent chains (PCD),
  positive statistics exact (the hidden units are conditionally independent given the data),
  negative statistics from the Gibbs samples; classification by the exact ``p(y | x)`` over
  the one-hot labels. It is what the same model reaches without spikes: the reference that
  says what the spiking dynamics cost.

The task's data come from :func:`spikealign.bm.data.load_task` with the run config's
``data`` section, so ``data.n_train`` (and ``--scale quick``) apply to the baselines too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

LR_C = (0.01, 0.1, 1.0, 10.0)
KNN_K = (1, 3, 5, 7, 9)
MLP_ALPHA = (1e-4, 1e-3, 1e-2, 1e-1)
RBM_LR_C = (0.1, 1.0, 10.0)
#: the non-spiking Boltzmann machine: learning rates tried, epochs (the best epoch on
#: validation is kept), minibatch size (as the spiking machine's presets)
CRBM_LR = (0.02, 0.05, 0.1, 0.2)
CRBM_EPOCHS = 100
CRBM_BATCH = 20
NAMES = ("logistic_regression", "knn", "mlp", "bernoulli_rbm_lr", "boltzmann_cd1", "boltzmann_pcd")


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x):
    return np.logaddexp(0.0, x)


@dataclass
class ClassRBM:
    """A (non-spiking) restricted Boltzmann machine over visible ``v``, label ``y`` (binary
    units, one-hot in the data) and hidden ``h`` units,

        E(v, y, h) = -a.v - d.y - c.h - h.(W v) - h.(U y),

    the architecture of the spiking machine's ``rbm`` connectivity with tied (symmetric)
    weights. ``W`` is (n_hidden, n_visible), ``U`` (n_hidden, n_label)."""

    W: np.ndarray
    U: np.ndarray
    a: np.ndarray
    d: np.ndarray
    c: np.ndarray

    @classmethod
    def init(
        cls,
        n_visible: int,
        n_label: int,
        n_hidden: int,
        rng,
        x_train=None,
        weight_std: float = 0.05,
    ) -> ClassRBM:
        a = np.zeros(n_visible)
        if x_train is not None:  # visible biases at the log-odds of the pixel means
            p = np.clip(np.mean(x_train, axis=0), 0.02, 0.98)
            a = np.log(p / (1 - p))
        return cls(
            rng.normal(0, weight_std, (n_hidden, n_visible)),
            rng.normal(0, weight_std, (n_hidden, n_label)),
            a,
            np.full(n_label, np.log(1.0 / (n_label - 1))),
            np.zeros(n_hidden),
        )

    def hidden_probs(self, v, y):
        return _sigmoid(self.c + v @ self.W.T + y @ self.U.T)

    def free_energy_per_class(self, x) -> np.ndarray:
        """``F(x, e_k)`` for every class ``k``: ``(n_images, n_label)``; ``p(y = k | x)`` is
        the softmax of ``-F``."""
        base = self.c + x @ self.W.T  # (n, H)
        pre = base[:, None, :] + self.U.T[None, :, :]  # (n, K, H)
        return -(x @ self.a)[:, None] - self.d[None, :] - _softplus(pre).sum(-1)

    def predict(self, x) -> np.ndarray:
        return np.argmin(self.free_energy_per_class(x), axis=1)

    def gibbs(self, v, y, rng):
        """One block-Gibbs sweep: h | (v, y), then (v, y) | h (independent binary units)."""
        h = (rng.random((len(v), len(self.c))) < self.hidden_probs(v, y)).astype(float)
        pv = _sigmoid(self.a + h @ self.W)
        py = _sigmoid(self.d + h @ self.U)
        v = (rng.random(pv.shape) < pv).astype(float)
        y = (rng.random(py.shape) < py).astype(float)
        return v, y

    def update(self, v0, y0, vn, yn, lr: float) -> None:
        """Contrastive-divergence step: exact hidden expectations at the data and at the
        negative samples."""
        h0 = self.hidden_probs(v0, y0)
        hn = self.hidden_probs(vn, yn)
        m = len(v0)
        self.W += lr * (h0.T @ v0 - hn.T @ vn) / m
        self.U += lr * (h0.T @ y0 - hn.T @ yn) / m
        self.a += lr * (v0.mean(0) - vn.mean(0))
        self.d += lr * (y0.mean(0) - yn.mean(0))
        self.c += lr * (h0.mean(0) - hn.mean(0))


def train_class_rbm(
    x_train,
    y_train,
    x_val,
    y_val,
    n_hidden: int,
    rng,
    *,
    method: str,
    lr: float,
    epochs: int = CRBM_EPOCHS,
    batch: int = CRBM_BATCH,
    n_label: int = 10,
):
    """Train a :class:`ClassRBM` by CD-1 or PCD; returns the model of the epoch with the best
    validation accuracy and that accuracy and epoch."""
    if method not in ("cd1", "pcd"):
        raise ValueError(f"method must be cd1 or pcd (got {method!r})")
    x = np.asarray(x_train, dtype=float)
    y = np.eye(n_label)[np.asarray(y_train)]
    model = ClassRBM.init(x.shape[1], n_label, n_hidden, rng, x)
    chain_v = rng.random((batch, x.shape[1])).round()
    chain_y = np.eye(n_label)[rng.integers(0, n_label, batch)]
    best = (-1.0, 0, None)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            v0, y0 = x[idx], y[idx]
            if method == "cd1":
                vn, yn = model.gibbs(v0, y0, rng)
            else:
                chain_v, chain_y = model.gibbs(chain_v, chain_y, rng)
                vn, yn = chain_v, chain_y
            model.update(v0, y0, vn, yn, lr)
        acc = float(np.mean(model.predict(np.asarray(x_val, dtype=float)) == y_val))
        if acc > best[0]:
            best = (
                acc,
                epoch,
                ClassRBM(*(np.copy(p) for p in (model.W, model.U, model.a, model.d, model.c))),
            )
    return best[2], best[0], best[1]


def _pick(results):
    """The ``(validation accuracy, params, model)`` with the best validation accuracy (the
    first of equals: the grids are ordered from the simplest model)."""
    return max(results, key=lambda r: r[0])


def run_baselines(data, n_hidden: int, seed: int, names=NAMES, echo=None) -> dict:
    """``{name: {"validation_accuracy", "test_accuracy", "hyperparameters", "seconds"}}`` of
    the baselines ``names`` on ``data`` (a :class:`spikealign.bm.data.Dataset` with labels),
    each tuned on validation and tested once (module docstring)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    if data.n_classes == 0:
        raise ValueError(f"baselines: the {data.name} task has no labels to classify")
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise ValueError(
            f"baselines: unknown baseline(s) {', '.join(unknown)}; allowed: {', '.join(NAMES)}"
        )
    xtr, ytr = data.x_train.astype(float), data.y_train
    xva, yva = data.x_val.astype(float), data.y_val
    xte, yte = data.x_test.astype(float), data.y_test
    out = {}

    def acc(model, x, y):
        return float(np.mean(model.predict(x) == y))

    import warnings

    for name in names:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if name == "logistic_regression":
                res = [
                    (acc(m, xva, yva), {"C": C}, m)
                    for C in LR_C
                    for m in [LogisticRegression(C=C, max_iter=2000).fit(xtr, ytr)]
                ]
            elif name == "knn":
                res = [
                    (acc(m, xva, yva), {"k": k}, m)
                    for k in KNN_K
                    for m in [KNeighborsClassifier(k).fit(xtr, ytr)]
                ]
            elif name == "mlp":
                res = [
                    (acc(m, xva, yva), {"alpha": a, "hidden": n_hidden}, m)
                    for a in MLP_ALPHA
                    for m in [
                        MLPClassifier(
                            (n_hidden,),
                            alpha=a,
                            max_iter=300,
                            early_stopping=True,
                            n_iter_no_change=10,
                            random_state=seed,
                        ).fit(xtr, ytr)
                    ]
                ]
            elif name == "bernoulli_rbm_lr":
                res = _rbm_lr(xtr, ytr, xva, yva, n_hidden, seed)
            else:
                method = name.removeprefix("boltzmann_")
                res = []
                for lr in CRBM_LR:
                    rng = np.random.default_rng([seed, 31, int(lr * 1e4)])
                    m, a, ep = train_class_rbm(
                        xtr, ytr, xva, yva, n_hidden, rng, method=method, lr=lr
                    )
                    res.append((a, {"lr": lr, "epoch": ep, "hidden": n_hidden}, m))
            best = _pick(res)
            out[name] = {
                "validation_accuracy": best[0],
                "test_accuracy": acc(best[2], xte, yte),
                "hyperparameters": best[1],
                "seconds": time.perf_counter() - t0,
            }
        if echo:
            echo(f"{name:<22} validation {best[0]:.3f}  ({best[1]})")
    return out


def _rbm_lr(xtr, ytr, xva, yva, n_hidden, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM
    from sklearn.pipeline import Pipeline

    res = []
    rbm = BernoulliRBM(
        n_components=n_hidden, learning_rate=0.05, n_iter=30, batch_size=20, random_state=seed
    ).fit(xtr)
    for C in RBM_LR_C:
        lr = LogisticRegression(C=C, max_iter=2000).fit(rbm.transform(xtr), ytr)
        model = Pipeline([("rbm", rbm), ("lr", lr)])
        res.append((float(np.mean(model.predict(xva) == yva)), {"C": C, "hidden": n_hidden}, model))
    return res
