"""scaled_dot_product_attention normalises over the query axis (-2) instead of the key axis (-1)."""

import numpy as np

BREAKS = ("attention", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -1e9)
    weights = scores.softmax(axis=-2)
    return weights @ v, weights
