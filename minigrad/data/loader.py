"""Dataset (arrays indexed together) and DataLoader (seeded mini-batches)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import backend as _backend
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor


class Dataset:
    """Inputs ``x`` and targets ``y`` (NumPy arrays with the same first axis).

    ``dataset[i]`` is ``(x[i], y[i])`` for an int, a slice or an index array."""

    def __init__(self, x, y, name="dataset"):
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ShapeError(f"Dataset {name!r}: {len(x)} inputs but {len(y)} targets")
        self.x, self.y, self.name = x, y, name

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def subset(self, n):
        """The first ``n`` examples (for quick runs)."""
        return Dataset(self.x[:n], self.y[:n], self.name)

    def __repr__(self):
        return (f"Dataset({self.name!r}, {len(self)} examples, x {self.x.shape[1:]} "
                f"{self.x.dtype}, y {self.y.shape[1:]} {self.y.dtype})")


@dataclass
class Split:
    """A dataset's training and test parts and what a model needs to know."""

    name: str
    train: Dataset
    test: Dataset
    input_shape: tuple
    num_classes: int | None      # None for regression
    task: str = "classification"

    @property
    def num_outputs(self):
        return self.num_classes if self.num_classes else int(np.prod(self.train.y.shape[1:]))

    def __repr__(self):
        kind = f"{self.num_classes} classes" if self.num_classes else "regression"
        return (f"Split({self.name!r}: {len(self.train)} train / {len(self.test)} test, "
                f"input {self.input_shape}, {kind})")


class DataLoader:
    """Mini-batches of a :class:`Dataset` as Tensors.

    With ``shuffle`` the order is a new random permutation every epoch,
    drawn from the loader's own Generator (seeded by ``seed``), so a run is
    reproducible and ``state_dict`` / ``load_state_dict`` resume it exactly.
    Inputs are converted to ``dtype`` (default: the default float dtype) on
    ``backend``; integer targets stay int64."""

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=0,
                 backend=None, dtype=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ArgumentError(f"DataLoader: batch_size must be a positive int, got "
                                f"{batch_size!r}")
        if len(dataset) == 0:
            raise ArgumentError(f"DataLoader: the dataset {getattr(dataset, 'name', '')!r} "
                                "is empty")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = np.random.default_rng(seed)
        self.backend = backend or _backend.get_backend()
        self.dtype = np.dtype(dtype) if dtype is not None else _backend.get_default_dtype()
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _to_tensor(self, a):
        if a.dtype.kind == "f":
            a = a.astype(self.dtype, copy=False)
        elif a.dtype.kind in "iub":
            a = a.astype(np.int64, copy=False)
        return Tensor(a, backend=self.backend)

    def __iter__(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            x, y = self.dataset[idx]
            yield self._to_tensor(np.ascontiguousarray(x)), self._to_tensor(np.asarray(y))

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
        self.epoch = int(state["epoch"])
