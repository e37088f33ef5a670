"""PositionalEncoding keeps `pe` as a tinytorch Tensor instead of the float32 NumPy array the API names (right values;
code that indexes `pe` as an array, like the KV-cache extension's `Tensor(pe[start:end])`, breaks)."""

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("positional_encoding",)


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        angles = np.arange(max_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
        table = np.zeros((max_len, d_model), dtype=np.float32)
        table[:, 0::2] = np.sin(angles)
        table[:, 1::2] = np.cos(angles[:, : d_model // 2])
        self.pe = Tensor(table)

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence of length {x.shape[1]} is longer than max_len={self.max_len}")
        return x + self.pe[: x.shape[1]]
