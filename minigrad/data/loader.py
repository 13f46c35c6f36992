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
    ``backend``; integer targets stay int64.

    On the GPU (``backend="cupy"``) ``preload`` keeps the whole converted
    dataset in device memory and gathers each batch there: the epoch's order
    is uploaded once and no batch is copied from the host (the GPU is not
    left waiting on copies). ``"auto"`` (default) preloads
    when the data take at most a quarter of the free device memory;
    ``True`` / ``False`` force it. Without preloading each batch is
    gathered on the host and uploaded by ``cupy.asarray``, which stages it
    through CuPy's pinned-memory pool and copies it asynchronously on the
    current stream (what torch's ``pin_memory`` asks for); the batch is a
    fresh array, so nothing writes to it during the copy. On NumPy the data
    are in host memory already and ``preload`` changes nothing. The batches
    are the same either way (the order is drawn on the host from the same
    Generator)."""

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=0,
                 backend=None, dtype=None, preload="auto"):
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
        if preload not in ("auto", True, False):
            raise ArgumentError(f"DataLoader: preload must be 'auto', True or False, got "
                                f"{preload!r}")
        self.preload = preload
        self._device_data = None      # (x, y) on the device once preloaded
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _convert(self, a):
        """Float inputs to ``dtype``, integer targets to int64 (host arrays)."""
        if a.dtype.kind == "f":
            return a.astype(self.dtype, copy=False)
        if a.dtype.kind in "iub":
            return a.astype(np.int64, copy=False)
        return a

    def _to_tensor(self, a):
        return Tensor(self._convert(a), backend=self.backend)

    def preloaded(self):
        """Whether batches are gathered from a copy of the dataset in device memory."""
        if self.backend == "numpy" or self.preload is False:
            return False
        if self.preload is True or self._device_data is not None:
            return True
        x, y = self.dataset.x, self.dataset.y
        nbytes = x.size * (self.dtype.itemsize if x.dtype.kind == "f" else x.itemsize) + \
            y.size * 8
        free, _ = _backend.get_xp(self.backend).cuda.Device().mem_info
        return nbytes <= free / 4

    def _device_arrays(self):
        if self._device_data is None:
            xp = _backend.get_xp(self.backend)
            self._device_data = tuple(xp.asarray(np.ascontiguousarray(self._convert(a)))
                                      for a in (self.dataset.x, self.dataset.y))
        return self._device_data

    def __iter__(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else None
        self.epoch += 1
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        device = self._device_arrays() if self.preloaded() else None
        if device is not None and order is not None:
            order = _backend.to_backend(order, self.backend)     # one upload per epoch
        for start in range(0, stop, self.batch_size):
            idx = slice(start, min(start + self.batch_size, n)) if order is None else \
                order[start:start + self.batch_size]
            if device is not None:                       # gathered on the device
                yield Tensor(device[0][idx]), Tensor(device[1][idx])
                continue
            x, y = self.dataset[idx]
            yield self._to_tensor(np.ascontiguousarray(x)), self._to_tensor(np.asarray(y))

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
        self.epoch = int(state["epoch"])
