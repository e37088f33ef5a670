"""TinyGPT in PyTorch: the same architecture as the reference, for speed and quality comparisons.

Every module mirrors docs/API.md, down to parameter names and shapes (a Dense weight is (in, out),
LayerNorm has `gamma`/`beta`, the positions are the fixed sinusoidal table), so that
`model.load_numpy_state(reference.state_dict())` starts both models from identical weights.
Attention is PyTorch's fused `scaled_dot_product_attention`, which is what a PyTorch user would write.

Run it alone to train a `course train` preset in PyTorch, with the same batches, schedule, time budget and
validation windows (the quality yardstick for course/train.py):

    .venv/bin/python -m bench.torch_gpt --text ../shared/data/tinyshakespeare.txt                 # baby-shakespeare
    .venv/bin/python -m bench.torch_gpt --text ../shared/data/tinyshakespeare.txt --preset speedrun --threads 1
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

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


def train_preset(text_path: str, preset_name: str, steps: int | None, cpu_clock: bool) -> None:
    """Train a `course train` preset in PyTorch: the same batches, schedule, budget and validation windows."""
    from course.train import PRESETS, VAL_FRACTION, validation_windows
    from tinytorch.data import random_windows, train_val_split
    from tinytorch.optim import WarmupCosine

    preset = PRESETS[preset_name] if steps is None else replace(PRESETS[preset_name], steps=steps)
    text = open(text_path, encoding="utf-8").read()
    vocab = sorted(set(text))
    tokens = np.searchsorted(np.array(vocab), np.array(list(text))).astype(np.int64)  # character ids
    train, val = train_val_split(tokens, VAL_FRACTION)
    val_windows = [torch.from_numpy(w) for w in validation_windows(val, preset)]
    torch.manual_seed(preset.seed)
    model = TorchGPT(len(vocab), preset.d_model, preset.num_heads, preset.num_layers, preset.block_size)
    optimizer = make_optimizer(model, preset.lr, preset.betas, preset.weight_decay)
    schedule = WarmupCosine(preset.lr, preset.min_lr, preset.warmup_steps, preset.steps)
    print(f"{preset}\n{sum(p.numel() for p in model.parameters()):,} parameters; PyTorch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")

    def validation_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = float(np.mean([shifted_loss(model(w), w).item() for w in val_windows]))
        model.train()
        return loss

    wall, cpu = time.perf_counter(), time.process_time()
    step, loss = 0, float("nan")
    while step < preset.steps:
        lr = schedule.lr_at(step)
        if preset.seconds is not None:  # the schedule runs on the share of the time budget used, as in course train
            used = (time.process_time() - cpu if cpu_clock else time.perf_counter() - wall) / preset.seconds
            if used >= 1:
                break
            lr = schedule.lr_at(int(used * preset.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        ids = torch.from_numpy(random_windows(train, preset.batch_size, preset.block_size,
                                              np.random.default_rng([preset.seed, 0, step])))
        loss = shifted_loss(model(ids), ids)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), preset.clip_norm)
        optimizer.step()
        step += 1
        if step % preset.eval_every == 0:
            print(f"step {step}: train {loss.item():.4f}  val {validation_loss():.4f}  "
                  f"({time.perf_counter() - wall:.0f} s, {time.process_time() - cpu:.0f} s CPU)", flush=True)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    final = validation_loss()
    tokens = step * preset.batch_size * preset.block_size
    print(f"step {step}: final validation loss {final:.4f}; {seconds:.0f} s ({cpu_seconds:.0f} s CPU) of training, "
          f"{tokens:,} tokens, {tokens / seconds:,.0f} tokens/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", required=True, help="UTF-8 text file (e.g. tinyshakespeare.txt)")
    parser.add_argument("--preset", default="baby-shakespeare", help="a course train preset (default: %(default)s)")
    parser.add_argument("--steps", type=int, help="total steps, overriding the preset's")
    parser.add_argument("--cpu-clock", action="store_true", help="count a time budget in CPU seconds, as course train")
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: PyTorch's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    train_preset(args.text, args.preset, args.steps, args.cpu_clock)
