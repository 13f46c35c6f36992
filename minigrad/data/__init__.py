"""Datasets and mini-batches.

* :class:`Dataset`, :class:`DataLoader` (seeded shuffling, drop_last,
  resumable state) and :class:`Split` (train and test parts);
* :func:`load_dataset` by name: ``digits`` (shipped with minigrad),
  ``fashion-mnist``, ``mnist``, ``cifar10`` (local copies or checked
  downloads), and the synthetic teaching sets ``xor``, ``spirals``,
  ``moons``, ``blobs``, ``teacher-student``;
* :func:`read_idx` / :func:`write_idx` for the IDX format.
"""
from .datasets import (DATASETS, cifar10, digits, fashion_mnist, load_dataset, mnist,
                       search_dirs)
from .download import download, sha256_of
from .idx import parse_idx, read_idx, write_idx
from .loader import DataLoader, Dataset, Split
from .synthetic import blobs, teacher_student, two_moons, two_spirals, xor

__all__ = [n for n in dir() if not n.startswith("_")]
