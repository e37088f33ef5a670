"""Hidden tests for LayerNorm.

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring).
"""

import numpy as np
import pytest

from tests.finite_differences import numerical_gradient
from tests.hidden._checks import expect_close, expect_equal

rng = np.random.default_rng(41)


def numpy_layer_norm(x, gamma, beta, eps=1e-5):
    """gamma * (x - mean) / sqrt(var + eps) + beta over the last axis, biased variance."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _case(shape, eps=None, weights=False, offset=0.0, spread=1.0):
    d = shape[-1]
    case = {"x": offset + spread * rng.normal(size=shape), "upstream": rng.normal(size=shape)}  # float64
    if eps is not None:
        case["eps"] = eps
    if weights:
        case["weights"] = {"gamma": (1 + 0.5 * rng.normal(size=d)).astype(np.float32),
                           "beta": rng.normal(size=d).astype(np.float32)}
    return case


REQUEST = {
    "default_parameters": _case((3, 4, 5), offset=2.0, spread=3.0),
    "affine": _case((2, 3, 4), weights=True),
    "tiny_variance": _case((2, 4), offset=1.0, spread=0.003),  # var ~ 1e-5, comparable to eps
    "custom_eps": _case((3, 4), eps=0.5, weights=True),
}


def _parameters(case):
    d = case["x"].shape[-1]
    weights = case.get("weights", {})
    gamma = weights.get("gamma", np.ones(d, dtype=np.float32)).astype(np.float64)
    beta = weights.get("beta", np.zeros(d, dtype=np.float32)).astype(np.float64)
    return gamma, beta, case.get("eps", 1e-5)


def expected_output(name):
    case = REQUEST[name]
    gamma, beta, eps = _parameters(case)
    return numpy_layer_norm(case["x"], gamma, beta, eps)


def test_gamma_starts_at_ones_and_beta_at_zeros(student):
    """Contract: `gamma` ones (D,), `beta` zeros (D,)"""
    expect_close(student["default_parameters"]["out"], expected_output("default_parameters"),
                 "LayerNorm(5) output (the initial parameters are checked on a layer that normalises)")
    initial = student["default_parameters"]["initial"]
    expect_equal(np.asarray(initial["gamma"]), np.ones(5), "gamma of a new LayerNorm(5)")
    expect_equal(np.asarray(initial["beta"]), np.zeros(5), "beta of a new LayerNorm(5)")


@pytest.mark.weight(2)
def test_output_has_mean_zero_and_variance_one_over_the_last_axis(student):
    """Contract: normalises over the last axis with the biased variance"""
    out = np.asarray(student["default_parameters"]["out"])
    expect_equal(out.shape, (3, 4, 5), "output shape for x of shape (3, 4, 5)")
    expect_close(out.mean(axis=-1), np.zeros((3, 4)), "mean of each position's output over the last axis",
                 atol=1e-4)
    expect_close(out.var(axis=-1), np.ones((3, 4)), "(biased) variance of each position's output over the "
                 "last axis", atol=1e-3)


@pytest.mark.weight(2)
def test_output_matches_the_formula(student):
    """Contract: gamma * (x - mean) / sqrt(var + eps) + beta"""
    for name in ("default_parameters", "affine"):
        expect_close(student[name]["out"], expected_output(name),
                     f"LayerNorm output ({name.replace('_', ' ')}: gamma * (x - mean) / sqrt(var + eps) + beta)")


def test_eps_is_added_to_the_variance_inside_the_square_root(student):
    """Contract: `LayerNorm(d_model, eps=1e-5)`"""
    expect_close(student["tiny_variance"]["out"], expected_output("tiny_variance"),
                 "output for inputs whose variance (~1e-5) is close to eps = 1e-5", atol=1e-3, rtol=1e-3)
    expect_close(student["custom_eps"]["out"], expected_output("custom_eps"), "output of LayerNorm(4, eps=0.5)")


@pytest.mark.parametrize("name", ["default_parameters", "affine"])
def test_gradients_match_finite_differences(student, name):
    """Contract: gamma * (x - mean) / sqrt(var + eps) + beta"""
    case = REQUEST[name]
    x = case["x"].copy()
    gamma, beta, eps = _parameters(case)

    def objective():
        return float((case["upstream"] * numpy_layer_norm(x, gamma, beta, eps)).sum())

    result = student[name]
    what = f"({name.replace('_', ' ')})"
    expect_close(result["x_grad"], numerical_gradient(objective, x), f"gradient of x {what}", atol=1e-4)
    expect_close(result["grads"]["gamma"], numerical_gradient(objective, gamma), f"gradient of gamma {what}",
                 atol=1e-4)
    expect_close(result["grads"]["beta"], numerical_gradient(objective, beta), f"gradient of beta {what}",
                 atol=1e-4)
