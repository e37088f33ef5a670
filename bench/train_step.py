"""Time one training step (forward + backward + clipping + AdamW) of the reference TinyGPT, and of PyTorch.

    .venv/bin/python -m bench.train_step                       # baby-shakespeare shapes, both frameworks
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.train_step  # one thread for NumPy, and so for PyTorch

Prints the median step time after warm-up, tokens per second, the share of the step spent in matrix
products (cProfile of tinytorch's MatMul op), the functions that take the most time, the peak memory a
step allocates (tracemalloc), and, when PyTorch is installed, the same figures for `bench/torch_gpt.py`
started from the same weights, with the ratio. PyTorch gets as many threads as NumPy's OpenBLAS.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from course.train import PRESETS, Preset, new_run, reference_solution
from tinytorch import functional as F

VOCAB_SIZE = 65  # tinyshakespeare's characters


def median_seconds(steps: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per call of each function, timed in turns so that a busy machine slows all alike.

    CPU time (all threads of this process) hardly depends on what else runs on the machine; wall time does.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: tuple(np.median(values, axis=0)) for name, values in times.items()}


def peak_step_bytes(step: Callable[[], object]) -> int:
    """Bytes allocated at the peak of one step, over what was allocated before it (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - before


def profile(step: Callable[[], object], steps: int, top: int) -> None:
    """Print the share of time in tinytorch's MatMul op and the `top` functions by own time."""
    from tinytorch.ops import MatMul

    profiler = cProfile.Profile(time.process_time)  # CPU time: robust to other work on the machine
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    matmul_keys = {(m.__code__.co_filename, m.__code__.co_firstlineno, m.__name__)
                   for m in (MatMul.forward, MatMul.backward)}
    matmul = sum(stats.stats[key][2] for key in matmul_keys if key in stats.stats)
    print(f"  profile of {steps} steps (cProfile slows every Python call down, so Python overhead looks bigger):")
    print(f"  matrix products (MatMul.forward + MatMul.backward): {matmul / stats.total_tt:.0%} of the time")
    print(f"  {'own time':>9}  {'calls/step':>10}  function")
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (file, line, name), (_, calls, own, _, _) in rows:
        print(f"  {own / stats.total_tt:>9.1%}  {calls // steps:>10}  {os.path.basename(file)}:{line} {name}")


def tinytorch_step(preset: Preset, batch: np.ndarray, fused_layer_norm: bool = False):
    """The reference's train_step on `batch`, and its model. `fused_layer_norm`: the reference's LayerNorm
    (written from mean, var, sqrt) replaced by F.layer_norm, to show what that change would gain."""
    reference = reference_solution()
    run = new_run(preset, [chr(32 + i) for i in range(VOCAB_SIZE)], None)
    if fused_layer_norm:
        for module in run.model.modules():
            if isinstance(module, reference.LayerNorm):
                module.forward = lambda x, ln=module: F.layer_norm(x, ln.gamma, ln.beta, ln.eps)
    trainer = reference.LanguageModelTrainer(run.model, run.optimizer, reference.LanguageModelLoss(),
                                             clip_norm=preset.clip_norm)
    run.optimizer.lr = preset.lr
    return (lambda: trainer.train_step(batch)), run.model


def torch_step(preset: Preset, batch: np.ndarray, weights: dict[str, np.ndarray], threads: int):
    import torch  # ImportError when PyTorch is not installed: the caller skips the comparison

    from bench.torch_gpt import TorchGPT, make_optimizer, shifted_loss

    torch.set_num_threads(threads)
    model = TorchGPT(VOCAB_SIZE, preset.d_model, preset.num_heads, preset.num_layers, preset.block_size)
    model.load_numpy_state(weights)
    optimizer = make_optimizer(model, preset.lr, preset.betas, preset.weight_decay)
    ids = torch.from_numpy(batch)

    def step() -> float:
        optimizer.zero_grad()
        loss = shifted_loss(model(ids), ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), preset.clip_norm)
        optimizer.step()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="baby-shakespeare")
    parser.add_argument("--steps", type=int, default=15, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile-steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=15, help="functions to list from the profile")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count()))
    tokens = preset.batch_size * preset.block_size
    batch = np.random.default_rng(0).integers(0, VOCAB_SIZE, (preset.batch_size, preset.block_size))
    print(f"preset {args.preset}: batch {preset.batch_size} x block {preset.block_size}, {preset.num_layers} layers, "
          f"{preset.num_heads} heads, width {preset.d_model}, vocab {VOCAB_SIZE}; {threads} threads")

    step, model = tinytorch_step(preset, batch)
    weights = {name: value.copy() for name, value in model.state_dict().items()}  # PyTorch starts from these
    steps = {"tinytorch": step, "tinytorch, fused LayerNorm": tinytorch_step(preset, batch, fused_layer_norm=True)[0]}
    first_losses = {name: function() for name, function in steps.items()}
    try:
        steps["pytorch"] = torch_step(preset, batch, weights, threads)
        first_losses["pytorch"] = steps["pytorch"]()
    except ImportError:
        print("(PyTorch is not installed; for the comparison: .venv/bin/pip install torch==2.13.0)")
    medians = median_seconds(steps, args.steps, args.warmup)
    print(f"medians of {args.steps} steps (same weights and batch; the frameworks take turns):")
    for name, (wall, cpu) in medians.items():
        print(f"{name:>27}: {wall * 1e3:6.1f} ms per step, {tokens / wall:7,.0f} tokens/s, CPU {cpu * 1e3:6.1f} ms; "
              f"first loss {first_losses[name]:.4f}")
    if "pytorch" in medians:
        (wall, cpu), (torch_wall, torch_cpu) = medians["tinytorch"], medians["pytorch"]
        print(f"ratio tinytorch / pytorch: {wall / torch_wall:.2f}x wall time, {cpu / torch_cpu:.2f}x CPU time")
    print(f"peak memory of a tinytorch step: {peak_step_bytes(step) / 2**20:.1f} MiB allocated by NumPy "
          f"({model.num_parameters():,} parameters = {model.num_parameters() * 4 / 2**20:.1f} MiB of weights)")
    profile(step, args.profile_steps, args.top)


if __name__ == "__main__":
    main()
