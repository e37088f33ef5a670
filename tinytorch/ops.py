"""The differentiable operations: elementwise, reductions, shape ops, matmul and indexing.

Each operation is a `Function` with its forward and backward next to each other, then a thin
function that the Tensor methods and operators call. Gradients of broadcast inputs are summed back
to the input's shape by `unbroadcast`.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tinytorch.tensor import Function, Tensor

Axis = int | tuple[int, ...] | None


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor as is; a constant (scalar, list, array) as a Tensor of `like`'s float dtype (no silent upcast)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and like.dtype.kind == "f":
        return Tensor(value, dtype=like.dtype)
    return Tensor(value)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape` again."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    stretched = tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
    return grad.reshape(shape)


def _binary(function: type[Function], a: Any, b: Any, name: str) -> Tensor:
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast together") from None
    return function.apply(a, b)


# ----- elementwise -----


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad):
        return tuple(unbroadcast(grad, s) if n else None for s, n in zip(self.shapes, self.needs_grad, strict=True))


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad):
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad, shape_a) if self.needs_grad[0] else None,
            -unbroadcast(grad, shape_b) if self.needs_grad[1] else None,  # sum first: negate the smaller array
        )


class Mul(Function):
    """a * b. Each input is kept only if the other one's gradient needs it (a constant factor keeps nothing alive)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        self.a = a if self.needs_grad[1] else None
        self.b = b if self.needs_grad[0] else None
        return a * b

    def backward(self, grad):
        (shape_a, shape_b), a, b = self.shapes, self.a, self.b
        return (
            unbroadcast(grad * b, shape_a) if self.needs_grad[0] else None,
            unbroadcast(grad * a, shape_b) if self.needs_grad[1] else None,
        )


class Div(Function):
    """a / b. The numerator is kept only for b's gradient (dividing by a constant keeps it not alive)."""

    def forward(self, a, b):
        self.shape_a = a.shape
        self.a = a if self.needs_grad[1] else None
        self.b = b
        return a / b

    def backward(self, grad):
        a, b = self.a, self.b
        grad_b = None
        if self.needs_grad[1]:  # -grad a / b^2, summed to b's shape before the division by b^2 (b is constant there)
            grad_b = unbroadcast(grad * a, b.shape)
            grad_b /= -(b * b)
        return (unbroadcast(grad / b, self.shape_a) if self.needs_grad[0] else None, grad_b)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return (-grad,)


class Pow(Function):
    """x ** p for a constant exponent p."""

    def __init__(self, exponent: float):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        return x**self.exponent

    def backward(self, grad):
        return (grad * self.exponent * self.x ** (self.exponent - 1),)


class Exp(Function):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)


class Log(Function):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return (grad / self.x,)


class Tanh(Function):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return (grad * (1 - self.out * self.out),)


class Sqrt(Function):
    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, grad):
        return (grad / (2 * self.out),)


class ReLU(Function):
    def forward(self, x):
        self.positive = x > 0
        return np.where(self.positive, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad):
        return (grad * self.positive,)


def add(a: Any, b: Any) -> Tensor:
    return _binary(Add, a, b, "add")


def sub(a: Any, b: Any) -> Tensor:
    return _binary(Sub, a, b, "sub")


def mul(a: Any, b: Any) -> Tensor:
    return _binary(Mul, a, b, "mul")


def div(a: Any, b: Any) -> Tensor:
    return _binary(Div, a, b, "div")


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def pow(x: Tensor, exponent: float) -> Tensor:
    if isinstance(exponent, Tensor) or not np.isscalar(exponent):
        raise TypeError(f"x ** p needs a constant number p, got {type(exponent).__name__}")
    return Pow.apply(x, exponent=exponent)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


# ----- reductions -----


def sum_keepdims(x: np.ndarray, axis: Axis) -> np.ndarray:
    """np.sum(x, axis, keepdims=True); over the last axis of a float array as a matrix-vector product with ones
    (BLAS: several times faster than NumPy's reduction for rows of tens to hundreds of elements)."""
    if x.ndim and axis in (-1, x.ndim - 1) and x.dtype.kind == "f":
        return (x @ np.ones(x.shape[-1], dtype=x.dtype))[..., None]
    return np.sum(x, axis=axis, keepdims=True)


def _expand_reduced(grad: np.ndarray, shape: tuple[int, ...], axis: Axis, keepdims: bool) -> np.ndarray:
    """Reinsert the reduced axes of `grad` (size 1) so it broadcasts against the input's shape."""
    if axis is None:
        return grad.reshape((1,) * len(shape))
    if not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


def _count(shape: tuple[int, ...], axis: Axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


class Sum(Function):
    def __init__(self, axis: Axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, grad):
        return (np.broadcast_to(_expand_reduced(grad, self.shape, self.axis, self.keepdims), self.shape),)


class Mean(Function):
    def __init__(self, axis: Axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        if self.axis != x.ndim - 1:
            return np.mean(x, axis=self.axis, keepdims=self.keepdims)
        mean = sum_keepdims(x, self.axis) / x.dtype.type(x.shape[-1])
        return mean if self.keepdims else mean[..., 0]

    def backward(self, grad):
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims) / _count(self.shape, self.axis)
        return (np.broadcast_to(grad, self.shape),)


class Var(Function):
    """Biased variance: mean((x - mean(x))^2); d/dx = 2 (x - mean) / N."""

    def __init__(self, axis: Axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        if self.axis == x.ndim - 1:  # the layer-norm case: sums without a temporary
            self.centered = x - sum_keepdims(x, self.axis) / x.dtype.type(x.shape[-1])
            squares = np.einsum("...d,...d->...", self.centered, self.centered)
            squares = squares[..., None] if self.keepdims else squares
            return squares / x.dtype.type(x.shape[-1])
        self.centered = x - np.mean(x, axis=self.axis, keepdims=True)
        return np.mean(self.centered * self.centered, axis=self.axis, keepdims=self.keepdims)

    def backward(self, grad):
        shape = self.centered.shape
        grad = _expand_reduced(grad, shape, self.axis, self.keepdims)
        return (self.centered * (grad * (2 / _count(shape, self.axis))),)  # the small factor first: one big array


class Max(Function):
    """The gradient goes to the maximal entries (shared equally between ties)."""

    def __init__(self, axis: Axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        return np.max(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, grad):
        is_max = self.x == np.max(self.x, axis=self.axis, keepdims=True)
        share = is_max / np.sum(is_max, axis=self.axis, keepdims=True)
        return (_expand_reduced(grad, self.x.shape, self.axis, self.keepdims) * share.astype(grad.dtype),)


def _check_axis(x: Tensor, axis: Axis, name: str) -> Axis:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{name}: axis {a} is out of range for a tensor of shape {x.shape}")
    normalized = tuple(a % x.ndim for a in axes)
    return normalized[0] if isinstance(axis, int) else normalized


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Sum.apply(x, axis=_check_axis(x, axis, "sum"), keepdims=keepdims)


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean.apply(x, axis=_check_axis(x, axis, "mean"), keepdims=keepdims)


def var(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Var.apply(x, axis=_check_axis(x, axis, "var"), keepdims=keepdims)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Max.apply(x, axis=_check_axis(x, axis, "max"), keepdims=keepdims)


# ----- shape ops (views where NumPy allows) -----


class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, grad):
        return (grad.reshape(self.input_shape),)


class Permute(Function):
    def __init__(self, axes: tuple[int, ...]):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, grad):
        return (grad.transpose(np.argsort(self.axes)),)


def _shape_arg(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape


def _resolve_shape(shape: tuple[int, ...], size: int, old_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Fill in one -1 and check that the sizes agree."""
    known = int(np.prod([n for n in shape if n != -1]))
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise ValueError(f"reshape: {shape} is not a valid shape (at most one -1, no other negatives)")
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {old_shape} (size {size}) to {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    elif known != size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {old_shape} (size {size}) to {shape}")
    return shape


def reshape(x: Tensor, *shape: int | tuple[int, ...]) -> Tensor:
    shape = _resolve_shape(tuple(int(n) for n in _shape_arg(shape)), x.size, x.shape)
    return Reshape.apply(x, shape=shape)


def permute(x: Tensor, *axes: int | tuple[int, ...]) -> Tensor:
    axes = _shape_arg(axes)
    if sorted(a % x.ndim for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
        raise ValueError(f"permute: {axes} is not an ordering of the {x.ndim} axes of a tensor of shape {x.shape}")
    return Permute.apply(x, axes=tuple(a % x.ndim for a in axes))


def transpose(x: Tensor, axis1: int = -2, axis2: int = -1) -> Tensor:
    """Swap two axes (by default the last two, as matrices)."""
    if x.ndim < 2:
        raise ValueError(f"transpose needs at least 2 axes, got a tensor of shape {x.shape}")
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return Permute.apply(x, axes=tuple(axes))


class Concatenate(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *arrays):
        self.boundaries = np.cumsum([a.shape[self.axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=self.axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.boundaries, axis=self.axis))


def cat(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; all other axes must match."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    first = tensors[0]
    axis = axis % first.ndim
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1 :] != first.shape[:axis] + first.shape[axis + 1 :]:
            raise ValueError(f"cat along axis {axis}: shapes {first.shape} and {t.shape} differ on another axis")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    axis = axis % (tensors[0].ndim + 1)
    expanded = [reshape(t, t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors]
    return cat(expanded, axis=axis)


def split(x: Tensor, sections: int | list[int], axis: int = -1) -> list[Tensor]:
    """Cut x along `axis` into `sections` equal parts (an int) or parts of the given sizes (a list)."""
    length = x.shape[axis]
    if isinstance(sections, int):
        if sections <= 0 or length % sections:
            raise ValueError(f"split: axis of size {length} does not divide into {sections} equal parts")
        sizes = [length // sections] * sections
    else:
        sizes = list(sections)
        if builtins.sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} add up to {builtins.sum(sizes)}, not the axis size {length}")
    axis = axis % x.ndim
    parts, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        parts.append(getitem(x, index))
        start += size
    return parts


# ----- matmul -----


class MatMul(Function):
    """Batched a @ b: (..., n, k) @ (..., k, m) -> (..., n, m), batch axes broadcast.

    The common layer case (..., n, k) @ (k, m) runs as one 2-D product over the flattened batch.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        if b.ndim == 2 and a.ndim > 2:
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        grad_a = grad_b = None
        if b.ndim == 2 and a.ndim > 2:  # weight shared over the batch: one 2-D product each way
            flat_grad = grad.reshape(-1, grad.shape[-1])
            if self.needs_grad[0]:
                grad_a = (flat_grad @ b.T).reshape(a.shape)
            if self.needs_grad[1]:
                grad_b = a.reshape(-1, a.shape[-1]).T @ flat_grad
            return grad_a, grad_b
        if self.needs_grad[0]:
            grad_a = unbroadcast(grad @ np.swapaxes(b, -1, -2), a.shape)
        if self.needs_grad[1]:
            grad_b = unbroadcast(np.swapaxes(a, -1, -2) @ grad, b.shape)
        return grad_a, grad_b


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b; 1-D operands are treated as a row (left) or column (right) vector, as in NumPy."""
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: scalars cannot be matrix-multiplied, use *")
    if a.ndim == 1:
        return reshape(matmul(reshape(a, 1, -1), b), *b.shape[:-2], b.shape[-1])
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, -1, 1)), a.shape[:-1])
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of the left ({a.shape[-1]}) "
            f"must equal the second-to-last axis of the right ({b.shape[-2]})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: batch axes do not broadcast together") from None
    return MatMul.apply(a, b)


# ----- indexing -----


def scatter_add_rows(num_rows: int, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """out (num_rows, *rest) with out[i] = sum of rows[j] where ids[j] == i: the backward of a row gather.

    Sorting and one `np.add.reduceat` is much faster than `np.add.at` for repeated ids.
    """
    flat_ids = ids.reshape(-1) % num_rows  # negative ids count from the end, as in NumPy
    flat_rows = rows.reshape(flat_ids.size, *rows.shape[ids.ndim :])
    out = np.zeros((num_rows, *flat_rows.shape[1:]), dtype=rows.dtype)
    if flat_ids.size == 0:
        return out
    order = np.argsort(flat_ids, kind="stable")
    sorted_ids = flat_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    out[sorted_ids[starts]] = np.add.reduceat(flat_rows[order], starts, axis=0)
    return out


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) selects each element at most once, so its backward can assign."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, int | slice | np.integer) or p is None or p is Ellipsis for p in parts)


class GetItem(Function):
    def __init__(self, index: Any):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, grad):
        index = self.index
        if isinstance(index, np.ndarray) and index.dtype.kind in "iu":  # gather of rows, e.g. weight[ids]
            return (scatter_add_rows(self.shape[0], index, grad),)
        full = np.zeros(self.shape, dtype=grad.dtype)
        if _is_basic(index):
            full[index] = grad
        else:
            np.add.at(full, index, grad)
        return (full,)


def _plain_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays (lists of ints become integer arrays)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    index = _plain_index(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as error:
        raise IndexError(f"indexing a tensor of shape {x.shape}: {error}") from None


class MaskedFill(Function):
    """A copy of x with `value` where the mask is True. A copy and a masked assignment, and a product with the
    (broadcast) 0/1 mask backward, are two to four times faster than `np.where` with a broadcast mask."""

    def __init__(self, mask: np.ndarray, value: float):
        self.mask, self.value = mask, value

    def forward(self, x):
        out = x.copy()
        np.copyto(out, np.asarray(self.value, dtype=x.dtype), where=self.mask)
        return out

    def backward(self, grad):
        return (grad * np.logical_not(self.mask).astype(grad.dtype),)  # 0 where filled (for a finite grad)


def masked_fill(x: Tensor, mask: Any, value: float) -> Tensor:
    """Replace x where mask is True by value; those positions get zero gradient. mask broadcasts to x."""
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool array, got dtype {mask.dtype}")
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the tensor's shape {x.shape}")
    return MaskedFill.apply(x, mask=mask, value=value)
