"""SelfAttention keeps the weights Tensor in `last_attention` instead of the NumPy array (B, T, T) the API names."""

from tinytorch import nn

BREAKS = ("attention",)


class SelfAttention(nn.Module):
    def __init__(self, d_model, causal=False):
        super().__init__()
        self.q_proj = nn.Dense(d_model, d_model)
        self.k_proj = nn.Dense(d_model, d_model)
        self.v_proj = nn.Dense(d_model, d_model)
        self.causal = causal
        self.last_attention = None

    def forward(self, x):
        mask = causal_mask(x.shape[1]) if self.causal else None  # noqa: F821 (the notebook's causal_mask)
        out, self.last_attention = scaled_dot_product_attention(  # noqa: F821
            self.q_proj(x), self.k_proj(x), self.v_proj(x), mask)
        return out
