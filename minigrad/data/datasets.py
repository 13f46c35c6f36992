"""Real datasets: digits (shipped), MNIST, Fashion-MNIST, CIFAR-10.

Where the files are looked for, in order:

1. ``$MINIGRAD_DATA/<name>/``
2. the project's ``data/<name>/`` (in a source checkout)
3. ``~/.cache/minigrad/<name>/``
4. the system location of a Debian package, where there is one
   (``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``)

If none has the files they are downloaded from the official source into
``$MINIGRAD_DATA/<name>/`` (or ``~/.cache/minigrad/<name>/``) and their
SHA-256 checked before use (set ``MINIGRAD_NO_DOWNLOAD=1`` to forbid it).
Files found locally are checked too: against the official archive's
checksum, or -- for a re-compressed copy such as Debian's -- against the
checksum of the decompressed content, where it is known.

Images are scaled to [0, 1] and standardised with the training set's mean
and standard deviation; they are shaped (N, C, H, W).
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import tarfile
from pathlib import Path

import numpy as np

from ..errors import ArgumentError, DataError
from . import synthetic
from .download import download, sha256_of
from .idx import parse_idx, read_bytes
from .loader import Dataset, Split

_FILES_DIR = Path(__file__).resolve().parent / "files"
_PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# Official archives: URL base and SHA-256 of each .gz as published; and the
# SHA-256 of the decompressed content where we know it (so that a copy that
# was re-compressed -- Debian's drops the file name from the gzip header --
# still verifies).
SOURCES = {
    "fashion-mnist": {
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "system": "/usr/share/datasets/fashion-mnist",
        "gz_sha256": {
            "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        "raw_sha256": {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    },
    "mnist": {
        "url": "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "system": "/usr/share/datasets/mnist",
        "gz_sha256": {
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        "raw_sha256": {},   # not known: uncompressed copies are checked by structure only
    },
}

CIFAR10 = {
    "url": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "file": "cifar-10-binary.tar.gz",
    "sha256": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
}

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def search_dirs(name, system=None):
    """The folders searched for dataset ``name``, in order."""
    dirs = []
    if os.environ.get("MINIGRAD_DATA"):
        dirs.append(Path(os.environ["MINIGRAD_DATA"]) / name)
    dirs.append(_PROJECT_DATA / name)
    dirs.append(Path.home() / ".cache" / "minigrad" / name)
    if system:
        dirs.append(Path(system))
    return dirs


def download_dir(name):
    base = os.environ.get("MINIGRAD_DATA")
    return Path(base) / name if base else Path.home() / ".cache" / "minigrad" / name


def _standardise(train, test):
    """Scale uint8 images to [0, 1], then standardise with the training
    set's mean and standard deviation."""
    train = train.astype(np.float32) / 255.0
    test = test.astype(np.float32) / 255.0
    mean, std = float(train.mean()), float(train.std())
    return (train - mean) / std, (test - mean) / std


# --------------------------------------------------------------------------
# digits (shipped)
# --------------------------------------------------------------------------


def digits(test_fraction=0.2, seed=0):
    """The UCI 8×8 handwritten digits shipped with minigrad (1797 images,
    10 classes): a real dataset that trains in seconds. A fixed random
    ``test_fraction`` is held out."""
    path = _FILES_DIR / "digits.csv.gz"
    raw = path.read_bytes() if path.exists() else None
    if raw is None:
        raise DataError(f"digits: the shipped file {path} is missing; reinstall minigrad")
    if sha256_of(raw) != DIGITS_SHA256:
        raise DataError(f"digits: {path} fails its checksum (expected SHA-256 "
                        f"{DIGITS_SHA256}); reinstall minigrad")
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("ascii"))))
    table = np.asarray(rows, dtype=np.float64)
    if table.shape != (1797, 65):
        raise DataError(f"digits: {path} has shape {table.shape}, expected (1797, 65)")
    x = table[:, :64].reshape(-1, 1, 8, 8) / 16.0
    y = table[:, 64].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = order[:n_test], order[n_test:]
    mean, std = x[tr].mean(), x[tr].std()
    x = ((x - mean) / std).astype(np.float32)
    return Split("digits", Dataset(x[tr], y[tr], "digits/train"),
                 Dataset(x[te], y[te], "digits/test"), (1, 8, 8), 10)


# --------------------------------------------------------------------------
# MNIST and Fashion-MNIST (IDX files)
# --------------------------------------------------------------------------


def _verify_local(name, stem, path, raw_bytes):
    """Check a local file against the known checksums; returns the content."""
    src = SOURCES[name]
    file_bytes = Path(path).read_bytes()
    if sha256_of(file_bytes) == src["gz_sha256"].get(stem):
        return raw_bytes
    known = src["raw_sha256"].get(stem)
    if known is None:
        return raw_bytes      # no content checksum known: the IDX structure is checked
    actual = sha256_of(raw_bytes)
    if actual != known:
        raise DataError(f"{name}: {path} fails its checksum: the content has SHA-256 {actual}, "
                        f"expected {known} (or the official archive's "
                        f"{src['gz_sha256'].get(stem)}); the file is corrupted or not the "
                        f"official {stem}")
    return raw_bytes


def _find_idx_dir(name):
    for d in search_dirs(name, SOURCES[name]["system"]):
        found = {}
        for stem in IDX_NAMES:
            for candidate in (d / f"{stem}.gz", d / stem):
                if candidate.is_file():
                    found[stem] = candidate
                    break
        if len(found) == len(IDX_NAMES):
            return found
    return None


def _fetch_idx(name):
    if os.environ.get("MINIGRAD_NO_DOWNLOAD"):
        raise DataError(f"{name}: the files are not in any of "
                        f"{', '.join(map(str, search_dirs(name, SOURCES[name]['system'])))} and "
                        "downloads are disabled (MINIGRAD_NO_DOWNLOAD)")
    target = download_dir(name)
    src = SOURCES[name]
    found = {}
    for stem in IDX_NAMES:
        dest = target / f"{stem}.gz"
        if not dest.is_file():
            download(src["url"] + f"{stem}.gz", dest, src["gz_sha256"][stem])
        found[stem] = dest
    return found


def load_idx_dataset(name):
    """Load MNIST or Fashion-MNIST from the first folder that has all four
    files (downloading them if none has)."""
    if name not in SOURCES:
        raise ArgumentError(f"unknown IDX dataset {name!r}; choose one of "
                            f"{', '.join(SOURCES)}")
    files = _find_idx_dir(name) or _fetch_idx(name)
    arrays = {}
    for stem, path in files.items():
        raw = _verify_local(name, stem, path, read_bytes(path))
        arrays[stem] = parse_idx(raw, str(path))
    xtr, ytr = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    xte, yte = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    for what, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{name}: the {what} images {x.shape} and labels {y.shape} do not "
                            "fit together (expected (N, 28, 28) and (N,))")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{name}: {what} labels outside 0..9")
    xtr, xte = _standardise(xtr[:, None], xte[:, None])
    return Split(name, Dataset(xtr, ytr.astype(np.int64), f"{name}/train"),
                 Dataset(xte, yte.astype(np.int64), f"{name}/test"), (1, 28, 28), 10)


def fashion_mnist():
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 + 10,000 28×28
    grey images of clothing in 10 classes."""
    return load_idx_dataset("fashion-mnist")


def mnist():
    """MNIST (LeCun et al. 1998): 60,000 + 10,000 28×28 handwritten digits."""
    return load_idx_dataset("mnist")


# --------------------------------------------------------------------------
# CIFAR-10 (binary version)
# --------------------------------------------------------------------------

_CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch.bin"]


def parse_cifar_batch(buf, where):
    """Labels and (N, 3, 32, 32) uint8 images from one binary CIFAR-10 batch."""
    if len(buf) == 0 or len(buf) % _CIFAR_RECORD:
        raise DataError(f"cifar10: {where} has {len(buf)} bytes, not a whole number of "
                        f"{_CIFAR_RECORD}-byte records; the file is truncated or corrupted")
    rec = np.frombuffer(buf, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"cifar10: {where} has a label {labels.max()} outside 0..9")
    return rec[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar_archive(path, sha256=CIFAR10["sha256"]):
    """Read the binary CIFAR-10 archive (a .tar.gz with data_batch_1..5.bin
    and test_batch.bin), checking its SHA-256 first (None skips that)."""
    path = Path(path)
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256:
            raise DataError(f"cifar10: {path} fails its checksum: SHA-256 {actual}, expected "
                            f"{sha256}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            parts = {}
            for fname in _CIFAR_TRAIN + _CIFAR_TEST:
                if fname not in members:
                    raise DataError(f"cifar10: {path} has no {fname}")
                parts[fname] = parse_cifar_batch(tar.extractfile(members[fname]).read(),
                                                 f"{path}:{fname}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"cifar10: {path} is not a readable .tar.gz ({exc}); it is truncated "
                        "or corrupted") from None
    xtr = np.concatenate([parts[f][0] for f in _CIFAR_TRAIN])
    ytr = np.concatenate([parts[f][1] for f in _CIFAR_TRAIN])
    xte, yte = parts[_CIFAR_TEST[0]]
    return xtr, ytr, xte, yte


def cifar10():
    """CIFAR-10 (Krizhevsky 2009): 50,000 + 10,000 32×32 colour images in 10
    classes, from the official binary archive (downloaded and checked if it
    is not found locally)."""
    archive = None
    for d in search_dirs("cifar10"):
        if (d / CIFAR10["file"]).is_file():
            archive = d / CIFAR10["file"]
            break
    if archive is None:
        if os.environ.get("MINIGRAD_NO_DOWNLOAD"):
            raise DataError("cifar10: the archive is not in any of "
                            f"{', '.join(map(str, search_dirs('cifar10')))} and downloads are "
                            "disabled (MINIGRAD_NO_DOWNLOAD)")
        archive = download(CIFAR10["url"], download_dir("cifar10") / CIFAR10["file"],
                           CIFAR10["sha256"])
    xtr, ytr, xte, yte = load_cifar_archive(archive)
    xtr, xte = _standardise(xtr, xte)
    return Split("cifar10", Dataset(xtr, ytr, "cifar10/train"),
                 Dataset(xte, yte, "cifar10/test"), (3, 32, 32), 10)


# --------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------

DATASETS = {
    "digits": digits,
    "fashion-mnist": fashion_mnist,
    "mnist": mnist,
    "cifar10": cifar10,
    "xor": synthetic.xor,
    "spirals": synthetic.two_spirals,
    "moons": synthetic.two_moons,
    "blobs": synthetic.blobs,
    "teacher-student": synthetic.teacher_student,
}


def load_dataset(name, **options):
    """A :class:`Split` by name: digits, fashion-mnist, mnist, cifar10 (real)
    or xor, spirals, moons, blobs, teacher-student (synthetic)."""
    key = name.lower().replace("_", "-")
    if key in ("fashion", "fashionmnist"):
        key = "fashion-mnist"
    if key not in DATASETS:
        raise ArgumentError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[key](**options)
