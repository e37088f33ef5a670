"""LayerNorm divides the squared deviations by D - 1 (unbiased variance) instead of D."""

import numpy as np

from tinytorch import nn

BREAKS = ("layer_norm",)


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(np.ones(d_model, dtype=np.float32))
        self.beta = nn.Parameter(np.zeros(d_model, dtype=np.float32))

    def forward(self, x):
        d = x.shape[-1]
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).sum(axis=-1, keepdims=True) / (d - 1)
        return self.gamma * (x - mean) / (var + self.eps).sqrt() + self.beta
