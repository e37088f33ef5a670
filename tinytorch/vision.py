"""The vision operations: 2-D convolution and max pooling over (B, C, H, W) images, as in PyTorch.

Both read their windows through a strided view of the (padded) input, so the forward pass is one
matrix product (convolution, im2col) or one reduction (pooling) with no Python loop over pixels. The
backward passes add the window gradients back with one vectorised slice per kernel offset (k * k of
them), which also handles overlapping windows (stride < kernel_size).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.tensor import Function, Tensor


def output_size(size: int, kernel_size: int, stride: int, padding: int = 0) -> int:
    """Positions of a kernel sliding over `size` pixels (after padding): (size + 2p - k) // s + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _windows(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """A read-only view (B, C, Ho, Wo, k, k) of every kernel-sized window of x (B, C, H, W), no copy."""
    return sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::stride, ::stride]


def _add_windows(grad_windows: np.ndarray, shape: tuple[int, ...], stride: int) -> np.ndarray:
    """The adjoint of `_windows`: window gradients (B, C, Ho, Wo, k, k) summed back into an array of `shape`."""
    out = np.zeros(shape, dtype=grad_windows.dtype)
    _, _, out_h, out_w, k, _ = grad_windows.shape
    for i in range(k):  # k * k slices, each over all pixels at once
        for j in range(k):
            out[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] += grad_windows[..., i, j]
    return out


class Conv2d(Function):
    """Cross-correlation, as PyTorch's conv2d: x (B, C, H, W), weight (O, C, k, k), bias (O,) -> (B, O, Ho, Wo)."""

    def __init__(self, stride: int, padding: int):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias):
        p = self.padding
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        out_channels, _, k, _ = weight.shape
        windows = _windows(padded, k, self.stride)  # (B, C, Ho, Wo, k, k), a view
        batch, _, out_h, out_w = windows.shape[:4]
        self.columns = windows.transpose(0, 2, 3, 1, 4, 5).reshape(batch * out_h * out_w, -1)  # (B Ho Wo, C k k)
        self.weight, self.padded_shape = weight, padded.shape
        out = self.columns @ weight.reshape(out_channels, -1).T + bias  # (B Ho Wo, O)
        out = out.reshape(batch, out_h, out_w, out_channels).transpose(0, 3, 1, 2)  # (B, O, Ho, Wo)
        return np.ascontiguousarray(out)  # later ops (ReLU, pooling, Flatten's reshape) read it in order

    def backward(self, grad):  # grad (B, O, Ho, Wo)
        weight = self.weight
        out_channels, channels, k, _ = weight.shape
        batch, _, out_h, out_w = grad.shape
        grad_rows = grad.transpose(0, 2, 3, 1).reshape(-1, out_channels)  # (B Ho Wo, O)
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0]:
            grad_columns = grad_rows @ weight.reshape(out_channels, -1)  # (B Ho Wo, C k k)
            grad_windows = grad_columns.reshape(batch, out_h, out_w, channels, k, k).transpose(0, 3, 1, 2, 4, 5)
            grad_x = _add_windows(grad_windows, self.padded_shape, self.stride)
            p = self.padding
            if p:
                grad_x = grad_x[:, :, p:-p, p:-p]
        if self.needs_grad[1]:
            grad_weight = (grad_rows.T @ self.columns).reshape(weight.shape)  # (O, C, k, k)
        if self.needs_grad[2]:
            grad_bias = grad_rows.sum(axis=0)  # (O,)
        return grad_x, grad_weight, grad_bias


def _check_images(x: Tensor, name: str, channels: int | None = None) -> None:
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"{name} expects images of shape {want}, got a tensor of shape {x.shape}")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    """2-D convolution: x (B, C, H, W), weight (O, C, k, k), bias (O,) -> (B, O, Ho, Wo),
    Ho = (H + 2 padding - k) // stride + 1 (likewise Wo); zero padding; square kernels."""
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"conv2d: weight must have shape (out, in, k, k), got {weight.shape}")
    out_channels, channels, k, _ = weight.shape
    _check_images(x, "conv2d", channels)
    if bias.shape != (out_channels,):
        raise ValueError(f"conv2d: bias must have shape ({out_channels},), got {bias.shape}")
    if stride < 1 or padding < 0:
        raise ValueError(f"conv2d: need stride >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    height, width = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    if height < k or width < k:
        raise ValueError(
            f"conv2d: a {k}x{k} kernel does not fit in images of {x.shape[2]}x{x.shape[3]} with padding {padding}"
        )
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding)


class MaxPool2d(Function):
    """The maximum of each k x k window: x (B, C, H, W) -> (B, C, Ho, Wo). The gradient goes to the first
    maximal entry of each window (as PyTorch), and adds up where windows overlap."""

    def __init__(self, kernel_size: int, stride: int):
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        k = self.kernel_size
        windows = _windows(x, k, self.stride)  # (B, C, Ho, Wo, k, k), a view
        flat = windows.reshape(*windows.shape[:4], k * k)  # (B, C, Ho, Wo, k k), a copy
        self.argmax, self.shape = flat.argmax(axis=-1), x.shape  # (B, C, Ho, Wo)
        return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad):  # grad (B, C, Ho, Wo)
        k = self.kernel_size
        one_hot = self.argmax[..., None] == np.arange(k * k)  # (B, C, Ho, Wo, k k)
        grad_windows = (grad[..., None] * one_hot).reshape(*grad.shape, k, k)
        return (_add_windows(grad_windows, self.shape, self.stride),)


def max_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Max over k x k windows: x (B, C, H, W) -> (B, C, Ho, Wo), Ho = (H - k) // stride + 1; stride defaults to k."""
    stride = kernel_size if stride is None else stride
    _check_images(x, "max_pool2d")
    if kernel_size < 1 or stride < 1:
        raise ValueError(f"max_pool2d: need kernel_size >= 1 and stride >= 1, got {kernel_size} and {stride}")
    if x.shape[2] < kernel_size or x.shape[3] < kernel_size:
        raise ValueError(f"max_pool2d: a {kernel_size}x{kernel_size} window does not fit in images of shape {x.shape}")
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride)
