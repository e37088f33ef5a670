"""From vision to language, the vision half: a small CNN learns real handwritten digits with the same
AdamW, cross_entropy and training loop as the GPT.

    .venv/bin/python examples/cnn_digits.py [--steps 1500] [--seed 0]

The images are scikit-learn's 1,797 8x8 digits (`tinytorch.data.load_digits`, no download): 1,438 to
train on, 359 held out. Prints the test accuracy and the wall-clock and CPU seconds of the training.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import tinytorch as tt
from tinytorch import Tensor, nn, optim
from tinytorch import functional as F
from tinytorch.data import load_digits, minibatch_indices
from tinytorch.training import train_loop


def digits_cnn() -> nn.Sequential:
    """Two conv-ReLU-pool stages and a linear classifier: (B, 1, 8, 8) -> logits (B, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 4, 4)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 2, 2)
        nn.Flatten(),  # (B, 128)
        nn.Dense(32 * 2 * 2, 10),  # (B, 10)
    )


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of images (N, 1, 8, 8) whose highest logit is their label (N,)."""
    with tt.no_grad():
        predictions = model.eval()(Tensor(images)).data.argmax(axis=-1)
    model.train()
    return float(np.mean(predictions == labels))


def train(steps: int, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
          progress: bool = True) -> tuple[nn.Sequential, list[float]]:
    """Train `digits_cnn()` for `steps` AdamW steps on shuffled mini-batches; returns the model and its losses."""
    tt.manual_seed(seed)
    split = load_digits(seed=seed)
    model = digits_cnn()
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = optim.WarmupCosine(lr, lr / 10, warmup_steps=min(20, steps // 2), total_steps=max(steps, 1))
    batches = minibatch_indices(len(split.train_labels), batch_size, np.random.default_rng(seed))

    def step(number: int) -> float:
        batch = next(batches)
        optimizer.lr = schedule(number)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(Tensor(split.train_images[batch])), split.train_labels[batch])
        loss.backward()
        optimizer.step()
        return loss.item()

    # The matrices are small: one BLAS thread is faster than several that wait for each other on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        if progress:
            return model, train_loop(step, steps, desc="cnn digits")
        return model, [step(number) for number in range(steps)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="AdamW steps of 32 images (default 1500, 33 epochs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    load_digits()  # read the file once before the clock starts
    wall, cpu = time.perf_counter(), time.process_time()
    model, losses = train(args.steps, seed=args.seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    split = load_digits(seed=args.seed)
    print(f"{model.num_parameters():,} parameters; loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}")
    print(f"train accuracy {accuracy(model, split.train_images, split.train_labels):.1%}, "
          f"test accuracy {accuracy(model, split.test_images, split.test_labels):.1%} "
          f"({len(split.test_labels)} held-out images)")
    print(f"{args.steps} steps in {wall:.1f} s wall-clock, {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
