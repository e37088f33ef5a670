"""Real images without a download: the digits loader, mini-batches, and examples/cnn_digits.py learning them."""

import numpy as np
import pytest

from examples.cnn_digits import accuracy, digits_cnn, train
from tinytorch import Tensor
from tinytorch.data import load_digits, minibatch_indices


def test_load_digits_gives_a_seeded_disjoint_split_of_real_8x8_images():
    split = load_digits()
    assert split.train_images.shape == (1438, 1, 8, 8) and split.test_images.shape == (359, 1, 8, 8)
    assert split.train_images.dtype == np.float32 and split.train_labels.dtype == np.int64
    assert split.train_images.min() == 0 and split.train_images.max() == 1
    assert set(np.unique(split.test_labels)) == set(range(10))
    everything = np.concatenate([split.train_images, split.test_images]).reshape(1797, -1)
    assert len(np.unique(everything, axis=0)) > 1700, "train and test should hold different images"
    again, other = load_digits(), load_digits(seed=1)
    np.testing.assert_array_equal(again.test_labels, split.test_labels)
    assert not np.array_equal(other.test_labels, split.test_labels)
    zeros = split.train_images[split.train_labels == 0].mean(axis=0)[0]  # a "0" is a ring: dark in the middle
    assert zeros[3:5, 3:5].mean() < 0.2 < zeros[1:7, 1:7].mean()
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        load_digits(test_fraction=1.0)


def test_minibatch_indices_cover_each_epoch_once_then_reshuffle():
    batches = minibatch_indices(10, 3, np.random.default_rng(0))
    first_epoch = np.concatenate([next(batches) for _ in range(3)])  # 9 of 10: the short rest is dropped
    assert len(set(first_epoch.tolist())) == 9
    second_epoch = np.concatenate([next(batches) for _ in range(3)])
    assert not np.array_equal(first_epoch, second_epoch)
    with pytest.raises(ValueError, match="batch_size <= num_items"):
        next(minibatch_indices(3, 4, np.random.default_rng(0)))


def test_the_digits_cnn_maps_images_to_ten_logits():
    logits = digits_cnn()(Tensor(load_digits().test_images[:5]))
    assert logits.shape == (5, 10) and np.isfinite(logits.data).all()


def test_a_short_cnn_run_learns_the_digits():
    """300 steps (7 epochs) already beat 93% on held-out digits; the full 1500-step example reaches 98%."""
    model, losses = train(steps=300, progress=False)
    split = load_digits()
    assert losses[0] > 2.0 and np.mean(losses[-20:]) < 0.4
    assert accuracy(model, split.test_images, split.test_labels) >= 0.93
