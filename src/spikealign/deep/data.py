"""Data sets of the deep networks: the core's readers (:mod:`spikealign.datasets`, re-exported
here) and the torch side: augmentations (upstream ``symmnet.datasets``) on whole batches
(:class:`BatchLoader`): random crop 32 with 4 px zero padding and horizontal flips for
CIFAR-10 and SVHN, horizontal flips only for MNIST and Fashion-MNIST (sic, as upstream), then
``(x / 255 - mean) / std``. The test set is only normalised.
"""

from __future__ import annotations

from ..datasets import (  # noqa: F401 - the readers, re-exported for the deep family
    CIFAR_TEST,
    CIFAR_TRAIN,
    DIGITS_TEST,
    FOLDERS,
    IDX_FILES,
    SPECS,
    SVHN_FILES,
    SYSTEM_DIRS,
    DataMissingError,
    DatasetSpec,
    env_data_dir,
    find_dataset,
    limit,
    load_arrays,
    missing_message,
    read_cifar10,
    read_digits,
    read_idx,
    read_idx_dataset,
    read_svhn,
    read_svhn_mat,
    search_roots,
    write_idx,
)

# -- torch side ----------------------------------------------------------------------------


def augment(x_uint8, spec: DatasetSpec, generator, train: bool):
    """uint8 batch (B, C, H, W) -> normalised float32, with the train augmentations."""
    import torch
    import torch.nn.functional as F

    x = x_uint8.to(torch.float32).div_(255.0)
    b, c, h, w = x.shape
    if train and spec.crop_pad > 0:
        p = spec.crop_pad
        xp = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        x = xp[
            torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols
        ]
    if train and spec.hflip:
        flip = torch.rand(b, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    mean = torch.tensor(spec.mean, dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(spec.std, dtype=torch.float32)[None, :, None, None]
    return (x - mean) / std


class BatchLoader:
    """Batches of an in-memory data set; shuffled and augmented when ``train``.

    One pass yields ``ceil(N / batch_size)`` batches (a final train batch of one sample is
    dropped: BatchNorm cannot train on it). ``generator`` drives shuffling and augmentation.
    """

    def __init__(self, x, y, spec: DatasetSpec, batch_size: int, train: bool, generator=None):
        import torch

        self.x = torch.as_tensor(x)
        self.y = torch.as_tensor(y)
        self.spec, self.batch_size, self.train = spec, int(batch_size), train
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.y)
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest > (1 if self.train else 0) else 0)

    def __iter__(self):
        import torch

        n = len(self.y)
        order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield (augment(self.x[idx], self.spec, self.generator, self.train), self.y[idx])
