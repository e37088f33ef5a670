"""MultiHeadAttention defaults to `causal=False` (the API says `causal=True`): a layer built as
`MultiHeadAttention(d_model, num_heads)` attends to the future."""

from tinytorch import nn

BREAKS = ("multi_head_attention",)  # the reference TransformerBlock passes causal=True itself


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, causal=False):
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
        batch, seq_len, d_model = x.shape
        heads = (batch, seq_len, self.num_heads, self.head_dim)
        q = self.q_proj(x).reshape(*heads).transpose(1, 2)  # (B, H, T, Dh)
        k = self.k_proj(x).reshape(*heads).transpose(1, 2)
        v = self.v_proj(x).reshape(*heads).transpose(1, 2)
        mask = causal_mask(seq_len) if self.causal else None  # noqa: F821 (the notebook's causal_mask)
        out, weights = scaled_dot_product_attention(q, k, v, mask)  # noqa: F821
        self.last_attention = weights.data
        return self.out_proj(out.transpose(1, 2).reshape(batch, seq_len, d_model))
