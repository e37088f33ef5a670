"""Smoke tests of `course.train`: a few steps of the tiny preset on a self-made text (seconds, not minutes)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from course import train as training

TEXT = "the quick brown fox jumps over the lazy dog.\nso it goes, and so on.\n" * 30
SMOKE = training.PRESETS["smoke"]


@pytest.fixture()
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def train_fresh(out, stop_at=None):
    run = training.new_run(SMOKE, sorted(set(TEXT)), None)
    training.train(run, TEXT, out, stop_at=stop_at, show_progress=False)
    return run


def test_train_command_writes_checkpoint_and_loss_curve(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    code = training.main(["train", "--text", str(text_file), "--preset", "smoke", "--out", str(out), "--quiet"])
    assert code == 0
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = training.load_checkpoint(out / "checkpoint.npz")
    assert run.step == SMOKE.steps == len(run.train_losses)
    assert [step for step, _ in run.val_losses] == [3, 6]
    assert run.vocab == sorted(set(TEXT)) and run.text_path == str(text_file)
    # Six steps at a high learning rate on a very repetitive text already beat the uniform guess.
    assert run.val_losses[-1][1] < math.log(len(run.vocab)) - 0.3
    assert "validation loss" in capsys.readouterr().out


def test_checkpoint_round_trip_gives_the_same_model_and_optimizer(tmp_path):
    run = train_fresh(tmp_path)
    loaded = training.load_checkpoint(tmp_path / "checkpoint.npz")
    ids = np.arange(12).reshape(2, 6) % len(run.vocab)
    np.testing.assert_array_equal(loaded.model(ids).data, run.model(ids).data)
    saved, restored = training.optimizer_arrays(run.optimizer), training.optimizer_arrays(loaded.optimizer)
    assert saved.keys() == restored.keys()
    assert {name.split("/")[1] for name in saved} == {str(i) for i in range(len(run.model.parameters()))}
    for key, value in saved.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)
    assert loaded.train_losses == run.train_losses and loaded.val_losses == run.val_losses


def test_resumed_run_continues_exactly_where_the_interrupted_one_stopped(tmp_path):
    whole = train_fresh(tmp_path / "whole")
    train_fresh(tmp_path / "parts", stop_at=2)
    resumed = training.load_checkpoint(tmp_path / "parts" / "checkpoint.npz")
    assert resumed.step == 2
    training.train(resumed, TEXT, tmp_path / "parts", show_progress=False)
    assert resumed.step == SMOKE.steps
    assert resumed.train_losses == whole.train_losses  # same batches, same learning rates, same moments
    for name, value in whole.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)


def test_train_command_resumes_from_a_checkpoint_where_it_stopped(text_file, tmp_path):
    out = str(tmp_path / "run")
    common = ["--text", str(text_file), "--out", out, "--quiet"]
    assert training.main(["train", "--preset", "smoke", "--stop-at", "4", *common]) == 0
    assert training.load_checkpoint(tmp_path / "run" / "checkpoint.npz").step == 4
    assert training.main(["train", "--resume", f"{out}/checkpoint.npz", *common]) == 0
    run = training.load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert run.step == SMOKE.steps == len(run.train_losses)
    assert [step for step, _ in run.val_losses] == [3, 6]


def test_weight_decay_applies_to_matrices_only():
    run = training.new_run(SMOKE, list("abc"), None)
    decay, no_decay = training.decay_groups(run.model)
    names = {id(p): name for name, p in run.model.named_parameters()}
    assert sorted(names[id(p)] for p in decay) == sorted(n for n in names.values() if n.endswith(".weight"))
    assert all(names[id(p)].endswith((".bias", ".gamma", ".beta")) for p in no_decay)


def test_sample_prints_the_prompt_and_the_requested_number_of_characters(tmp_path, capsys):
    train_fresh(tmp_path)
    capsys.readouterr()  # the training log
    argv = ["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--prompt", "the ", "--tokens", "40",
            "--seed", "3"]
    assert training.main(argv) == 0
    first = capsys.readouterr().out
    assert training.main(argv) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    text = first.removesuffix("\n")
    assert text.startswith("the ") and len(text) == 44 and set(text) <= set(TEXT)


def test_bad_input_gets_a_one_line_error(tmp_path, text_file, capsys):
    assert training.main(["sample", "--checkpoint", str(tmp_path / "missing.npz")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("abc" * 5, encoding="utf-8")
    assert training.main(["train", "--text", str(short), "--preset", "smoke", "--out", str(tmp_path)]) == 2
    assert "text too short" in capsys.readouterr().err


@pytest.mark.parametrize("cpu_clock", [False, True])
def test_a_time_budget_stops_training_runs_the_schedule_on_time_and_validates_at_the_end(tmp_path, cpu_clock):
    preset = dataclasses.replace(SMOKE, steps=100_000, warmup_steps=0, eval_every=100_000, seconds=0.5)
    run = training.new_run(preset, sorted(set(TEXT)), None)
    seen_lrs = []
    step = run.optimizer.step

    def step_and_record():
        seen_lrs.append(run.optimizer.lr)
        step()

    run.optimizer.step = step_and_record
    training.train(run, TEXT, tmp_path, show_progress=False, cpu_clock=cpu_clock)
    assert 1 < run.step < preset.steps, "the budget, not the step count, ends this run"
    assert run.val_losses == [(run.step, run.val_losses[-1][1])]  # the final validation, at the last step
    assert (run.cpu_seconds if cpu_clock else run.seconds) >= 0.5
    assert seen_lrs[0] > 0.8 * preset.lr  # the cosine starts near the peak...
    assert seen_lrs == sorted(seen_lrs, reverse=True) and seen_lrs[-1] < preset.lr  # ...and decays with time


def test_the_fused_ops_of_course_train_compute_the_reference_values_and_gradients():
    fused = training.new_run(SMOKE, sorted(set(TEXT)), None)
    written = training.new_run(SMOKE, sorted(set(TEXT)), None, fused=False)
    ids = np.arange(24).reshape(2, 12) % len(fused.vocab)
    logits = []
    for run in (fused, written):
        run.model.train(False)
        logits.append(run.model(ids))
        (logits[-1] * np.linspace(-1, 1, len(fused.vocab), dtype=np.float32)).sum().backward()
    np.testing.assert_allclose(logits[0].data, logits[1].data, rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(fused.model.named_parameters(), written.model.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-3, atol=1e-5, err_msg=name)
    block = fused.model.blocks[0]
    np.testing.assert_allclose(block.attn.last_attention, written.model.blocks[0].attn.last_attention, atol=1e-6)
    assert "forward" in vars(fused.model.ln_f) and "forward" not in vars(written.model.ln_f)
    assert "forward" in vars(block.attn) and "forward" not in vars(written.model.blocks[0].attn)
