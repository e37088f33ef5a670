"""Part I milestone, runnable: a two-layer MLP learns XOR with tinytorch.

.venv/bin/python examples/xor.py
"""

import numpy as np

import tinytorch as tt
from tinytorch import Tensor, nn, optim
from tinytorch.training import train_loop


def main() -> None:
    tt.manual_seed(0)
    inputs = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32))  # (4, 2)
    labels = np.array([0, 1, 1, 0])  # (4,)
    model = nn.Sequential(nn.Dense(2, 8), nn.ReLU(), nn.Dense(8, 2))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    losses = train_loop(step, 300, desc="xor")
    with tt.no_grad():
        predictions = model.eval()(inputs).data.argmax(axis=-1)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.4f}; predictions {predictions.tolist()} (want {labels.tolist()})")


if __name__ == "__main__":
    main()
