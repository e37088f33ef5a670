"""tinytorch: a small NumPy deep-learning framework with reverse-mode autograd.

    import tinytorch as tt
    from tinytorch import Tensor, nn, optim, functional as F

Where things are: tensor.py (Tensor, Function, the backward walk, no_grad), ops.py (elementwise,
reductions, shapes, matmul, indexing), functional.py (fused softmax, cross_entropy, gelu,
linear, dropout, embedding), vision.py (conv2d, max_pool2d), nn.py (Module, Parameter, layers),
optim.py (SGD, Adam, AdamW, clipping, WarmupCosine), data.py (text, token batches, digit images),
training.py (progress bars, train_loop), random.py (manual_seed, rng), trace.py (which components
a piece of code used).
"""

from tinytorch import data, functional, nn, optim, trace, training, vision
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
    "trace",
    "training",
    "vision",
    "zeros",
]
