"""Modules: containers of parameters and sub-modules, and the layers built from them.

A Module finds its Parameters and sub-modules by looking through its attributes, including lists,
tuples and dicts of them, in the order they were assigned. Only `Parameter`s are trainable state:
a plain Tensor or NumPy array attribute (such as a fixed positional-encoding table) is not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch import functional as F
from tinytorch import trace as _trace
from tinytorch import vision
from tinytorch.random import rng
from tinytorch.tensor import Tensor


class Parameter(Tensor):
    """A trainable Tensor: requires grad, and Modules collect it. float32 unless dtype is given."""

    def __init__(self, data: np.ndarray | Tensor, dtype: Any = np.float32) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
            kind = f"an array of dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Parameter needs a float NumPy array (or Tensor), got {kind}")
        super().__init__(data, requires_grad=True, dtype=dtype)


def _members(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted name, Parameter or Module) found in an attribute value, looking inside lists, tuples and dicts."""
    if isinstance(value, Parameter | Module):
        yield name, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _members(f"{name}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _members(f"{name}.{key}", item)


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` and define `forward`."""

    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _trace.recorders:  # inside tinytorch.trace.record(): count this module
            _trace.note("module", type(self))
        return self.forward(*args, **kwargs)

    def _direct_members(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            yield from _members(name, value)

    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Parameter | Module]]:
        """Depth-first in attribute order: this module, then each member (sub-modules expanded), each once."""
        seen.add(id(self))
        yield prefix, self
        for name, value in self._direct_members():
            if id(value) in seen:
                continue
            full_name = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Module):
                yield from value._walk(full_name, seen)
            else:
                seen.add(id(value))
                yield full_name, value

    def named_modules(self) -> list[tuple[str, Module]]:
        """This module (named '') and every sub-module once, with dotted names, in attribute order."""
        return [(name, m) for name, m in self._walk("", set()) if isinstance(m, Module)]

    def modules(self) -> list[Module]:
        return [module for _, module in self.named_modules()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """Every Parameter once, in attribute order, e.g. ('blocks.0.attn.q_proj.weight', p).

        A parameter shared between modules is listed under the first name met.
        """
        return [(name, p) for name, p in self._walk("", set()) if isinstance(p, Parameter)]

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every sub-module (dropout is active only in training)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter arrays, by dotted name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Module:
        """Copy arrays into the parameters; names and shapes must match exactly."""
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, p in params.items():
            value = state[name]
            if not isinstance(value, np.ndarray):
                raise TypeError(f"load_state_dict: '{name}' must be a NumPy array, got {type(value).__name__}")
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: '{name}' has shape {value.shape}, the model expects {p.shape}")
        for name, p in params.items():
            p.data = np.array(state[name], dtype=p.dtype)
        return self

    def save(self, path: str | Path) -> None:
        """Write the parameters to an .npz file at exactly `path`."""
        with open(path, "wb") as file:
            np.savez(file, **self.state_dict())

    def load(self, path: str | Path) -> Module:
        with np.load(path, allow_pickle=False) as archive:
            return self.load_state_dict({name: archive[name] for name in archive.files})

    def __repr__(self) -> str:
        children = [
            f"  ({name}): {module!r}".replace("\n", "\n  ")
            for name, module in self._direct_members()
            if isinstance(module, Module)
        ]
        return f"{type(self).__name__}(" + ("\n" + "\n".join(children) + "\n" if children else "") + ")"


class Dense(Module):
    """y = x @ weight + bias; x (..., in_features) -> y (..., out_features).

    Initialised like PyTorch's Linear: weight and bias uniform in +-1/sqrt(in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        bound = 1 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(rng().uniform(-bound, bound, (in_features, out_features)))
        self.bias = Parameter(rng().uniform(-bound, bound, (out_features,))) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Dense({self.in_features}, {self.out_features}) got input of shape {x.shape}")
        return F.linear(x, self.weight, self.bias)  # x @ weight + bias, (..., out)

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features}, bias={self.bias is not None})"


class Embedding(Module):
    """A lookup table: int ids (...) -> rows of weight (..., embedding_dim). weight ~ normal(0, 1), as PyTorch."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(rng().standard_normal((num_embeddings, embedding_dim)))

    def forward(self, ids: Any) -> Tensor:
        return F.embedding(ids, self.weight)

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


class Conv2d(Module):
    """2-D convolution, PyTorch's layout: x (B, in_channels, H, W) -> (B, out_channels, Ho, Wo),
    Ho = (H + 2 padding - kernel_size) // stride + 1 (likewise Wo).

    weight (out_channels, in_channels, k, k) and bias (out_channels,), initialised like PyTorch's:
    uniform in +-1/sqrt(in_channels * k * k).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> None:
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError(
                f"Conv2d needs positive channels, kernel_size and stride and padding >= 0, got "
                f"({in_channels}, {out_channels}, {kernel_size}, stride={stride}, padding={padding})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        bound = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = Parameter(rng().uniform(-bound, bound, (out_channels, in_channels, kernel_size, kernel_size)))
        self.bias = Parameter(rng().uniform(-bound, bound, (out_channels,)))

    def forward(self, x: Tensor) -> Tensor:
        return vision.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


class MaxPool2d(Module):
    """Max over kernel_size x kernel_size windows: (B, C, H, W) -> (B, C, Ho, Wo); stride defaults to kernel_size."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        if self.kernel_size < 1 or self.stride < 1:
            raise ValueError(f"MaxPool2d needs kernel_size >= 1 and stride >= 1, got {kernel_size} and {stride}")

    def forward(self, x: Tensor) -> Tensor:
        return vision.max_pool2d(x, self.kernel_size, self.stride)

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class Flatten(Module):
    """(B, ...) -> (B, product of the other axes): images to feature vectors for a Dense layer."""

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"Flatten expects a batch (B, ...) of at least 2 axes, got a tensor of shape {x.shape}")
        return x.reshape(x.shape[0], -1)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class GELU(Module):
    """GELU with the tanh approximation (GPT-2)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x)


class Dropout(Module):
    def __init__(self, p: float = 0.1) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Module):
    """Apply modules one after the other."""

    def __init__(self, *modules: Module) -> None:
        for m in modules:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, got {type(m).__name__}")
        self.layers = list(modules)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


class CrossEntropyLoss(Module):
    """loss_fn(logits (..., C), targets int (...)) -> mean cross-entropy (scalar Tensor)."""

    def forward(self, logits: Tensor, targets: Any) -> Tensor:
        return F.cross_entropy(logits, targets)


class MSELoss(Module):
    """loss_fn(pred, target) -> mean squared error (scalar Tensor); shapes must match."""

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.mse_loss(pred, target)
