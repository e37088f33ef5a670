"""Token batches, the embedded text, progress bars and the training loop."""

import subprocess
import sys

import numpy as np
import pytest

from tinytorch import data, training


def test_random_windows_are_contiguous_slices_of_the_tokens():
    tokens = np.arange(100, dtype=np.int32) * 3
    batch = data.random_windows(tokens, batch_size=5, block_size=8, rng=np.random.default_rng(0))
    assert batch.shape == (5, 8) and batch.dtype == np.int64
    for row in batch:
        start = row[0] // 3
        np.testing.assert_array_equal(row, tokens[start : start + 8])
    again = data.random_windows(tokens, 5, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(batch, again)


def test_random_windows_reach_the_last_token_and_check_inputs():
    tokens = np.arange(10)
    batch = data.random_windows(tokens, batch_size=200, block_size=10, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(batch, np.tile(tokens, (200, 1)))  # only one window fits
    with pytest.raises(ValueError, match="at least block_size=11"):
        data.random_windows(tokens, 1, 11, np.random.default_rng(0))
    with pytest.raises(ValueError, match="1-D integer"):
        data.random_windows(np.zeros(10), 1, 2, np.random.default_rng(0))


def test_train_val_split_keeps_order():
    train, val = data.train_val_split(np.arange(100), val_fraction=0.2)
    np.testing.assert_array_equal(train, np.arange(80))
    np.testing.assert_array_equal(val, np.arange(80, 100))
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.train_val_split(np.arange(10), 1.0)


def test_embedded_text_is_the_pydoc_topics_in_key_order(tmp_path):
    from pydoc_data.topics import topics

    text = data.embedded_text()
    assert 400_000 < len(text) < 600_000
    first, second = sorted(topics)[:2]
    assert text.startswith(topics[first] + "\n\n" + topics[second])
    assert data.load_text() == text
    path = tmp_path / "tiny.txt"
    path.write_text("héllo wörld\n", encoding="utf-8")
    assert data.load_text(path) == "héllo wörld\n"


def test_progress_wraps_the_iterable():
    bar = training.progress(range(3), desc="test", loss=1.5)
    assert list(bar) == [0, 1, 2]
    assert bar.desc.startswith("test")


def test_train_loop_returns_losses_and_passes_the_step():
    seen = []

    def step_fn(step):
        seen.append(step)
        return 10.0 - step

    losses = training.train_loop(step_fn, 5, log_every=2)
    assert seen == [0, 1, 2, 3, 4]
    assert losses == [10.0, 9.0, 8.0, 7.0, 6.0]
    counter = iter([np.float32(2.0), np.float32(1.0)])
    assert training.train_loop(lambda: next(counter), 2) == [2.0, 1.0]


def test_progress_in_a_terminal_is_one_line_rewritten_in_place():
    """Outside a notebook the bar is a text bar: one line redrawn with carriage returns, one newline at the end."""
    script = "from tinytorch.training import train_loop; train_loop(lambda: 0.5, 200, desc='train'); print('after')"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)  # bytes: keep the \r
    stderr = result.stderr.decode()
    assert result.stdout == b"after\n"
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), repr(stderr[-200:])
    frames = [frame for frame in stderr.strip().split("\r") if frame]
    assert frames and all(frame.startswith("train: ") for frame in frames), frames[:3]
    assert "200/200" in frames[-1] and "loss=0.5000" in frames[-1]
    assert "Warning" not in stderr
