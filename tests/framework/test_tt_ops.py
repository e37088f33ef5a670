"""Elementwise, reduction, shape, matmul and indexing ops: gradients, values and errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinytorch as tt
from tests.finite_differences import check_gradients
from tinytorch import Tensor
from tinytorch.ops import unbroadcast

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((), (2, 2))]


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_op_gradients_with_broadcasting(op, shape_a, shape_b):
    fn = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
    }[op]
    check_gradients(fn, randn(*shape_a), positive(*shape_b))


@pytest.mark.parametrize(
    "name, fn, make",
    [
        ("neg", lambda x: -x, randn),
        ("pow", lambda x: x**3, randn),
        ("pow_fraction", lambda x: x**0.5, positive),
        ("exp", lambda x: x.exp(), randn),
        ("log", lambda x: x.log(), positive),
        ("tanh", lambda x: x.tanh(), randn),
        ("sqrt", lambda x: x.sqrt(), positive),
        ("relu", lambda x: x.relu(), randn),
        ("scalar_left", lambda x: 2.0 - 3.0 / x, positive),
    ],
)
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 3)])
def test_unary_op_gradients(name, fn, make, shape):
    check_gradients(fn, make(*shape))


def test_unary_values_against_numpy():
    x = positive(2, 3)
    t = Tensor(x)
    for got, want in [
        (t.exp(), np.exp(x)),
        (t.log(), np.log(x)),
        (t.tanh(), np.tanh(x)),
        (t.sqrt(), np.sqrt(x)),
        (t**2.5, x**2.5),
        ((t - 1.0).relu(), np.maximum(x - 1, 0)),
    ]:
        np.testing.assert_allclose(got.data, want, rtol=1e-12)


REDUCTION_AXES = [None, 0, -1, (0, 2)]


@pytest.mark.parametrize("axis", REDUCTION_AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "var", "max"])
def test_reductions_values_and_gradients(name, axis, keepdims):
    x = randn(2, 3, 4)  # continuous values: no ties for max
    got = getattr(Tensor(x), name)(axis=axis, keepdims=keepdims).data
    np.testing.assert_allclose(got, getattr(np, name)(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    check_gradients(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)


def test_max_shares_the_gradient_between_ties():
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.5, 0.5])


def test_reduction_axis_out_of_range_is_named():
    with pytest.raises(ValueError, match=r"axis 3 .*\(2, 3\)"):
        Tensor(np.ones((2, 3))).sum(axis=3)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [
        ((3, 4), (4, 2)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (3, 4, 2)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((2, 4), (3, 1, 4, 2)),
    ],
)
def test_matmul_values_and_gradients(shape_a, shape_b):
    a, b = randn(*shape_a), randn(*shape_b)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, np.matmul(a, b), rtol=1e-12)
    check_gradients(lambda x, y: x @ y, a, b)


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) and \(5, 4, 2\).*batch"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2)))


def test_broadcast_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"mul: shapes \(3,\) and \(2,\)"):
        Tensor(np.ones(3)) * np.ones(2)


def test_pow_needs_a_constant_exponent():
    with pytest.raises(TypeError, match="constant"):
        Tensor([2.0]) ** Tensor([2.0])


def test_shape_ops_values_and_gradients():
    x = randn(2, 3, 4)
    t = Tensor(x)
    np.testing.assert_array_equal(t.reshape(4, 6).data, x.reshape(4, 6))
    np.testing.assert_array_equal(t.reshape((-1, 4)).data, x.reshape(-1, 4))
    np.testing.assert_array_equal(t.transpose().data, np.swapaxes(x, -2, -1))
    np.testing.assert_array_equal(t.transpose(0, 2).data, np.swapaxes(x, 0, 2))
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.T.data, x.T)
    weights = Tensor(randn(3, 8))
    check_gradients(lambda v: v.reshape(3, 8) * weights, x)
    check_gradients(lambda v: v.permute(1, 2, 0), x)
    check_gradients(lambda v: v.transpose(0, 1), x)
    check_gradients(lambda v: v.T, x)


def test_reshape_and_views_do_not_copy():
    x = Tensor(np.ones((4, 6), dtype=np.float32))
    assert np.shares_memory(x.reshape(2, 12).data, x.data)
    assert np.shares_memory(x.transpose().data, x.data)


def test_shape_op_errors():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match="not an ordering"):
        Tensor(np.ones((2, 3))).permute(0, 0)


def test_cat_stack_split():
    a, b = randn(2, 3), randn(2, 5)
    np.testing.assert_array_equal(tt.cat([Tensor(a), Tensor(b)], axis=1).data, np.concatenate([a, b], axis=1))
    check_gradients(lambda x, y: tt.cat([x, y], axis=-1), a, b)
    c, d = randn(2, 3), randn(2, 3)
    np.testing.assert_array_equal(tt.stack([Tensor(c), Tensor(d)], axis=1).data, np.stack([c, d], axis=1))
    check_gradients(lambda x, y: tt.stack([x, y]), c, d)
    x = randn(2, 6)
    parts = tt.split(Tensor(x), 3)
    assert len(parts) == 3
    for got, want in zip(parts, np.split(x, 3, axis=-1), strict=True):
        np.testing.assert_array_equal(got.data, want)
    sizes = tt.split(Tensor(x), [1, 5])
    np.testing.assert_array_equal(sizes[1].data, x[:, 1:])
    check_gradients(lambda v: tt.cat(tt.split(v, [2, 1], axis=0)[::-1], axis=0), randn(3, 2))
    check_gradients(lambda v: tt.split(v, 2)[0] * tt.split(v, 2)[1], x)


def test_cat_stack_split_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 3\)"):
        tt.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 3)))], axis=1)
    with pytest.raises(ValueError, match="one shape"):
        tt.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])
    with pytest.raises(ValueError, match="4 equal parts"):
        tt.split(Tensor(np.ones(6)), 4)
    with pytest.raises(ValueError, match="add up to 5"):
        tt.split(Tensor(np.ones(6)), [2, 3])


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        slice(1, 3),
        (slice(None), 2),
        (Ellipsis, slice(0, 2)),
        (None, 1),
        np.array([0, 2, 2, 1]),  # repeated rows: gradients must add up
        np.array([[3, 0], [0, -1]]),
        (np.array([0, 1, 1]), np.array([2, 2, 0])),
        np.array([True, False, True, True]),
        [1, 1],
    ],
    ids=str,
)
def test_indexing_values_and_scatter_add_gradients(index):
    x = randn(4, 3)
    expected = x[np.asarray(index) if isinstance(index, list) else index]
    np.testing.assert_array_equal(Tensor(x)[index].data, expected)
    check_gradients(lambda t: t[index], x)


def test_gather_gradient_counts_repeats():
    w = Tensor(np.zeros((3, 2), dtype=np.float32), requires_grad=True)
    w[np.array([[2, 0], [2, 2]])].sum().backward()
    np.testing.assert_array_equal(w.grad, [[1, 1], [0, 0], [3, 3]])
    assert w.grad.dtype == np.float32


def test_index_out_of_range_is_an_index_error():
    with pytest.raises(IndexError, match=r"shape \(4, 3\)"):
        Tensor(np.ones((4, 3)))[np.array([0, 4])]


def test_masked_fill_values_and_gradient():
    x = randn(2, 3, 3)
    mask = np.triu(np.ones((3, 3), dtype=bool), k=1)  # broadcast over the first axis
    out = Tensor(x).masked_fill(mask, -1e9).data
    np.testing.assert_array_equal(out, np.where(mask, -1e9, x))
    check_gradients(lambda t: t.masked_fill(Tensor(mask), 0.0), x)
    t = Tensor(x, requires_grad=True)
    t.masked_fill(mask, 5.0).sum().backward()
    np.testing.assert_array_equal(t.grad, np.broadcast_to(~mask, x.shape).astype(float))


def test_masked_fill_errors():
    with pytest.raises(TypeError, match="bool"):
        Tensor(np.ones((2, 2))).masked_fill(np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        Tensor(np.ones((2, 2))).masked_fill(np.ones(3, dtype=bool), 0.0)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_property_broadcast_gradients_match_finite_differences(shapes):
    shape_a, shape_b = shapes.input_shapes
    check_gradients(lambda a, b: a * b + a, randn(*shape_a), positive(*shape_b))


@settings(max_examples=40, derandomize=True, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4))
def test_property_unbroadcast_sums_each_input_element_once_per_use(shapes):
    # d sum(a + b) / da: each element of a is used prod(out) / prod(a) times.
    shape_a, _ = shapes.input_shapes
    out_shape = shapes.result_shape
    reduced = unbroadcast(np.ones(out_shape), shape_a)
    assert reduced.shape == shape_a
    np.testing.assert_array_equal(reduced, np.full(shape_a, np.prod(out_shape) / np.prod(shape_a)))
