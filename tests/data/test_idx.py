"""The IDX parser on files the tests write, including broken ones."""
import gzip

import numpy as np
import pytest

from minigrad.data import read_idx, write_idx
from minigrad.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    path = tmp_path / f"x.idx{suffix}"
    write_idx(a, path)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_big_endian_on_disk(tmp_path):
    write_idx(np.array([1, 256], dtype=np.int16), tmp_path / "x")
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == b"\x00\x00\x0b\x01" and raw[4:8] == b"\x00\x00\x00\x02"
    assert raw[8:] == b"\x00\x01\x01\x00"


def _write(path, data):
    path.write_bytes(data)
    return path


def test_bad_magic(tmp_path):
    p = _write(tmp_path / "x", b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match=r"x: not an IDX file \(magic number 01000801"):
        read_idx(p)


def test_unknown_type_code(tmp_path):
    p = _write(tmp_path / "x", b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="unknown IDX type code 0x07"):
        read_idx(p)


def test_truncated_header_and_body(tmp_path):
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(_write(tmp_path / "h", b"\x00\x00\x08\x03\x00\x00\x00\x02"))
    with pytest.raises(DataError, match=r"truncated: the header promises shape \(2, 3\)"):
        read_idx(_write(tmp_path / "b", b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03"
                        + bytes(5)))
    with pytest.raises(DataError, match="extra bytes"):
        read_idx(_write(tmp_path / "e", b"\x00\x00\x08\x01\x00\x00\x00\x01" + bytes(2)))


def test_truncated_gzip(tmp_path):
    full = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x10" + bytes(16))
    p = _write(tmp_path / "x.gz", full[:-6])
    with pytest.raises(DataError, match=r"x.gz: the gzip data is truncated or corrupted"):
        read_idx(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")
