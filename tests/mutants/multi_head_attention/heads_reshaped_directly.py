"""MultiHeadAttention reshapes (B, T, D) straight to (B, H, T, Dh), mixing positions into heads."""

from tinytorch import nn

BREAKS = ("multi_head_attention", "end_to_end")  # positions mixed into heads: the trained model sees later tokens


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, causal=True):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim, self.causal = num_heads, d_model // num_heads, causal
        self.q_proj = nn.Dense(d_model, d_model)
        self.k_proj = nn.Dense(d_model, d_model)
        self.v_proj = nn.Dense(d_model, d_model)
        self.out_proj = nn.Dense(d_model, d_model)
        self.last_attention = None

    def forward(self, x):
        B, T, D = x.shape

        def heads(t):
            return t.reshape(B, self.num_heads, T, self.head_dim)  # wrong: no transpose

        mask = causal_mask(T) if self.causal else None  # noqa: F821
        out, weights = scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)),  # noqa: F821
                                                    heads(self.v_proj(x)), mask)
        self.last_attention = weights.data.copy()
        return self.out_proj(out.reshape(B, T, D))
