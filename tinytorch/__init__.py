"""tinytorch: a small NumPy deep-learning framework with reverse-mode autograd.

import tinytorch as tt
from tinytorch import Tensor, nn, optim, functional as F
"""

from tinytorch import data, functional, nn, optim, training
from tinytorch.ops import cat, split, stack
from tinytorch.random import manual_seed, rng
from tinytorch.tensor import Function, Tensor, backward_stats, is_grad_enabled, no_grad, ones, randn, zeros

__all__ = [
    "Function",
    "Tensor",
    "backward_stats",
    "cat",
    "data",
    "functional",
    "is_grad_enabled",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "optim",
    "randn",
    "rng",
    "split",
    "stack",
    "training",
    "zeros",
]
