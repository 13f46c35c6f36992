"""Datasets: the shipped digits, the search order, checksums, downloads that
leave nothing behind, the CIFAR-10 parser, synthetic sets."""
import gzip
import hashlib
import io
import os
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import datasets as D
from minigrad.data import download, load_dataset, write_idx
from minigrad.errors import DataError


def test_digits_is_shipped_and_checked():
    s = load_dataset("digits")
    assert s.input_shape == (1, 8, 8) and s.num_classes == 10
    assert len(s.train) + len(s.test) == 1797
    assert abs(float(s.train.x.mean())) < 1e-6
    assert set(np.unique(s.train.y)) == set(range(10))
    again = load_dataset("digits")
    np.testing.assert_array_equal(s.test.y, again.test.y)   # a fixed split


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(mg.ArgumentError, match="unknown dataset 'imagenet'.*digits.*"
                                               "fashion-mnist"):
        load_dataset("imagenet")


@pytest.mark.parametrize("name", ["xor", "spirals", "moons", "blobs", "teacher-student"])
def test_synthetic_sets(name):
    s = load_dataset(name, seed=3)
    t = load_dataset(name, seed=3)
    np.testing.assert_array_equal(s.train.x, t.train.x)
    assert not np.array_equal(s.train.x[:10], s.test.x[:10])
    assert s.train.x.dtype == np.float32
    if name == "teacher-student":
        assert s.task == "regression" and s.num_classes is None
    else:
        assert set(np.unique(s.train.y)) <= set(range(s.num_classes))


def test_xor_labels_are_xor_of_the_quadrants():
    s = load_dataset("xor", noise=0.0)
    x, y = s.train.x, s.train.y
    np.testing.assert_array_equal(y, ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(int))


# --------------------------------------------------------------------------
# MNIST-style IDX datasets from local folders
# --------------------------------------------------------------------------


def _fake_idx_folder(folder, n_train=20, n_test=10, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for stem, a in arrays.items():
        write_idx(a, folder / (stem + (".gz" if gz else "")))
    return arrays


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """MINIGRAD_DATA in a temporary folder, no project data, no downloads,
    no system copies, an empty home cache."""
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MINIGRAD_NO_DOWNLOAD", "1")
    monkeypatch.setattr(D, "_PROJECT_DATA", tmp_path / "project")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    sources = {k: dict(v, system=str(tmp_path / "system" / k)) for k, v in D.SOURCES.items()}
    monkeypatch.setattr(D, "SOURCES", sources)
    return tmp_path


def test_mnist_from_minigrad_data(isolated):
    arrays = _fake_idx_folder(isolated / "data" / "mnist")
    s = load_dataset("mnist")
    assert s.input_shape == (1, 28, 28) and len(s.train) == 20
    np.testing.assert_array_equal(s.train.y, arrays["train-labels-idx1-ubyte"])
    assert s.train.x.shape == (20, 1, 28, 28) and s.train.x.dtype == np.float32


def test_search_order_prefers_minigrad_data_then_project_then_cache(isolated):
    _fake_idx_folder(isolated / "home" / ".cache" / "minigrad" / "mnist", n_train=7)
    assert len(load_dataset("mnist").train) == 7
    _fake_idx_folder(isolated / "project" / "mnist", n_train=6, gz=False)
    assert len(load_dataset("mnist").train) == 6
    _fake_idx_folder(isolated / "data" / "mnist", n_train=5)
    assert len(load_dataset("mnist").train) == 5


def test_files_that_fail_a_known_checksum_are_refused(isolated):
    _fake_idx_folder(isolated / "data" / "fashion-mnist")
    with pytest.raises(DataError, match=r"fashion-mnist: .*train-images-idx3-ubyte.gz fails its "
                                        "checksum"):
        load_dataset("fashion-mnist")


def test_missing_files_without_downloads_name_the_folders(isolated):
    with pytest.raises(DataError, match=r"mnist: the files are not in any of .*downloads are "
                                        "disabled"):
        load_dataset("mnist")


def test_truncated_dataset_file_names_the_file(isolated):
    folder = isolated / "data" / "mnist"
    _fake_idx_folder(folder)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: truncated"):
        load_dataset("mnist")


FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package_smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))      # nothing there
    monkeypatch.setenv("MINIGRAD_NO_DOWNLOAD", "1")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    s = load_dataset("fashion-mnist")                       # checksums verified
    assert len(s.train) == 60_000 and len(s.test) == 10_000
    assert np.bincount(s.test.y).tolist() == [1000] * 10
    # a few steps of training on it
    model = mg.nn.mlp([784, 64, 10])
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = mg.data.DataLoader(s.train.subset(2000), 100, shuffle=True)
    for x, y in loader:
        loss = mg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = model(mg.tensor(s.test.x[:1000]))
    assert (out.numpy().argmax(1) == s.test.y[:1000]).mean() > 0.6


# --------------------------------------------------------------------------
# downloads
# --------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __init__(self, data, fail_after=None):
        super().__init__(data)
        self.fail_after = fail_after
        self.headers = {"Content-Length": str(len(data))}
        self.sent = 0

    def read(self, n=-1):
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise urllib.error.URLError("connection reset")
        chunk = super().read(min(n, 64) if n > 0 else n)
        self.sent += len(chunk)
        return chunk


def test_download_checks_the_checksum(tmp_path):
    payload = b"x" * 1000
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "f.bin"
    download("http://example/f", dest, good, progress=False,
             opener=lambda url, timeout: FakeResponse(payload))
    assert dest.read_bytes() == payload
    with pytest.raises(DataError, match="checksum mismatch for http://example/g"):
        download("http://example/g", tmp_path / "g.bin", "0" * 64, progress=False,
                 opener=lambda url, timeout: FakeResponse(payload))
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]        # nothing partial left


def test_a_failed_download_leaves_no_partial_file(tmp_path):
    with pytest.raises(DataError, match="could not download http://example/h.*reset"):
        download("http://example/h", tmp_path / "h.bin", "0" * 64, progress=False,
                 opener=lambda url, timeout: FakeResponse(b"y" * 1000, fail_after=200))
    assert os.listdir(tmp_path) == []


def test_dataset_download_path_is_used_when_nothing_is_local(isolated, monkeypatch):
    monkeypatch.delenv("MINIGRAD_NO_DOWNLOAD")
    folder = isolated / "staging"
    arrays = _fake_idx_folder(folder)
    blobs = {stem: (folder / f"{stem}.gz").read_bytes() for stem in arrays}
    sums = {stem: hashlib.sha256(b).hexdigest() for stem, b in blobs.items()}
    src = dict(D.SOURCES["mnist"], gz_sha256=sums)
    monkeypatch.setitem(D.SOURCES, "mnist", src)
    fetched = []

    def fake_download(url, dest, sha256, **kw):
        stem = url.rsplit("/", 1)[1][:-3]
        fetched.append(stem)
        return download(url, dest, sha256, progress=False,
                        opener=lambda u, timeout: FakeResponse(blobs[stem]))

    monkeypatch.setattr(D, "download", fake_download)
    s = load_dataset("mnist")
    assert sorted(fetched) == sorted(arrays) and len(s.train) == 20
    assert (isolated / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------


def _fake_cifar(path, n=4, seed=0):
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, n, dtype=np.uint8)
            pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            data = np.concatenate([labels[:, None], pixels], axis=1).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar_archive_parser(tmp_path):
    path = tmp_path / "c.tar.gz"
    _fake_cifar(path)
    xtr, ytr, xte, yte = D.load_cifar_archive(path, sha256=None)
    assert xtr.shape == (20, 3, 32, 32) and xte.shape == (4, 3, 32, 32)
    with pytest.raises(DataError, match="fails its checksum"):
        D.load_cifar_archive(path)


def test_cifar_truncated_batch(tmp_path):
    with pytest.raises(DataError, match="not a whole number of 3073-byte records"):
        D.parse_cifar_batch(b"\x00" * 3000, "batch")
    path = tmp_path / "c.tar.gz"
    _fake_cifar(path)
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataError, match="truncated or corrupted"):
        D.load_cifar_archive(path, sha256=None)
