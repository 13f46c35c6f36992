"""Saving and loading state: ``minigrad.save(obj, path)`` / ``minigrad.load(path)``.

A checkpoint is one ``.npz`` file: every array (Tensor or ndarray) is an
entry of its own, and the structure around them -- nested dicts, lists,
numbers, strings -- is JSON stored in the entry ``__meta__``, together
with each array's shape and dtype. Nothing is pickled: loading uses
``allow_pickle=False``, so a checkpoint cannot run code.

Writing is atomic: the file is written under a temporary name in the same
folder, flushed to disk and renamed over the target, so a crash leaves
either the old checkpoint or the new one, never half of one. Loading checks
that the file is a complete minigrad checkpoint and that every array has
the shape and dtype its metadata promises, and names the file and the entry
when something is wrong.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend as _backend
from .errors import CheckpointError, CheckpointNotFoundError
from .tensor import Tensor

FORMAT = "minigrad-checkpoint"
VERSION = 1


def _encode(obj, arrays, where):
    if isinstance(obj, Tensor) or isinstance(obj, np.ndarray) or (
            _backend._cupy is not None and isinstance(obj, _backend._cupy.ndarray)):
        data = obj.data if isinstance(obj, Tensor) else obj
        host = np.asarray(_backend.to_numpy(data), order="C")   # keeps 0-d arrays 0-d
        if host.dtype.hasobject:
            raise TypeError(f"save: the array at {where} has dtype object, which could only "
                            "be stored by pickling; checkpoints hold numeric and boolean "
                            "arrays only")
        key = f"a{len(arrays)}"
        arrays[key] = host
        return {"__array__": key, "shape": list(host.shape), "dtype": host.dtype.str,
                "tensor": isinstance(obj, Tensor),
                "requires_grad": bool(isinstance(obj, Tensor) and obj.requires_grad)}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"save: dictionary keys must be strings, got {k!r} at {where}")
        return {"__dict__": [[k, _encode(v, arrays, f"{where}[{k!r}]")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else {"__list__": items}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save: cannot save a {type(obj).__name__} at {where}; checkpoints hold "
                    "tensors, arrays, numbers, strings, None, and lists/tuples/dicts of them")


def temporary_file(folder, prefix):
    """``(fd, path)`` of a new file in ``folder`` (for writing, then renaming
    into place) with the permissions a plain ``open()`` would give it:
    mkstemp's are owner-only (0600), which would leave a shared run folder
    or data cache unreadable to others."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return fd, tmp


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; when the block
    ends without an exception, flush it to disk and rename it to ``path``.
    On an exception (or a crash) ``path`` keeps its old content and the
    temporary file is removed."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = temporary_file(folder, ".tmp-")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:   # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(obj, path):
    """Write ``obj`` (a state dict, or nested dicts/lists of tensors, arrays,
    numbers and strings) to ``path`` as a ``.npz`` checkpoint, atomically."""
    arrays = {}
    tree = _encode(obj, arrays, "obj")
    meta = {"format": FORMAT, "version": VERSION, "tree": tree}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, allow_pickle=False, **arrays)


def _decode(node, npz, path, backend, where):
    if isinstance(node, dict):
        if "__array__" in node:
            key = node["__array__"]
            if key not in npz.files:
                raise CheckpointError(f"load: {path} is incomplete: the array for {where} "
                                      f"(entry {key!r}) is missing")
            try:
                arr = npz[key]
            except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
                raise CheckpointError(f"load: {path}: the array for {where} (entry {key!r}) "
                                      f"cannot be read ({exc}); the file is corrupted") from None
            if list(arr.shape) != list(node["shape"]) or arr.dtype.str != node["dtype"]:
                raise CheckpointError(
                    f"load: {path}: the array for {where} has shape {arr.shape} and dtype "
                    f"{arr.dtype}, but the checkpoint's metadata says {tuple(node['shape'])} "
                    f"and {np.dtype(node['dtype'])}; the file is corrupted")
            if not node.get("tensor"):
                return arr
            t = Tensor(arr, backend=backend)
            if node.get("requires_grad"):
                t.requires_grad_(True)
            return t
        if "__dict__" in node:
            return {k: _decode(v, npz, path, backend, f"{where}[{k!r}]")
                    for k, v in node["__dict__"]}
        if "__list__" in node:
            return [_decode(v, npz, path, backend, f"{where}[{i}]")
                    for i, v in enumerate(node["__list__"])]
        if "__tuple__" in node:
            return tuple(_decode(v, npz, path, backend, f"{where}[{i}]")
                         for i, v in enumerate(node["__tuple__"]))
        raise CheckpointError(f"load: {path}: unknown entry in the metadata at {where}")
    return node


def load(path, backend="numpy"):
    """Read a checkpoint written by :func:`save`. Tensors come back as
    Tensors on ``backend``, arrays as NumPy arrays."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointNotFoundError(f"load: no checkpoint at {path}")
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(f"load: {path} is not a readable checkpoint: it is truncated, "
                              f"corrupted or not an .npz file ({exc})") from None
    with npz:
        if not isinstance(npz, np.lib.npyio.NpzFile) or "__meta__" not in npz.files:
            raise CheckpointError(f"load: {path} is not a minigrad checkpoint (no __meta__ "
                                  "entry)")
        try:
            meta = json.loads(bytes(npz["__meta__"]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CheckpointError(f"load: {path}: the metadata cannot be read ({exc}); the "
                                  "file is corrupted") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"load: {path} is not a minigrad checkpoint")
        if meta.get("version") != VERSION:
            raise CheckpointError(f"load: {path} has format version {meta.get('version')}; "
                                  f"this minigrad reads version {VERSION}")
        return _decode(meta["tree"], npz, path, backend, "checkpoint")
