"""PositionalEncoding counts positions from 1 instead of 0."""

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("positional_encoding",)


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        positions = np.arange(1, max_len + 1)[:, None]  # (max_len, 1)
        angles = positions / 10000 ** (np.arange(0, d_model, 2) / d_model)  # (max_len, D/2)
        pe = np.zeros((max_len, d_model))
        pe[:, 0::2] = np.sin(angles)
        pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
        self.pe = pe.astype(np.float32)

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len {self.max_len}")
        return x + Tensor(self.pe[: x.shape[1]])
