"""causal_mask is transposed: True above the diagonal, so each query sees the future, not the past."""

import numpy as np

BREAKS = ("causal_mask", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


def causal_mask(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool))
