"""PositionalEncoding fills the cosine columns with as many angles as sine columns: for an odd d_model there is
one cosine column fewer, so building the table fails (the textbook `pe[:, 1::2] = np.cos(position * div_term)`)."""

import math

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("positional_encoding",)


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        position = np.arange(max_len)[:, None]
        div_term = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), dtype=np.float32)
        pe[:, 0::2] = np.sin(position * div_term)
        pe[:, 1::2] = np.cos(position * div_term)
        self.pe = pe

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence of length {x.shape[1]} is longer than max_len={self.max_len}")
        return x + Tensor(self.pe[: x.shape[1]])
