"""MultiHeadAttention never applies the causal mask: every position attends to the future."""

from tinytorch import nn

BREAKS = ("multi_head_attention", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


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
            return t.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

        out, weights = scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)),  # noqa: F821
                                                    heads(self.v_proj(x)))
        self.last_attention = weights.data.copy()
        return self.out_proj(out.transpose(1, 2).reshape(B, T, D))
