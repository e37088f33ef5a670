"""scaled_dot_product_attention subtracts 10 from masked scores instead of excluding them."""

import numpy as np

BREAKS = ("attention", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])  # (..., T, S)
    if mask is not None:
        scores = scores - 10.0 * (~np.asarray(mask, dtype=bool))
    weights = scores.softmax(axis=-1)
    return weights @ v, weights
