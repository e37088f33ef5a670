"""causal_mask is transposed: True above the diagonal, so each query sees the future, not the past."""

import numpy as np

BREAKS = ("causal_mask",)


def causal_mask(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool))
