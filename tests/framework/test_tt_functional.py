"""Fused functions: values against closed forms, gradients against finite differences, errors."""

import math

import numpy as np
import pytest

import tinytorch as tt
from tests.finite_differences import check_gradients
from tinytorch import Tensor
from tinytorch import functional as F

rng = np.random.default_rng(1)


def test_softmax_hand_case_and_stability():
    x = Tensor([0.0, math.log(2.0), math.log(3.0)])
    np.testing.assert_allclose(x.softmax().data, [1 / 6, 2 / 6, 3 / 6], rtol=1e-6)
    big = F.softmax(Tensor([1000.0, 1000.0 + math.log(2.0)])).data
    np.testing.assert_allclose(big, [1 / 3, 2 / 3], rtol=1e-4)
    np.testing.assert_allclose(F.log_softmax(Tensor([1000.0, 1000.0])).data, [-math.log(2)] * 2, rtol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_values_and_gradients(axis):
    x = rng.standard_normal((3, 4, 5))
    e = np.exp(x)
    expected = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(F.softmax(Tensor(x), axis).data, expected, rtol=1e-12)
    np.testing.assert_allclose(Tensor(x).log_softmax(axis).data, np.log(expected), rtol=1e-12)
    check_gradients(lambda t: t.softmax(axis), x)
    check_gradients(lambda t: F.log_softmax(t, axis), x)


def test_softmax_with_masked_entries_gives_exact_zeros():
    mask = np.array([[True, False, False], [True, True, False]])  # True = may attend
    weights = Tensor(np.ones((2, 3))).masked_fill(~mask, -np.inf).softmax().data
    np.testing.assert_array_equal(weights, [[1, 0, 0], [0.5, 0.5, 0]])


def test_cross_entropy_matches_log_sum_exp_formula():
    logits = rng.standard_normal((2, 3, 5))
    targets = rng.integers(0, 5, size=(2, 3))
    flat, t = logits.reshape(-1, 5), targets.reshape(-1)
    expected = np.mean(np.log(np.exp(flat).sum(axis=1)) - flat[np.arange(6), t])
    got = F.cross_entropy(Tensor(logits), targets)
    assert got.shape == ()
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)
    check_gradients(lambda x: F.cross_entropy(x, targets), logits)
    check_gradients(lambda x: F.cross_entropy(x, Tensor(t)), flat)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = F.cross_entropy(Tensor([[1e4, 0.0], [0.0, 1e4]]), np.array([1, 1]))
    np.testing.assert_allclose(loss.item(), 1e4 / 2, rtol=1e-6)  # -log softmax: 1e4 for row 0, 0 for row 1
    assert loss.dtype == np.float32


def test_cross_entropy_errors():
    logits = Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="integers.*float"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"targets of shape \(3,\).*logits of shape \(2, 3\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="expected 0 to 2"):
        F.cross_entropy(logits, np.array([0, 3]))


def gelu_reference(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def test_gelu_known_points():
    points = [-3.0, -1.0, 0.0, 0.5, 1.0, 2.0]
    got = F.gelu(Tensor(points, dtype=np.float64)).data
    np.testing.assert_allclose(got, [gelu_reference(p) for p in points], rtol=1e-12)
    np.testing.assert_allclose(got[[1, 2, 4]], [-0.158808, 0.0, 0.841192], atol=1e-6)
    exact = [0.5 * p * (1 + math.erf(p / math.sqrt(2))) for p in points]  # the tanh form approximates this
    np.testing.assert_allclose(got, exact, atol=1e-3)


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_gelu_and_relu_gradients(shape):
    check_gradients(F.gelu, rng.standard_normal(shape) * 2)
    check_gradients(F.relu, rng.standard_normal(shape))


def test_dropout_scales_kept_units_and_is_identity_in_eval():
    x = Tensor(np.ones((200, 100), dtype=np.float32), requires_grad=True)
    assert F.dropout(x, 0.3, training=False) is x
    tt.manual_seed(0)
    out = F.dropout(x, 0.3, training=True)
    np.testing.assert_allclose(np.unique(out.data), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((out.data == 0).mean() - 0.3) < 0.01  # 20,000 draws: 0.01 is > 3 standard deviations
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # gradient is the same mask, scaled
    assert out.dtype == np.float32


def test_dropout_gradient_and_bad_probability():
    def fn(t):
        tt.manual_seed(3)  # the same mask on every call
        return F.dropout(t, 0.5, training=True)

    check_gradients(fn, rng.standard_normal((4, 5)))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout(Tensor([1.0]), 1.0, training=True)


def test_embedding_gathers_rows_and_scatter_adds_gradients():
    weight = rng.standard_normal((5, 3))
    ids = np.array([[0, 4, 4], [2, 0, 4]])
    np.testing.assert_array_equal(F.embedding(ids, Tensor(weight)).data, weight[ids])
    np.testing.assert_array_equal(F.embedding(Tensor(ids), Tensor(weight)).data, weight[ids])
    check_gradients(lambda w: F.embedding(ids, w), weight)


def test_embedding_errors():
    weight = Tensor(np.ones((5, 3)))
    with pytest.raises(TypeError, match="embedding ids must be integers.*float"):
        F.embedding(np.array([1.0, 2.0]), weight)
    with pytest.raises(ValueError, match="expected 0 to 4"):
        F.embedding(np.array([5]), weight)
    with pytest.raises(ValueError, match="expected 0 to 4"):
        F.embedding(np.array([-1]), weight)


def test_mse_loss_values_gradients_and_shape_check():
    pred, target = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(F.mse_loss(Tensor(pred), target).item(), np.mean((pred - target) ** 2), rtol=1e-12)
    check_gradients(lambda p, t: F.mse_loss(p, t), pred, target)
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4,\)"):
        F.mse_loss(Tensor(pred), target[:, 0])


def test_fused_ops_keep_float32():
    x = Tensor(rng.standard_normal((2, 3, 4)), dtype=np.float32, requires_grad=True)
    w, b = Tensor(np.eye(4, dtype=np.float32), requires_grad=True), Tensor(np.zeros(4, dtype=np.float32))
    h = F.gelu(F.linear(x, w, b)).softmax().log_softmax()
    loss = F.cross_entropy(h, np.zeros((2, 3), dtype=np.int64))
    assert h.dtype == loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == w.grad.dtype == np.float32


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3)])
def test_linear_matches_matmul_plus_bias_and_its_gradients(x_shape):
    x, weight, bias = rng.standard_normal(x_shape), rng.standard_normal((3, 4)), rng.standard_normal(4)
    np.testing.assert_allclose(F.linear(Tensor(x), Tensor(weight), Tensor(bias)).data, x @ weight + bias, rtol=1e-12)
    np.testing.assert_allclose(F.linear(Tensor(x), Tensor(weight)).data, x @ weight, rtol=1e-12)
    check_gradients(lambda a, w, b: F.linear(a, w, b), x, weight, bias)
    check_gradients(lambda a, w: F.linear(a, w), x, weight)


def test_linear_checks_shapes():
    with pytest.raises(ValueError, match=r"x \(2, 3\) and weight \(4, 5\)"):
        F.linear(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match=r"bias has shape \(4,\), expected \(5,\)"):
        F.linear(Tensor(np.zeros((2, 4))), Tensor(np.zeros((4, 5))), Tensor(np.zeros(4)))
