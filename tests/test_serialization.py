"""save/load: round trips, no pickle, atomic writes, corrupted files."""
import os
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import CheckpointError


def test_round_trip_of_nested_state(tmp_path):
    obj = {"w": mg.tensor([[1.0, 2.0]], requires_grad=True), "count": mg.tensor(np.array(3)),
           "arr": np.arange(4, dtype=np.int16), "nested": {"lr": 0.1, "names": ["a", "b"],
                                                           "pair": (1, None), "flag": True},
           "scalar": np.float32(2.5)}
    mg.save(obj, tmp_path / "c.npz")
    back = mg.load(tmp_path / "c.npz")
    assert isinstance(back["w"], mg.Tensor) and back["w"].requires_grad
    np.testing.assert_array_equal(back["w"].numpy(), [[1.0, 2.0]])
    assert back["w"].dtype == np.float32
    assert back["count"].shape == () and back["count"].item() == 3
    assert isinstance(back["arr"], np.ndarray) and back["arr"].dtype == np.int16
    assert back["nested"] == {"lr": 0.1, "names": ["a", "b"], "pair": (1, None), "flag": True}
    assert back["scalar"] == 2.5


def test_no_pickle_inside(tmp_path):
    mg.save({"w": mg.ones(2)}, tmp_path / "c.npz")
    with zipfile.ZipFile(tmp_path / "c.npz") as z:
        for name in z.namelist():
            with z.open(name) as f:
                header = f.read(128)
            assert b"|O" not in header          # no object arrays


def test_object_arrays_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match=r"array at obj\['a'\] has dtype object"):
        mg.save({"a": np.array([{"x": 1}], dtype=object)}, tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()


def test_unsupported_objects_are_refused_with_their_path(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save a object at obj\['opt'\]\['fn'\]"):
        mg.save({"opt": {"fn": object()}}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match="keys must be strings"):
        mg.save({1: 2}, tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()


def test_a_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    mg.save({"epoch": 1, "w": mg.ones(3)}, path)
    real_savez = np.savez

    def crashing_savez(f, **arrays):
        real_savez(f, **arrays)
        f.truncate(f.tell() // 2)               # half the file is written ...
        raise KeyboardInterrupt("power cut")    # ... and the process dies

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"epoch": 2, "w": mg.zeros(3)}, path)
    monkeypatch.undo()
    assert mg.load(path)["epoch"] == 1          # the old checkpoint, intact
    assert os.listdir(tmp_path) == ["c.npz"]    # and no temporary file left


def test_truncated_and_corrupted_files_name_the_file(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": mg.ones(1000)}, path)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.npz is not a readable checkpoint"):
        mg.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    with pytest.raises(CheckpointError, match="other.npz is not a minigrad checkpoint"):
        mg.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        mg.load(tmp_path / "missing.npz")


def test_an_array_that_contradicts_its_metadata_is_reported(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": mg.ones(3)}, path)
    with np.load(path) as z:
        entries = {k: z[k] for k in z.files}
    entries["a0"] = np.ones(4, dtype=np.float32)
    np.savez(path, **entries)
    with pytest.raises(CheckpointError, match=r"the array for checkpoint\['w'\] has shape "
                                              r"\(4,\).*metadata says \(3,\)"):
        mg.load(path)
