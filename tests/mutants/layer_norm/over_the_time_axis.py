"""LayerNorm normalises over axis -2 (time, for (B, T, D) inputs) instead of the last axis."""

import numpy as np

from tinytorch import nn

BREAKS = ("layer_norm", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(np.ones(d_model, dtype=np.float32))
        self.beta = nn.Parameter(np.zeros(d_model, dtype=np.float32))

    def forward(self, x):
        mean = x.mean(axis=-2, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-2, keepdims=True)
        return self.gamma * (x - mean) / (var + self.eps).sqrt() + self.beta
