"""TinyGPT in PyTorch: the same architecture as the reference, for speed and quality comparisons.

Every module mirrors docs/API.md, down to parameter names and shapes (a Dense weight is (in, out),
LayerNorm has `gamma`/`beta`, the positions are the fixed sinusoidal table), so that
`model.load_numpy_state(reference.state_dict())` starts both models from identical weights.
Attention is PyTorch's fused `scaled_dot_product_attention`, which is what a PyTorch user would write.

Run it alone to train the baby-shakespeare recipe in PyTorch (the quality yardstick for course/train.py):

    .venv/bin/python -m bench.torch_gpt --text ../shared/data/tinyshakespeare.txt
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class Dense(nn.Module):
    """y = x @ weight + bias with weight (in, out), initialised like tinytorch's Dense."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class LayerNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(d_model))
        self.beta = nn.Parameter(torch.zeros(d_model))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, self.eps)


class Embedding(nn.Module):
    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_embeddings, embedding_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(...); shape (max_len, D)."""
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
    frequency = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (D/2,)
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table.float()


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (Dense(d_model, d_model) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        H = self.num_heads

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, H, D // H).transpose(1, 2)  # (B, H, T, Dh)

        out = F.scaled_dot_product_attention(
            heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x)), is_causal=True
        )  # (B, H, T, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(B, T, D))


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int):
        super().__init__()
        self.ln1 = LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.ln2 = LayerNorm(d_model)
        self.fc1 = Dense(d_model, d_ff)
        self.fc2 = Dense(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class TorchGPT(nn.Module):
    def __init__(self, vocab_size: int, d_model: int, num_heads: int, num_layers: int, max_len: int):
        super().__init__()
        self.token_embedding = Embedding(vocab_size, d_model)
        self.register_buffer("pe", sinusoidal_table(max_len, d_model), persistent=False)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, num_heads, 4 * d_model) for _ in range(num_layers))
        self.ln_f = LayerNorm(d_model)
        self.lm_head = Dense(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) int64 -> logits (B, T, V)."""
        x = self.token_embedding(ids) + self.pe[: ids.shape[1]]  # (B, T, D)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def load_numpy_state(self, state: dict[str, np.ndarray]) -> None:
        """Copy a tinytorch `state_dict()` (same names, same shapes) into this model."""
        self.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in state.items()})


def shifted_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits[:, :-1] predicting ids[:, 1:], as LanguageModelLoss."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def make_optimizer(model: nn.Module, lr: float, betas: tuple[float, float], weight_decay: float):
    """AdamW that decays matrices (ndim >= 2: Dense weights, token embedding) and nothing else."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def _train_baby_shakespeare(text_path: str, steps: int, seed: int) -> None:
    text = open(text_path, encoding="utf-8").read()
    vocab = sorted(set(text))
    tokens = np.searchsorted(np.array(vocab), np.array(list(text)))  # character ids
    split = int(len(tokens) * 0.9)
    train, val = tokens[:split], tokens[split:]
    torch.manual_seed(seed)
    block, batch = 64, 12
    model = TorchGPT(len(vocab), 128, 4, 4, block)
    optimizer = make_optimizer(model, 1e-3, (0.9, 0.99), 0.1)
    rng = np.random.default_rng(seed)

    def windows(data: np.ndarray, n: int) -> torch.Tensor:
        starts = rng.integers(0, len(data) - block + 1, size=n)
        return torch.from_numpy(np.stack([data[s : s + block] for s in starts]).astype(np.int64))

    def lr_at(step: int) -> float:
        if step < 100:
            return 1e-3 * step / 100
        progress = min(1.0, (step - 100) / (steps - 100))
        return 1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + math.cos(math.pi * progress))

    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        ids = windows(train, batch)
        loss = shifted_loss(model(ids), ids)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % 250 == 0 or step + 1 == steps:
            with torch.no_grad():
                val_loss = np.mean([shifted_loss(model(w), w).item() for w in (windows(val, 12) for _ in range(200))])
            seconds = time.perf_counter() - start
            print(f"step {step + 1}: train {loss.item():.3f}  val {val_loss:.3f}  ({seconds:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", required=True, help="UTF-8 text file (e.g. tinyshakespeare.txt)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _train_baby_shakespeare(args.text, args.steps, args.seed)
