"""Time one training step (forward + backward + clipping + AdamW) of the reference TinyGPT, and of PyTorch.

    .venv/bin/python -m bench.train_step              # 1 thread, then 2 threads, each in its own process
    .venv/bin/python -m bench.train_step --threads 1  # one thread count only

For each thread count: the median wall and CPU time (with min and max) of a step of the reference as
written, of the reference as `course train` runs it (its LayerNorm as the fused `F.layer_norm`), and of
`bench/torch_gpt.py` (PyTorch with fused attention) started from the same weights, taking turns step by
step so that a busy machine slows all alike; the ratios; the matrix-multiply floor (the same products
alone, in NumPy and in PyTorch); the peak memory of a step; and, for one thread, a profile.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from course.train import PRESETS, Preset, new_run, reference_solution

VOCAB_SIZE = 65  # tinyshakespeare's characters
REFERENCE, COURSE_TRAIN, PYTORCH = "reference as written", "as course train runs it", "pytorch"


def step_times(steps: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, np.ndarray]:
    """(repeats, 2) wall and CPU seconds per call of each function, timed in turns.

    CPU time (all threads of this process) depends less on what else runs on the machine than wall time.
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
    return {name: np.array(values) for name, values in times.items()}


def peak_step_bytes(step: Callable[[], object]) -> int:
    """Bytes allocated at the peak of one step, over what was allocated before it (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - before


def profile(step: Callable[[], object], steps: int, top: int) -> None:
    """Print the share of time in tinytorch's matrix-product ops and the `top` functions by own time."""
    from tinytorch.functional import Linear, ScaledDotProductAttention
    from tinytorch.ops import MatMul

    profiler = cProfile.Profile(time.process_time)  # CPU time: robust to other work on the machine
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    keys = {(m.__code__.co_filename, m.__code__.co_firstlineno, m.__name__)
            for op in (MatMul, Linear, ScaledDotProductAttention) for m in (op.forward, op.backward)}
    products = sum(stats.stats[key][2] for key in keys if key in stats.stats)
    print(f"  profile of {steps} steps (cProfile slows every Python call down, so Python overhead looks bigger):")
    print(f"  MatMul and Linear ops (products, bias adds): {products / stats.total_tt:.0%} of the time")
    print(f"  {'own time':>9}  {'calls/step':>10}  function")
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (file, line, name), (_, calls, own, _, _) in rows:
        print(f"  {own / stats.total_tt:>9.1%}  {calls // steps:>10}  {os.path.basename(file)}:{line} {name}")


def tinytorch_step(preset: Preset, batch: np.ndarray, as_written: bool = False):
    """The reference's train_step on `batch`, and its model: as `course train` builds it (fused LayerNorm and
    attention), or with `as_written` the reference's own (LayerNorm from mean, var, sqrt; attention from
    matmul, masked_fill, softmax)."""
    reference = reference_solution()
    run = new_run(preset, [chr(32 + i) for i in range(VOCAB_SIZE)], None, fused=not as_written)
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


def step_products(preset: Preset, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The matrix products of one training step, with operands laid out as the step has them (transposes as views).

    Every Dense (in, out) on N = B * T rows: x @ W forward, g @ W.T and x.T @ g backward; every attention:
    q @ k^T and P @ v forward, two products each backward; B * H matrices of (T, Dh) and (T, T).
    """
    n, d, t = preset.batch_size * preset.block_size, preset.d_model, preset.block_size
    heads, head_dim = preset.num_heads, preset.d_model // preset.num_heads

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    def dense(fan_in: int, fan_out: int) -> list[tuple[np.ndarray, np.ndarray]]:
        x, w, g = normal(n, fan_in), normal(fan_in, fan_out), normal(n, fan_out)
        return [(x, w), (g, w.T), (x.T, g)]

    def split_heads(a: np.ndarray) -> np.ndarray:  # (B, T, D) -> (B, H, T, Dh), a view
        return a.reshape(preset.batch_size, t, heads, head_dim).transpose(0, 2, 1, 3)

    products = []
    for _ in range(preset.num_layers):
        for fan_in, fan_out in [(d, d)] * 4 + [(d, 4 * d), (4 * d, d)]:
            products += dense(fan_in, fan_out)
        q, k, v, g = (split_heads(normal(preset.batch_size, t, d)) for _ in range(4))
        p, dp = normal(preset.batch_size, heads, t, t), normal(preset.batch_size, heads, t, t)
        products += [(q, k.swapaxes(-1, -2)), (p, v), (g, v.swapaxes(-1, -2)), (p.swapaxes(-1, -2), g),
                     (dp, k), (dp.swapaxes(-1, -2), q)]
    return products + dense(d, VOCAB_SIZE)


def floor_steps(preset: Preset) -> dict[str, Callable[[], object]]:
    """The step's products alone, in NumPy (tinytorch's floor) and, if installed, in PyTorch."""
    products = step_products(preset, np.random.default_rng(0))
    steps: dict[str, Callable[[], object]] = {"products alone, NumPy": lambda: [a @ b for a, b in products]}
    try:
        import torch
    except ImportError:
        return steps
    tensors = [tuple(torch.from_numpy(np.ascontiguousarray(m)) for m in pair) for pair in products]
    steps["products alone, PyTorch"] = lambda: [a @ b for a, b in tensors]
    return steps


def measure(preset: Preset, threads: int, repeats: int, warmup: int, profile_steps: int, top: int) -> dict:
    tokens = preset.batch_size * preset.block_size
    batch = np.random.default_rng(0).integers(0, VOCAB_SIZE, (preset.batch_size, preset.block_size))
    step, model = tinytorch_step(preset, batch)
    weights = {name: value.copy() for name, value in model.state_dict().items()}  # PyTorch starts from these
    steps = {REFERENCE: tinytorch_step(preset, batch, as_written=True)[0], COURSE_TRAIN: step}
    first_losses = {name: function() for name, function in steps.items()}
    try:
        steps[PYTORCH] = torch_step(preset, batch, weights, threads)
        first_losses[PYTORCH] = steps[PYTORCH]()
    except ImportError:
        print("(PyTorch is not installed; for the comparison: .venv/bin/pip install torch==2.13.0)")
    steps.update(floor_steps(preset))
    times = step_times(steps, repeats, warmup)
    print(f"{threads} thread(s); medians of {repeats} steps after {warmup} warm-up rounds (min-max), taking turns:")
    for name, values in times.items():
        (wall, cpu), low, high = np.median(values, axis=0), values.min(axis=0), values.max(axis=0)
        loss = f"; first loss {first_losses[name]:.4f}" if name in first_losses else ""
        print(f"{name:>26}: wall {wall * 1e3:6.1f} ms ({low[0] * 1e3:.1f}-{high[0] * 1e3:.1f}), "
              f"CPU {cpu * 1e3:6.1f} ms ({low[1] * 1e3:.1f}-{high[1] * 1e3:.1f}), {tokens / wall:7,.0f} tokens/s{loss}")
    medians = {name: np.median(values, axis=0).tolist() for name, values in times.items()}
    ratios = {}
    if PYTORCH in medians:
        torch_wall, torch_cpu = medians[PYTORCH]
        for name in (REFERENCE, COURSE_TRAIN):
            wall, cpu = medians[name]
            ratios[name] = (wall / torch_wall, cpu / torch_cpu)
            print(f"ratio {name} / pytorch: {wall / torch_wall:.2f}x wall time, {cpu / torch_cpu:.2f}x CPU time")
    floor_cpu = medians["products alone, NumPy"][1]
    for name in (REFERENCE, COURSE_TRAIN):
        print(f"{name}: {medians[name][1] / floor_cpu:.2f}x its matrix-multiply floor (CPU time)")
    if profile_steps:
        print(f"peak memory of a step: {peak_step_bytes(step) / 2**20:.1f} MiB allocated by NumPy "
              f"({model.num_parameters():,} parameters = {model.num_parameters() * 4 / 2**20:.1f} MiB of weights)")
        profile(step, profile_steps, top)
    return {"threads": threads, "medians": medians, "ratios": ratios,
            "min": {name: values.min(axis=0).tolist() for name, values in times.items()},
            "max": {name: values.max(axis=0).tolist() for name, values in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="baby-shakespeare")
    parser.add_argument("--threads", type=int, help="one thread count (default: 1, then 2, each in a new process)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile-steps", type=int, default=5, help="profiled steps (0: no profile)")
    parser.add_argument("--top", type=int, default=15, help="functions to list from the profile")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a child's last line: its figures
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    if args.threads is not None:
        if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
            sys.exit(f"--threads {args.threads} needs OPENBLAS_NUM_THREADS={args.threads} set before NumPy starts; "
                     "run without --threads to have this script start itself with it")
        print(f"preset {args.preset}: batch {preset.batch_size} x block {preset.block_size}, "
              f"{preset.num_layers} layers, {preset.num_heads} heads, width {preset.d_model}, vocab {VOCAB_SIZE}")
        result = measure(preset, args.threads, args.steps, args.warmup, args.profile_steps, args.top)
        if args.json:
            print(json.dumps(result))
        return
    results = []
    for threads in (1, 2):  # NumPy's OpenBLAS reads its thread count once, at start: one process each
        command = [sys.executable, "-m", "bench.train_step", "--preset", args.preset, "--threads", str(threads),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--top", str(args.top), "--json",
                   "--profile-steps", str(args.profile_steps if threads == 1 else 0)]
        child = subprocess.run(command, env={**os.environ, "OPENBLAS_NUM_THREADS": str(threads)},
                               capture_output=True, text=True, check=True)
        *lines, last = child.stdout.rstrip("\n").split("\n")
        print("\n".join(lines) + "\n")
        results.append(json.loads(last))
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores: above 2, other work shares them)")
    for result in results:
        for name, (wall, cpu) in result["ratios"].items():
            print(f"{result['threads']} thread(s), {name} / pytorch: {wall:.2f}x wall, {cpu:.2f}x CPU")


if __name__ == "__main__":
    main()
