"""Dataset and DataLoader: batching, seeded shuffling, drop_last, resuming."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.data import DataLoader, Dataset


def make(n=10):
    return Dataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def labels(loader):
    return [y.numpy().tolist() for _, y in loader]


def test_batches_cover_the_dataset_in_order_without_shuffle():
    dl = DataLoader(make(), batch_size=4)
    assert len(dl) == 3
    assert labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(dl))
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (4, 2)


def test_drop_last():
    dl = DataLoader(make(), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(b) for b in labels(dl)] == [4, 4]


def test_shuffling_is_seeded_and_new_every_epoch():
    a = DataLoader(make(), 3, shuffle=True, seed=5)
    b = DataLoader(make(), 3, shuffle=True, seed=5)
    first, second = labels(a), labels(a)
    assert first == labels(b) and second == labels(b)
    assert first != second
    assert sorted(sum(first, [])) == list(range(10))
    assert labels(DataLoader(make(), 3, shuffle=True, seed=6)) != first


def test_state_dict_resumes_the_sequence():
    a = DataLoader(make(), 3, shuffle=True, seed=1)
    labels(a)
    state = a.state_dict()
    expected = labels(a)
    b = DataLoader(make(), 3, shuffle=True, seed=99)
    b.load_state_dict(state)
    assert labels(b) == expected and b.epoch == a.epoch


def test_dtype_and_backend_of_batches():
    dl = DataLoader(make(), 5, dtype=np.float64)
    x, _ = next(iter(dl))
    assert x.dtype == np.float64 and x.backend == "numpy"


def test_bad_input():
    with pytest.raises(mg.ArgumentError, match="batch_size"):
        DataLoader(make(), 0)
    with pytest.raises(mg.ArgumentError, match="empty"):
        DataLoader(make(0), 2)
    with pytest.raises(mg.ShapeError, match="3 inputs but 2 targets"):
        Dataset(np.zeros((3, 2)), np.zeros(2))
