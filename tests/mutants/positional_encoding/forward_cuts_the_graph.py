"""PositionalEncoding.forward adds the table to the raw arrays and wraps the sum in a new Tensor: the values are
right, but no gradient flows back to x, so the token embeddings below it never learn."""

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("positional_encoding",)


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        angles = np.arange(max_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
        self.pe = np.zeros((max_len, d_model), dtype=np.float32)
        self.pe[:, 0::2] = np.sin(angles)
        self.pe[:, 1::2] = np.cos(angles[:, : d_model // 2])

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence of length {x.shape[1]} is longer than max_len={self.max_len}")
        return Tensor(x.data + self.pe[: x.shape[1]])
