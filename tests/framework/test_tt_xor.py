"""Part I milestone: an MLP built from tinytorch parts learns XOR."""

import numpy as np

import tinytorch as tt
from tinytorch import Tensor, nn, optim


def test_mlp_learns_xor():
    tt.manual_seed(0)
    inputs = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32))
    labels = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Dense(2, 8), nn.ReLU(), nn.Dense(8, 2))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 0.5  # starts near log(2)
    assert losses[-1] < 0.05
    with tt.no_grad():
        predictions = model.eval()(inputs).data.argmax(axis=-1)
    np.testing.assert_array_equal(predictions, labels)
