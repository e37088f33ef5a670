"""causal_mask returns a float 0/1 matrix instead of a bool one."""

import numpy as np

BREAKS = ("causal_mask",)


def causal_mask(seq_len):
    return np.tril(np.ones((seq_len, seq_len)))
