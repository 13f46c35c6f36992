"""Shape ops: indexing semantics, splitting, and bad shapes."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import AxisError, IndexingError, ShapeError
from tests.conftest import assert_close


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_getitem_gradient_is_a_scatter_add():
    x = leaf([1.0, 2.0, 3.0])
    x[mg.tensor([0, 2, 2, 2])].sum().backward()
    assert_close(x.grad, [1, 0, 3])


def test_getitem_with_lists_masks_and_slices():
    a = np.arange(12.0).reshape(3, 4)
    x = mg.tensor(a)
    assert_close(x[[0, 2]], a[[0, 2]])
    assert_close(x[x > 5], a[a > 5])
    assert_close(x[..., ::-1], a[..., ::-1])
    assert_close(x[None, 1:, 2], a[None, 1:, 2])
    assert x[[]].shape == (0, 4)


def test_getitem_errors():
    x = mg.ones(3, 4)
    with pytest.raises(IndexingError, match=r"getitem:.*out of bounds.*\(3, 4\)"):
        x[5]
    with pytest.raises(IndexError):
        x[0, 9]
    with pytest.raises(IndexingError, match="integer or boolean"):
        x[mg.tensor([0.5])]
    with pytest.raises(IndexingError, match="unsupported index"):
        x["a"]


def test_split_and_stack_round_trip():
    x = leaf(np.arange(12.0).reshape(6, 2))
    parts = mg.split(x, 3)
    assert [p.shape for p in parts] == [(2, 2)] * 3
    y = mg.stack(parts, axis=0)
    assert y.shape == (3, 2, 2)
    (y * mg.tensor(np.arange(12.0).reshape(3, 2, 2))).sum().backward()
    assert_close(x.grad, np.arange(12.0).reshape(6, 2))
    assert [p.shape[1] for p in mg.split(x.T, [1, 4], axis=1)] == [1, 3, 2]
    with pytest.raises(ShapeError, match="4 equal sections"):
        mg.split(x, 4)


def test_reshape_errors():
    x = mg.ones(2, 3)
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape.*\(2, 3\) \(6 elements\) into \(4,\)"):
        x.reshape(4)
    with pytest.raises(ShapeError, match="at most one -1"):
        x.reshape(-1, -1)
    with pytest.raises(ShapeError, match="into"):
        x.reshape(4, -1)


def test_other_shape_errors_name_the_op():
    x = mg.ones(2, 3)
    with pytest.raises(ShapeError, match=r"broadcast_to:.*\(2, 3\).*\(4, 3\)"):
        mg.broadcast_to(x, (4, 3))
    with pytest.raises(ShapeError, match="permute"):
        mg.permute(x, (0, 0))
    with pytest.raises(AxisError, match=r"swapaxes: axis 2 .* shape \(2, 3\)"):
        mg.swapaxes(x, 0, 2)
    # expand_dims and stack index the result, which has one axis more
    with pytest.raises(AxisError, match=r"expand_dims: axis 3 .* shape \(2, 3\) \(2 "
                                        r"dimensions; valid axes: -3 to 2\)"):
        mg.expand_dims(x, 3)
    with pytest.raises(AxisError, match=r"stack: axis -4 .* shape \(2, 3\)"):
        mg.stack([x, x], axis=-4)
    with pytest.raises(ShapeError, match="squeeze: axis 1 has size 3"):
        mg.squeeze(x, 1)
    with pytest.raises(ShapeError, match=r"concatenate: tensor 1 has shape \(2, 4\)"):
        mg.concatenate([x, mg.ones(2, 4)], axis=0)
    with pytest.raises(ShapeError, match="stack: tensor 1"):
        mg.stack([x, mg.ones(3, 2)])
    with pytest.raises(mg.ArgumentError, match="non-negative"):
        mg.pad(x, -1)
    with pytest.raises(ShapeError, match="sum_to"):
        mg.sum_to(x, (2,))
    with pytest.raises(ShapeError, match="flatten"):
        mg.flatten(mg.ones(2, 3, 4), 2, 1)


def test_pad_uses_numpy_widths():
    a = np.arange(6.0).reshape(2, 3)
    assert_close(mg.pad(mg.tensor(a), ((1, 0), (0, 2)), value=-1.0),
                 np.pad(a, ((1, 0), (0, 2)), constant_values=-1.0))
