"""tinytorch.trace: which ops, modules, optimizers and losses ran, how often, and at what cost."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn, optim, trace
from tinytorch import functional as F


class Twice(nn.Module):  # a user's module: recorded, but not a framework component
    def __init__(self):
        self.dense = nn.Dense(3, 4)

    def forward(self, x):
        return self.dense(x) * 2


def calls(usage: trace.Usage) -> dict[str, int]:
    return {c.label: c.calls for c in usage.components(None)}


def test_recording_is_off_by_default_and_only_inside_the_block():
    model = Twice()
    x = Tensor(np.ones((2, 3)))
    assert trace.recorders == []
    model(x)
    with trace.record() as usage:
        model(x)
        model(x)
    model(x)
    assert trace.recorders == []
    assert calls(usage) == {"op Linear": 2, "op Mul": 2, "module Dense": 2, "module Twice": 2}
    assert [c.label for c in usage.components(framework=False)] == ["module Twice"]
    assert usage.labels() == {"op Linear", "op Mul", "module Dense"}


def test_backward_adds_nothing_and_optimizers_and_losses_are_their_own_kinds():
    model = nn.Dense(3, 2)
    optimizer = optim.AdamW(model.parameters())
    with trace.record() as usage:
        loss = F.cross_entropy(model(Tensor(np.ones((5, 3)))), np.zeros(5, dtype=np.int64))
        before = calls(usage)
        loss.backward()
        assert calls(usage) == before
        optimizer.step()
        nn.MSELoss()(Tensor(np.ones(3)), np.zeros(3))
    assert [c.label for c in usage.components() if c.kind != "op"] == [
        "module Dense", "optimizer AdamW", "loss CrossEntropy", "loss MSELoss"]
    assert {c.label for c in usage.components() if c.kind == "op"} == {
        "op Linear", "op Mean", "op Mul", "op Sub"}  # mse_loss is made of plain ops


def test_bytes_count_new_arrays_only_and_multiply_adds_count_products_and_convolutions():
    x = Tensor(np.ones((2, 3, 6, 6), dtype=np.float32))
    conv = nn.Conv2d(3, 5, 3, padding=1)
    with trace.record() as usage:
        out = conv(x)  # (2, 5, 6, 6)
        flat = out.reshape(2, -1)  # a view: no new memory
        flat.transpose(0, 1)  # a view too
        (flat @ Tensor(np.ones((180, 7), dtype=np.float32))).relu()  # (2, 7)
    by_label = {c.label: c for c in usage.components()}
    assert by_label["op Conv2d"].multiply_adds == out.size * 3 * 3 * 3
    assert by_label["op MatMul"].multiply_adds == 2 * 7 * 180
    assert usage.multiply_adds == out.size * 27 + 2 * 7 * 180
    assert by_label["op Conv2d"].allocated_bytes == out.data.nbytes == 2 * 5 * 36 * 4
    assert by_label["op Reshape"].allocated_bytes == 0 and by_label["op Permute"].allocated_bytes == 0
    assert usage.allocated_bytes == out.data.nbytes + 2 * (2 * 7 * 4)  # conv, matmul and relu outputs
    # kept for backward beyond inputs and outputs: the conv's im2col columns (2*6*6 rows of 3*3*3) and ReLU's mask
    assert by_label["op Conv2d"].saved_bytes == 2 * 36 * 27 * 4
    assert by_label["op ReLU"].saved_bytes == 2 * 7 and by_label["op MatMul"].saved_bytes == 0
    assert usage.activation_bytes == usage.allocated_bytes + 2 * 36 * 27 * 4 + 2 * 7
    with trace.record() as evaluation, tt.no_grad():
        conv(x)
    assert evaluation.saved_bytes == 0 and evaluation.allocated_bytes == out.data.nbytes  # no graph: nothing kept


def test_nested_recordings_both_count_and_an_error_ends_the_recording():
    x = Tensor(np.ones(3))
    with trace.record() as outer:
        x.exp()
        with pytest.raises(RuntimeError), trace.record() as inner:
            x.log()
            raise RuntimeError("stop")
    assert calls(outer) == {"op Exp": 1, "op Log": 1} and calls(inner) == {"op Log": 1}
    assert trace.recorders == []


def test_reuse_compares_two_recordings_by_framework_component():
    x = Tensor(np.ones((2, 3)))
    with trace.record() as first:
        nn.Sequential(nn.Dense(3, 3), nn.ReLU())(x)
    with trace.record() as second:
        Twice()(x).exp()
    result = trace.reuse(first, second)
    # second used op Exp, Linear, Mul and module Dense; first already used Linear and Dense
    assert result.shared == ["op Linear", "module Dense"]
    assert result.new == ["op Exp", "op Mul"]
    assert result.share == pytest.approx(2 / 4)
    assert result.multiply_add_share == 1.0  # all of second's multiply-adds are in Linear, which first used
    with trace.record() as convolution:
        nn.Conv2d(1, 1, 1)(Tensor(np.ones((1, 1, 2, 2))))
    assert trace.reuse(convolution, second).multiply_add_share == 0.0
    assert ("op ReLU", True, False) in result.rows and len(result.rows) == 7
    table = result.table("mlp", "twice")
    assert table.splitlines()[0].split() == ["component", "mlp", "twice"]
    assert table.splitlines()[-1] == "twice used 4 tinytorch components; mlp had already used 2 of them: 50%"
    assert trace.reuse(first, trace.Usage()).share == 0.0
