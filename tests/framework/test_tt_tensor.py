"""The Tensor and the autograd engine: dtypes, accumulation, graph walk, no_grad, errors."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor


def test_dtype_rules():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([1, 2, 3]).dtype == np.float32  # Python lists become float32, even of ints
    assert Tensor(np.zeros(2, dtype=np.float16)).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64  # an explicit float64 array stays float64
    assert Tensor(np.arange(3)).dtype == np.int64  # token ids keep their integer dtype
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.array([True, False])).dtype == np.bool_


def test_integer_tensors_never_require_grad():
    with pytest.raises(ValueError, match="only float tensors can require grad"):
        Tensor(np.arange(3), requires_grad=True)


def test_non_numeric_data_is_rejected():
    with pytest.raises(TypeError, match="numbers"):
        Tensor("hello")


def test_float32_stays_float32_through_ops_and_gradients():
    x = Tensor(np.ones((2, 3)), dtype=np.float32, requires_grad=True)
    y = ((x * 2.5 + 1.0) / 3.0 - 0.5) ** 2
    z = (y.exp().log().tanh().sqrt() @ np.ones((3, 2))).mean()
    assert z.dtype == np.float32
    z.backward()
    assert x.grad.dtype == np.float32


def test_gradients_accumulate_until_zero_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [2 * 1 + 3, 2 * 2 + 3])
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_a_tensor_used_twice_gets_both_contributions():
    x = Tensor([3.0], requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    np.testing.assert_allclose(x.grad, [7.0])


def test_leaf_gradients_are_separate_arrays():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([2.0], requires_grad=True)
    (a + b).backward()
    a.grad *= 10  # e.g. clipping one gradient in place must not change the other
    np.testing.assert_allclose(b.grad, [1.0])


def test_constants_get_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [5.0, 6.0])


def test_no_grad_records_no_graph():
    x = Tensor([1.0], requires_grad=True)
    with tt.no_grad():
        y = x * 2
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_on_non_scalar_needs_a_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))


def test_graph_is_freed_after_backward_unless_retained():
    x = Tensor([2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0])
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_ten_thousand_op_chain_has_no_recursion_limit():
    x = Tensor([1.0], dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0001**10_000], rtol=1e-9)


def test_deep_residual_graph_visits_each_node_once():
    # x = x + tanh(x * w), 200 times: 3 new tensors per block. A walk that revisits shared
    # sub-graphs (recursion without memo) would take ~2^200 steps; ours takes one visit per node.
    w = Tensor(np.full(4, 0.1), requires_grad=True)
    x0 = Tensor(np.linspace(-1, 1, 4), requires_grad=True)
    x = x0
    for _ in range(200):
        x = x + (x * w).tanh()
    x.sum().backward()
    nodes = 2 + 3 * 200 + 1  # two leaves, three tensors per block, the sum
    assert tt.backward_stats.nodes_visited == nodes
    assert tt.backward_stats.functions_called == nodes - 2  # every non-leaf once


def test_ndarray_on_the_left_still_builds_a_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x  # must call Tensor.__rmul__, not make an object array
    assert isinstance(y, Tensor) and y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_detach_item_numpy_and_creation_helpers():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    assert Tensor([4.0]).item() == 4.0
    assert x.numpy() is x.data
    assert (x.shape, x.ndim, x.size, len(x)) == ((1, 2), 2, 2, 1)
    np.testing.assert_array_equal(tt.zeros((2, 3)).data, np.zeros((2, 3)))
    np.testing.assert_array_equal(tt.ones(3).data, np.ones(3))
    tt.manual_seed(5)
    a = tt.randn((2, 2))
    tt.manual_seed(5)
    np.testing.assert_array_equal(a.data, np.random.default_rng(5).standard_normal((2, 2)).astype(np.float32))
    assert a.dtype == np.float32
