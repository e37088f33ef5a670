"""Fused neural-network functions: one Function each, with an analytic backward.

Fusing (rather than composing exp, sum, log, ...) keeps these numerically stable and fast:
one forward pass over the data, one backward pass, few temporary arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch import ops
from tinytorch.ops import relu
from tinytorch.random import rng
from tinytorch.tensor import Function, Tensor

__all__ = [
    "softmax",
    "log_softmax",
    "relu",
    "gelu",
    "dropout",
    "cross_entropy",
    "mse_loss",
    "embedding",
    "linear",
]


class Softmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        out = x - np.max(x, axis=self.axis, keepdims=True)  # shift so exp cannot overflow
        np.exp(out, out=out)
        out /= ops.sum_keepdims(out, self.axis)
        self.out = out
        return out

    def backward(self, grad):
        y = self.out
        if self.axis in (-1, y.ndim - 1):  # sum(grad * y) as row-wise dot products, without a temporary
            dot = np.einsum("...s,...s->...", grad, y)[..., None]
        else:
            dot = np.sum(grad * y, axis=self.axis, keepdims=True)
        out = grad - dot
        out *= y  # y * (grad - sum(grad * y)), with one new array
        return (out,)


class LogSoftmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        shifted = x - np.max(x, axis=self.axis, keepdims=True)
        self.out = shifted - np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))
        return self.out

    def backward(self, grad):
        return (grad - np.exp(self.out) * np.sum(grad, axis=self.axis, keepdims=True),)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis` (stable: the max is subtracted first)."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - log(sum(exp(x))) along `axis`, computed stably."""
    return LogSoftmax.apply(x, axis=axis)


class CrossEntropy(Function):
    """Mean over positions of -log softmax(logits)[target]: log-softmax and NLL in one step."""

    def __init__(self, targets: np.ndarray):
        self.targets = targets.reshape(-1)

    def forward(self, logits):
        flat = logits.reshape(-1, logits.shape[-1])  # (N, C)
        rows = np.arange(flat.shape[0])
        shifted = flat - np.max(flat, axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = np.sum(exp, axis=1)  # (N,)
        self.probs = exp / total[:, None]  # (N, C), reused by backward
        self.logits_shape = logits.shape
        loss = np.mean(np.log(total) - shifted[rows, self.targets])
        return np.asarray(loss, dtype=logits.dtype)

    def backward(self, grad):
        grad_logits = self.probs.copy()  # softmax - one_hot(target), averaged over the N positions
        grad_logits[np.arange(grad_logits.shape[0]), self.targets] -= 1
        grad_logits *= grad / grad_logits.shape[0]
        return (grad_logits.reshape(self.logits_shape),)


def _int_array(values: Any, what: str) -> np.ndarray:
    array = values.data if isinstance(values, Tensor) else np.asarray(values)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers (class or token ids), got dtype {array.dtype}")
    return array


def cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Mean cross-entropy. logits (..., C) Tensor, targets int (...) with values in [0, C)."""
    targets = _int_array(targets, "cross_entropy targets")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: targets of shape {targets.shape} do not match logits of shape {logits.shape}; "
            f"expected targets of shape {logits.shape[:-1]}"
        )
    num_classes = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(
            f"cross_entropy: targets range from {targets.min()} to {targets.max()}, expected 0 to {num_classes - 1}"
        )
    return CrossEntropy.apply(logits, targets=targets)


GELU_SCALE = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


class GELU(Function):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): the tanh approximation of GPT-2.

    The forward keeps s = 0.5 (1 + tanh(u)) = sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3), for the backward.
    Large temporaries are costly (allocation and page faults), so both passes update one or two arrays in place.
    """

    def forward(self, x):
        self.x = x
        s = x * x
        s *= GELU_SCALE * GELU_CUBIC
        s += GELU_SCALE
        s *= x  # u
        np.tanh(s, out=s)  # (NumPy's float32 tanh is faster than exp and a reciprocal, the sigmoid form)
        s *= 0.5
        s += 0.5
        self.sig = s  # sigmoid(2u)
        return x * s

    def backward(self, grad):
        # d/dx [x s] = s + x s (1 - s) 2u', with s = sigmoid(2u) saved and 2u' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        x, s = self.x, self.sig
        local = x * x
        local *= 6 * GELU_SCALE * GELU_CUBIC
        local += 2 * GELU_SCALE
        local *= x
        local *= s
        local -= local * s  # x s (1 - s) 2u'
        local += s
        local *= grad
        return (local,)


def gelu(x: Tensor) -> Tensor:
    return GELU.apply(x)


class Dropout(Function):
    def __init__(self, p: float):
        self.p = p

    def forward(self, x):
        keep = rng().random(x.shape, dtype=np.float32) >= self.p
        self.scale = keep.astype(x.dtype) / x.dtype.type(1 - self.p)  # kept units are scaled up by 1/(1-p)
        return x * self.scale

    def backward(self, grad):
        return (grad * self.scale,)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Zero each element with probability p while training (others scaled by 1/(1-p)); identity otherwise."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=p)


class Linear(Function):
    """x @ weight + bias as one op: the bias is added in place to the product, and its gradient is one column sum."""

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        out = x.reshape(-1, x.shape[-1]) @ weight  # (N, out): one 2-D product over all leading axes
        if bias is not None:
            out += bias
        return out.reshape(*x.shape[:-1], weight.shape[1])

    def backward(self, grad):
        flat_grad = grad.reshape(-1, grad.shape[-1])  # (N, out)
        grad_x = grad_w = grad_b = None
        if self.needs_grad[0]:
            grad_x = (flat_grad @ self.weight.T).reshape(self.x.shape)
        if self.needs_grad[1]:
            grad_w = self.x.reshape(-1, self.x.shape[-1]).T @ flat_grad
        if len(self.needs_grad) > 2 and self.needs_grad[2]:  # column sums as one matrix-vector product (BLAS)
            grad_b = np.ones(flat_grad.shape[0], dtype=flat_grad.dtype) @ flat_grad
        return (grad_x, grad_w, grad_b)[: len(self.needs_grad)]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x (..., in) @ weight (in, out) + bias (out,) -> (..., out), fused: what `nn.Dense` computes."""
    weight = ops.as_tensor(weight, like=x)
    if x.ndim < 1 or weight.ndim != 2 or x.shape[-1] != weight.shape[0]:
        raise ValueError(f"linear: x {x.shape} and weight {weight.shape} do not fit; expected x (..., in) "
                         "and weight (in, out)")
    if bias is None:
        return Linear.apply(x, weight)
    bias = ops.as_tensor(bias, like=x)
    if bias.shape != (weight.shape[1],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[1]},) for weight "
                         f"{weight.shape}")
    return Linear.apply(x, weight, bias)


def embedding(ids: Any, weight: Tensor) -> Tensor:
    """Rows of weight (V, D) for int ids of any shape (...): returns (..., D). Backward scatter-adds rows."""
    ids = _int_array(ids, "embedding ids")
    num = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        raise ValueError(f"embedding: ids range from {ids.min()} to {ids.max()}, expected 0 to {num - 1}")
    return ops.getitem(weight, ids)


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean of (pred - target)^2; target must have pred's shape (no silent broadcasting)."""
    target = ops.as_tensor(target, like=pred)
    if target.shape != pred.shape:
        raise ValueError(f"mse_loss: pred has shape {pred.shape} but target has shape {target.shape}; they must match")
    diff = pred - target
    return (diff * diff).mean()
