"""Optimizers, clipping and the learning-rate schedule, against values worked out by hand."""

import math

import numpy as np
import pytest

from tinytorch import Tensor, nn, optim


def param(*values):
    return nn.Parameter(np.array(values, dtype=np.float64), dtype=np.float64)


def test_sgd_plain_and_with_momentum():
    p = param(1.0)
    sgd = optim.SGD([p], lr=0.1)
    p.grad = np.array([2.0])
    sgd.step()
    np.testing.assert_allclose(p.data, [0.8])
    q = param(1.0)
    momentum = optim.SGD([q], lr=0.1, momentum=0.9)
    for _ in range(2):
        q.grad = np.array([2.0])
        momentum.step()
    np.testing.assert_allclose(q.data, [1.0 - 0.1 * 2 - 0.1 * (0.9 * 2 + 2)])  # velocities 2, then 3.8


def test_adam_first_step_moves_each_weight_by_lr_against_its_gradient_sign():
    p = param(1.0, -2.0, 3.0)
    adam = optim.Adam([p], lr=0.01)
    p.grad = np.array([0.5, -30.0, 1e-3])
    adam.step()
    np.testing.assert_allclose(p.data, [0.99, -1.99, 2.99], rtol=1e-6)  # m_hat / sqrt(v_hat) = sign(g)


def test_adamw_two_steps_by_hand():
    p = param(1.0)
    adamw = optim.AdamW([p], lr=0.1, weight_decay=0.01)  # betas (0.9, 0.999), eps 1e-8
    p.grad = np.array([0.5])
    adamw.step()
    # decay: 1 * (1 - 0.1 * 0.01) = 0.999; m = 0.05, v = 0.00025; m_hat = 0.5, v_hat = 0.25
    np.testing.assert_allclose(p.data, [0.999 - 0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-12)
    p.grad = np.array([-1.0])
    adamw.step()
    m, v = 0.9 * 0.05 - 0.1, 0.999 * 0.00025 + 0.001
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = (0.999 - 0.1 * 0.5 / (0.5 + 1e-8)) * 0.999 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p.data, [expected], rtol=1e-12)


def test_adamw_on_many_parameters_matches_one_parameter_at_a_time():
    """A group's moments are updated as one flat buffer; a parameter that missed a step (its step count differs)
    sends the group through the per-parameter update: both agree with separate optimizers, one per parameter."""
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (3,), (1,)]
    together = [param(*rng.standard_normal(int(np.prod(s)))) for s in shapes]
    for p, shape in zip(together, shapes, strict=True):
        p.data = p.data.reshape(shape)
    alone = [param(0.0) for _ in shapes]
    for p, q in zip(alone, together, strict=True):
        p.data = q.data.copy()
    adamw = optim.AdamW(together, lr=0.1, weight_decay=0.1)
    singles = [optim.AdamW([p], lr=0.1, weight_decay=0.1) for p in alone]
    for step in range(4):
        for i, (p, q) in enumerate(zip(together, alone, strict=True)):
            gradient = rng.standard_normal(p.shape) if not (step == 1 and i == 2) else None  # p 2 skips step 1
            p.grad = q.grad = gradient
        adamw.step()
        for single in singles:
            single.step()
        for p, q in zip(together, alone, strict=True):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15)
    assert [adamw.state[id(p)]["step"] for p in together] == [4, 4, 3]


def test_adamw_parameter_groups_have_their_own_weight_decay():
    decay, no_decay = param(2.0), param(2.0)
    adamw = optim.AdamW([{"params": [decay], "weight_decay": 0.5}, {"params": [no_decay], "weight_decay": 0.0}], lr=0.1)
    decay.grad, no_decay.grad = np.zeros(1), np.zeros(1)  # zero gradient: only the decay moves weights
    adamw.step()
    np.testing.assert_allclose(decay.data, [2.0 * (1 - 0.1 * 0.5)])
    np.testing.assert_allclose(no_decay.data, [2.0])


def test_lr_is_settable_and_missing_gradients_are_skipped():
    p, unused = param(1.0), param(1.0)
    sgd = optim.SGD([p, unused], lr=1.0)
    sgd.lr = 0.5
    p.grad = np.array([1.0])
    sgd.step()
    np.testing.assert_allclose([p.data[0], unused.data[0]], [0.5, 1.0])
    sgd.zero_grad()
    assert p.grad is None


def test_optimizer_steps_keep_float32():
    p = nn.Parameter(np.ones(3))
    adamw = optim.AdamW([p], lr=0.1)
    p.grad = np.ones(3, dtype=np.float32)
    adamw.step()
    assert p.data.dtype == np.float32


def test_optimizer_input_errors():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Tensors that require grad"):
        optim.Adam([np.ones(3)])
    with pytest.raises(TypeError, match="Tensors that require grad"):
        optim.Adam([Tensor([1.0])])
    with pytest.raises(ValueError, match=r"unknown parameter-group options \['momentum'\]"):
        optim.AdamW([{"params": [param(1.0)], "momentum": 0.9}])


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = param(0.0, 0.0), param(0.0)
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([12.0])
    total = optim.clip_grad_norm([a, b], max_norm=6.5)
    assert total == pytest.approx(13.0)
    np.testing.assert_allclose(np.r_[a.grad, b.grad], [1.5, 2.0, 6.0], rtol=1e-6)
    assert optim.clip_grad_norm([a, b], max_norm=100.0) == pytest.approx(6.5, rel=1e-6)
    np.testing.assert_allclose(np.r_[a.grad, b.grad], [1.5, 2.0, 6.0], rtol=1e-6)  # below the limit: unchanged


def test_warmup_cosine_schedule():
    schedule = optim.WarmupCosine(max_lr=1.0, min_lr=0.1, warmup_steps=10, total_steps=110)
    points = {0: 0.0, 5: 0.5, 10: 1.0, 60: 0.55, 110: 0.1, 500: 0.1}
    for step, lr in points.items():
        assert schedule.lr_at(step) == pytest.approx(lr), step
    assert schedule(35) == schedule.lr_at(35) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        optim.WarmupCosine(1.0, 0.1, 10, 10)
    with pytest.raises(ValueError, match="min_lr <= max_lr"):
        optim.WarmupCosine(0.1, 1.0, 0, 10)
