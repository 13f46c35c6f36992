"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.).

An IDX file is a 4-byte magic number -- two zero bytes, a type code and the
number of dimensions -- then one big-endian 32-bit size per dimension, then
the values in row-major order, big-endian. Files may be gzipped.

    type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from ..errors import DataError

IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path):
    """The file's bytes, decompressed if it is gzipped (by content, not name)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: the gzip data is truncated or corrupted ({exc})") from None
    return raw


def parse_idx(buf, path="<bytes>"):
    """An ndarray from the bytes of an IDX file, validating the header."""
    if len(buf) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(buf)} bytes)")
    zero1, zero2, code, ndim = buf[0], buf[1], buf[2], buf[3]
    if zero1 != 0 or zero2 != 0:
        raise DataError(f"{path}: not an IDX file (magic number {buf[:4].hex()} does not "
                        "start with two zero bytes)")
    if code not in IDX_TYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02x} (known: "
                        f"{', '.join(f'0x{c:02x}' for c in IDX_TYPES)})")
    if ndim == 0:
        raise DataError(f"{path}: an IDX file with 0 dimensions")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise DataError(f"{path}: truncated IDX header ({len(buf)} bytes, {header} needed "
                        f"for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "has extra bytes"
        raise DataError(f"{path}: {what}: the header promises shape {shape} of "
                        f"{dtype.name} ({expected} bytes in all), the file has {len(buf)}")
    data = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file (plain or gzipped) into an ndarray."""
    return parse_idx(read_bytes(path), os.fspath(path))


def write_idx(array, path, compress=None):
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in .gz or
    ``compress`` is true)."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"write_idx: IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(IDX_TYPES[code], copy=False).tobytes()
    payload = header + body
    path = os.fspath(path)
    if compress or (compress is None and path.endswith(".gz")):
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
