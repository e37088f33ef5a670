"""Conv2d, MaxPool2d and Flatten against naive loop references (values) and finite differences (gradients)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch as tt
from tests.finite_differences import check_gradients
from tinytorch import Tensor, nn
from tinytorch.vision import conv2d, max_pool2d


def naive_conv2d(x, weight, bias, stride, padding):
    """out[b, o, i, j] = bias[o] + sum over c, u, v of weight[o, c, u, v] * padded[b, c, i s + u, j s + v]."""
    batch, channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    padded = np.zeros((batch, channels, height + 2 * padding, width + 2 * padding))
    padded[:, :, padding : padding + height, padding : padding + width] = x
    out_h = (height + 2 * padding - k) // stride + 1
    out_w = (width + 2 * padding - k) // stride + 1
    out = np.zeros((batch, out_channels, out_h, out_w))
    for b in range(batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    total = bias[o]
                    for c in range(channels):
                        for u in range(k):
                            for v in range(k):
                                total += weight[o, c, u, v] * padded[b, c, i * stride + u, j * stride + v]
                    out[b, o, i, j] = total
    return out


def naive_max_pool2d(x, k, stride):
    batch, channels, height, width = x.shape
    out = np.zeros((batch, channels, (height - k) // stride + 1, (width - k) // stride + 1))
    for b, c, i, j in np.ndindex(out.shape):
        out[b, c, i, j] = max(x[b, c, i * stride + u, j * stride + v] for u in range(k) for v in range(k))
    return out


CONV_CASES = [  # (B, C, H, W), (O, k), stride, padding
    ((2, 1, 5, 5), (3, 3), 1, 0),
    ((1, 2, 6, 5), (2, 3), 2, 1),
    ((2, 3, 4, 4), (2, 1), 1, 0),
    ((1, 2, 7, 6), (3, 2), 3, 2),
    ((3, 1, 4, 6), (1, 4), 1, 1),
]


@pytest.mark.parametrize(("x_shape", "out_k", "stride", "padding"), CONV_CASES)
def test_conv2d_values_match_the_loop_reference(x_shape, out_k, stride, padding):
    rng = np.random.default_rng(0)
    (out_channels, k), channels = out_k, x_shape[1]
    x = rng.standard_normal(x_shape)
    weight = rng.standard_normal((out_channels, channels, k, k))
    bias = rng.standard_normal(out_channels)
    out = conv2d(Tensor(x), Tensor(weight), Tensor(bias), stride, padding)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, naive_conv2d(x, weight, bias, stride, padding), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("x_shape", "out_k", "stride", "padding"), CONV_CASES)
def test_conv2d_gradients_match_finite_differences(x_shape, out_k, stride, padding):
    rng = np.random.default_rng(1)
    (out_channels, k), channels = out_k, x_shape[1]
    x = rng.standard_normal(x_shape)
    weight = rng.standard_normal((out_channels, channels, k, k))
    bias = rng.standard_normal(out_channels)
    check_gradients(lambda x, w, b: conv2d(x, w, b, stride, padding), x, weight, bias, atol=1e-5, rtol=1e-5)


POOL_CASES = [((2, 2, 4, 4), 2, None), ((1, 3, 5, 6), 2, 1), ((2, 1, 7, 7), 3, 2), ((1, 2, 6, 4), 3, None)]


@pytest.mark.parametrize(("x_shape", "k", "stride"), POOL_CASES)
def test_max_pool2d_values_and_gradients(x_shape, k, stride):
    x = np.random.default_rng(2).standard_normal(x_shape)  # continuous values: no ties between window entries
    out = max_pool2d(Tensor(x), k, stride)
    np.testing.assert_allclose(out.data, naive_max_pool2d(x, k, k if stride is None else stride), rtol=1e-5, atol=1e-5)
    check_gradients(lambda x: max_pool2d(x, k, stride), x, atol=1e-5, rtol=1e-5)


def test_max_pool2d_sends_the_gradient_to_the_first_maximum_of_a_tie():
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


@settings(max_examples=30, derandomize=True, deadline=None)
@given(
    batch=st.integers(1, 3), channels=st.integers(1, 3), out_channels=st.integers(1, 3),
    height=st.integers(1, 7), width=st.integers(1, 7), k=st.integers(1, 4), stride=st.integers(1, 3),
    padding=st.integers(0, 2),
)
def test_conv2d_output_shape_and_values_for_any_geometry(batch, channels, out_channels, height, width, k, stride,
                                                          padding):
    if height + 2 * padding < k or width + 2 * padding < k:
        with pytest.raises(ValueError, match="does not fit"):
            nn.Conv2d(channels, out_channels, k, stride, padding)(Tensor(np.zeros((batch, channels, height, width))))
        return
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, channels, height, width))
    layer = nn.Conv2d(channels, out_channels, k, stride=stride, padding=padding)
    out = layer(Tensor(x))
    expected_shape = (batch, out_channels, (height + 2 * padding - k) // stride + 1,
                      (width + 2 * padding - k) // stride + 1)
    assert out.shape == expected_shape
    reference = naive_conv2d(x, layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64), stride,
                             padding)
    np.testing.assert_allclose(out.data, reference, rtol=1e-5, atol=1e-5)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(channels=st.integers(1, 3), height=st.integers(1, 8), width=st.integers(1, 8), k=st.integers(1, 4),
       stride=st.none() | st.integers(1, 3))
def test_max_pool2d_output_shape_and_values_for_any_geometry(channels, height, width, k, stride):
    x = np.random.default_rng(4).standard_normal((2, channels, height, width))
    pool = nn.MaxPool2d(k, stride)
    if height < k or width < k:
        with pytest.raises(ValueError, match="does not fit"):
            pool(Tensor(x))
        return
    step = k if stride is None else stride
    out = pool(Tensor(x))
    assert out.shape == (2, channels, (height - k) // step + 1, (width - k) // step + 1)
    np.testing.assert_allclose(out.data, naive_max_pool2d(x, k, step), rtol=1e-5, atol=1e-5)


def test_conv2d_layer_parameters_follow_pytorchs_layout_and_initialisation():
    tt.manual_seed(0)
    layer = nn.Conv2d(3, 8, 5, stride=2, padding=1)
    assert layer.weight.shape == (8, 3, 5, 5) and layer.bias.shape == (8,)
    assert layer.weight.dtype == np.float32 and layer.num_parameters() == 8 * 3 * 25 + 8
    bound = 1 / np.sqrt(3 * 25)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.9 * bound
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    out = layer(Tensor(np.ones((2, 3, 9, 9), dtype=np.float32)))
    assert out.shape == (2, 8, 4, 4) and out.dtype == np.float32


def test_layers_give_clear_errors_for_wrong_inputs_and_still_work_after():
    layer, pool, flatten = nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Flatten()
    wrong = r"conv2d expects images of shape \(B, 3, H, W\), got a tensor of shape "
    with pytest.raises(ValueError, match=wrong + r"\(2, 1, 5, 5\)"):
        layer(Tensor(np.zeros((2, 1, 5, 5))))
    with pytest.raises(ValueError, match=wrong + r"\(3, 5, 5\)"):
        layer(Tensor(np.zeros((3, 5, 5))))
    with pytest.raises(ValueError, match="a 3x3 kernel does not fit in images of 2x5"):
        layer(Tensor(np.zeros((1, 3, 2, 5))))
    with pytest.raises(ValueError, match=r"max_pool2d expects images of shape \(B, C, H, W\)"):
        pool(Tensor(np.zeros((4, 4))))
    with pytest.raises(ValueError, match="at least 2 axes"):
        flatten(Tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="positive channels"):
        nn.Conv2d(3, 0, 3)
    with pytest.raises(ValueError, match="kernel_size >= 1"):
        nn.MaxPool2d(0)
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6))
    features = flatten(pool(layer(Tensor(x))))  # the same objects work on proper input
    expected = naive_conv2d(x, layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64), 1, 0)
    expected = naive_max_pool2d(expected, 2, 2).reshape(2, -1)
    np.testing.assert_allclose(features.data, expected, rtol=1e-5, atol=1e-5)


def test_flatten_keeps_the_batch_axis_and_passes_gradients_back():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)
    out = nn.Flatten()(Tensor(x))
    np.testing.assert_array_equal(out.data, x.reshape(2, 12))
    check_gradients(lambda x: nn.Flatten()(x), x)


def test_a_small_cnn_has_finite_difference_gradients_end_to_end():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dense(12, 4))
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    x = np.random.default_rng(6).standard_normal((2, 2, 4, 4))
    conv = model[0]

    def forward(x, weight):
        conv.weight = weight
        return model(x)

    check_gradients(forward, x, conv.weight.data.copy(), atol=1e-5, rtol=1e-5)
