"""Modules: parameter discovery, names, modes, state dicts, files, layers and their gradients."""

import numpy as np
import pytest

import tinytorch as tt
from tests.finite_differences import check_gradients
from tinytorch import Tensor, nn


class Block(nn.Module):
    def __init__(self):
        self.q_proj = nn.Dense(4, 4)
        self.drop = nn.Dropout(0.1)


class Model(nn.Module):
    def __init__(self):
        self.embed = nn.Embedding(10, 4)
        self.blocks = [Block(), Block()]
        self.heads = {"main": nn.Dense(4, 3, bias=False)}
        self.pair = (nn.Parameter(np.zeros(2)), nn.ReLU())
        self.table = np.ones(3)  # plain arrays are not parameters
        self.fixed = Tensor(np.ones(3))  # nor are plain tensors
        self.tied = self.embed.weight  # a shared parameter is listed once


def test_named_parameters_find_attributes_lists_dicts_and_tuples_in_order():
    names = [name for name, _ in Model().named_parameters()]
    assert names == [
        "embed.weight",
        "blocks.0.q_proj.weight",
        "blocks.0.q_proj.bias",
        "blocks.1.q_proj.weight",
        "blocks.1.q_proj.bias",
        "heads.main.weight",
        "pair.0",
    ]
    model = Model()
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert model.num_parameters() == 10 * 4 + 2 * (16 + 4) + 12 + 2


def test_modules_and_recursive_train_eval():
    model = Model()
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds == ["Model", "Embedding", "Block", "Dense", "Dropout", "Block", "Dense", "Dropout", "Dense", "ReLU"]
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_parameter():
    model = Model()
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_state_dict_round_trip_copies_arrays():
    tt.manual_seed(0)
    a = Model()
    tt.manual_seed(1)
    b = Model()
    state = a.state_dict()
    state["embed.weight"][0, 0] = 123.0  # a copy: the model is untouched
    assert a.embed.weight.data[0, 0] != 123.0
    b.load_state_dict(a.state_dict())
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
        assert pb.dtype == np.float32


def test_load_state_dict_names_what_is_wrong():
    model = Model()
    state = model.state_dict()
    del state["heads.main.weight"]
    state["extra.bias"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"missing keys \['heads.main.weight'\].*unexpected keys \['extra.bias'\]"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["blocks.1.q_proj.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"'blocks.1.q_proj.bias' has shape \(5,\).*\(4,\)"):
        model.load_state_dict(state)
    state["blocks.1.q_proj.bias"] = [0.0] * 4
    with pytest.raises(TypeError, match="must be a NumPy array"):
        model.load_state_dict(state)


def test_save_and_load_npz_file(tmp_path):
    tt.manual_seed(0)
    a = Model()
    path = tmp_path / "model.weights"
    a.save(path)
    assert path.exists()  # exactly the path given, no suffix added
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(a.state_dict())
    tt.manual_seed(1)
    b = Model().load(path)
    np.testing.assert_array_equal(b.blocks[1].q_proj.weight.data, a.blocks[1].q_proj.weight.data)


def test_parameter_must_be_a_float_array():
    with pytest.raises(TypeError, match="float NumPy array.*list"):
        nn.Parameter([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype int64"):
        nn.Parameter(np.arange(3))
    p = nn.Parameter(np.ones(3))
    assert p.requires_grad and p.dtype == np.float32
    assert nn.Parameter(np.ones(3), dtype=np.float64).dtype == np.float64


def test_dense_init_is_pytorch_uniform_and_reproducible():
    tt.manual_seed(0)
    layer = nn.Dense(100, 50)
    bound = 1 / np.sqrt(100)
    assert layer.weight.shape == (100, 50) and layer.bias.shape == (50,)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 0.005  # std of uniform(-b, b)
    tt.manual_seed(0)
    np.testing.assert_array_equal(nn.Dense(100, 50).weight.data, layer.weight.data)
    assert not np.array_equal(nn.Dense(100, 50).weight.data, layer.weight.data)  # generator moved on
    assert nn.Dense(3, 2, bias=False).bias is None


def test_embedding_init_is_standard_normal():
    tt.manual_seed(0)
    weight = nn.Embedding(1000, 20).weight.data
    assert weight.dtype == np.float32
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02


def test_dense_forward_and_gradients():
    rng = np.random.default_rng(0)
    layer = nn.Dense(3, 2)
    x = rng.standard_normal((2, 4, 3))
    expected = x @ layer.weight.data + layer.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-6)

    def dense(inputs, w, b):
        layer.weight, layer.bias = w, b
        return layer(inputs)

    check_gradients(dense, x, rng.standard_normal((3, 2)), rng.standard_normal(2))
    with pytest.raises(ValueError, match=r"Dense\(3, 2\).*\(2, 5\)"):
        layer(Tensor(np.ones((2, 5))))


def test_embedding_layer_forward_and_gradient():
    rng = np.random.default_rng(0)
    layer = nn.Embedding(6, 3)
    ids = np.array([[1, 5, 1]])
    np.testing.assert_array_equal(layer(ids).data, layer.weight.data[ids])

    def embed(w):
        layer.weight = w
        return layer(ids)

    check_gradients(embed, rng.standard_normal((6, 3)))
    with pytest.raises(TypeError, match="integers"):
        layer(np.array([0.0]))


def test_sequential_activation_and_loss_modules():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(3, 5), nn.GELU(), nn.Dense(5, 4), nn.ReLU(), nn.Dropout(0.5))
    assert len(model) == 5 and isinstance(model[1], nn.GELU)
    model.eval()  # dropout off: the gradient check needs a deterministic function
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    check_gradients(model, rng.standard_normal((2, 3)))
    logits, targets = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    expected = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(4), targets])
    np.testing.assert_allclose(nn.CrossEntropyLoss()(Tensor(logits), targets).item(), expected, rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss()(Tensor(logits), np.zeros((4, 3))).item(), np.mean(logits**2))
    with pytest.raises(TypeError, match="Modules"):
        nn.Sequential(nn.ReLU(), np.tanh)


def test_dropout_module_follows_training_mode():
    drop = nn.Dropout(0.5)
    x = Tensor(np.ones(1000, dtype=np.float32))
    assert (drop(x).data == 0).any()
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        type("Empty", (nn.Module,), {})()(1)
