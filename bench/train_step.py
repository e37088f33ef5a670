"""Time one training step (forward, backward, clipping, AdamW) of the reference TinyGPT and of PyTorch, fairly.

    .venv/bin/python -m bench.train_step                          # baby and speedrun shapes, 1 and 2 threads
    .venv/bin/python -m bench.train_step --preset speedrun --threads 1 --rounds 5
    .venv/bin/python -m bench.train_step --profile                # where a tinytorch step spends its time

Each measurement runs in a process of its own (`--worker`), so that no framework's threads or memory
get in another's way: one process per framework per round, the frameworks taking turns (A, B, C, A, B,
C, ...) so that a machine that gets busier slows all of them alike. A worker builds its model from the
same weights, warms up, times `--steps` steps, then times its own matrix-multiply floor (the step's
matrix products alone, in its own framework: NumPy for tinytorch, torch for PyTorch) and reports
the peak memory of its steps. The three contestants: the reference as written (the lesson's attention
and LayerNorm from primitives), the reference as `course train` runs it (those two as the fused ops of
course/fused.py) and bench/torch_gpt.py (PyTorch, fused attention and layer norm).

Figures: medians over all timed steps of all rounds (min-max), wall and CPU time (CPU time of all
threads of the worker: robust to other work on one thread, inflated by spinning threads at two);
tokens/s from the wall median; ratios to PyTorch; each contestant's ratio to its own floor; peak memory
of a step as the worker's peak resident set size during its steps minus its size before the first step
(weights, inputs and the floor's operands already there; gradients, optimizer state, activations,
temporaries and what the C allocator keeps after freeing counted), the same way for both frameworks.
The load average is printed with every table.
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
from collections.abc import Callable

import numpy as np

from course.train import PRESETS, Preset, new_run, reference_solution

VOCAB_SIZE = 65  # tinyshakespeare's characters
REFERENCE, COURSE_TRAIN, PYTORCH = "reference as written", "as course train runs it", "pytorch"
CONTESTANTS = (REFERENCE, COURSE_TRAIN, PYTORCH)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
STEPS = {"baby-shakespeare": 15, "speedrun": 8}  # timed steps per worker (a speedrun step is about 3x longer)


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def resident_bytes(field: str) -> int:
    """This process's resident set size now (VmRSS) or at its peak so far (VmHWM), from /proc/self/status (Linux).

    (Not getrusage's ru_maxrss: a child started by exec inherits its parent's peak there.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field}: peak memory is measured on Linux only")


def timed(function: Callable[[], object], repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of `repeats` calls."""
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def batch_for(preset: Preset) -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB_SIZE, (preset.batch_size, preset.block_size))


def tinytorch_step(preset: Preset, batch: np.ndarray, as_written: bool):
    """The reference's train_step on `batch`, and its model: as `course train` builds it (fused LayerNorm and
    attention), or with `as_written` the reference's own (LayerNorm from mean, var, sqrt; attention from
    matmul, masked_fill, softmax)."""
    reference = reference_solution()
    run = new_run(preset, [chr(32 + i) for i in range(VOCAB_SIZE)], None, fused=not as_written)
    trainer = reference.LanguageModelTrainer(run.model, run.optimizer, reference.LanguageModelLoss(),
                                             clip_norm=preset.clip_norm)
    run.optimizer.lr = preset.lr
    return (lambda: trainer.train_step(batch)), run.model


def torch_step(preset: Preset, batch: np.ndarray, threads: int) -> Callable[[], float]:
    import torch

    from bench.torch_gpt import TorchGPT, make_optimizer, shifted_loss

    torch.set_num_threads(threads)
    _, reference_model = tinytorch_step(preset, batch, as_written=True)  # the same initial weights
    model = TorchGPT(VOCAB_SIZE, preset.d_model, preset.num_heads, preset.num_layers, preset.block_size)
    model.load_numpy_state(reference_model.state_dict())
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


def floor_step(preset: Preset, framework: str) -> Callable[[], object]:
    """The step's products alone, in NumPy (tinytorch's floor) or in torch (PyTorch's)."""
    products = step_products(preset, np.random.default_rng(0))
    if framework != PYTORCH:
        return lambda: [a @ b for a, b in products]
    import torch

    tensors = [tuple(torch.from_numpy(np.ascontiguousarray(m)) for m in pair) for pair in products]
    return lambda: [a @ b for a, b in tensors]


def warm_up_blas(framework: str) -> None:
    """One small product, so that the matrix library's one-time buffers exist."""
    if framework == PYTORCH:
        import torch

        torch.ones(64, 64) @ torch.ones(64, 64)
    np.ones((64, 64), dtype=np.float32) @ np.ones((64, 64), dtype=np.float32)


def worker(contestant: str, preset: Preset, threads: int, steps: int, warmup: int) -> dict:
    """One contestant's figures, measured in this process (started with the thread variables set)."""
    batch = batch_for(preset)
    if contestant == PYTORCH:
        step = torch_step(preset, batch, threads)
    else:
        step = tinytorch_step(preset, batch, as_written=contestant == REFERENCE)[0]
    warm_up_blas(contestant)  # the BLAS sets up its buffers before the memory baseline
    before = resident_bytes("VmRSS")
    first_loss = float(step())
    timed(step, warmup - 1)
    step_times = timed(step, steps)
    peak = resident_bytes("VmHWM") - before
    floor = floor_step(preset, contestant)
    timed(floor, 1)
    return {"steps": step_times, "floor": timed(floor, steps), "peak_bytes": peak, "first_loss": first_loss}


def run_worker(contestant: str, preset_name: str, threads: int, steps: int, warmup: int) -> dict:
    command = [sys.executable, "-m", "bench.train_step", "--worker", contestant, "--preset", preset_name,
               "--threads", str(threads), "--steps", str(steps), "--warmup", str(warmup)]
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    child = subprocess.run(command, env=env, capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"worker {contestant!r} failed:\n{child.stderr.strip()[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def spread(values: np.ndarray) -> str:
    return f"{np.median(values) * 1e3:6.1f} ms ({values.min() * 1e3:.1f}-{values.max() * 1e3:.1f})"


def compare(preset_name: str, threads: int, rounds: int, warmup: int, contestants: tuple[str, ...]) -> dict:
    """Run `rounds` rounds of one worker per contestant, in turns; print and return the figures."""
    preset, steps = PRESETS[preset_name], STEPS.get(preset_name, 10)
    loads = [load()]
    results: dict[str, list[dict]] = {name: [] for name in contestants}
    for _ in range(rounds):
        for name in contestants:
            results[name].append(run_worker(name, preset_name, threads, steps, warmup))
        loads.append(load())
    tokens = preset.batch_size * preset.block_size
    print(f"\n{preset_name} (batch {preset.batch_size} x {preset.block_size} tokens, width {preset.d_model}, "
          f"{preset.num_layers} layers), {threads} thread(s): {rounds} rounds of {steps} steps per contestant, "
          f"each in its own process; load average {' -> '.join(loads)}")
    figures = {}
    for name in contestants:
        step_times = np.array([t for r in results[name] for t in r["steps"]])  # (rounds * steps, 2)
        floor_times = np.array([t for r in results[name] for t in r["floor"]])
        peak = max(r["peak_bytes"] for r in results[name])
        wall, cpu = np.median(step_times, axis=0)
        figures[name] = {"wall": wall, "cpu": cpu, "floor_cpu": np.median(floor_times[:, 1]),
                         "floor_wall": np.median(floor_times[:, 0]), "tokens_per_s": tokens / wall, "peak": peak}
        print(f"  {name:>24}: wall {spread(step_times[:, 0])}, CPU {spread(step_times[:, 1])}, "
              f"{tokens / wall:6,.0f} tokens/s, floor CPU {spread(floor_times[:, 1])}, "
              f"peak {peak / 2**20:5.1f} MiB; first loss {results[name][0]['first_loss']:.4f}")
    if PYTORCH in figures:
        torch_figures = figures[PYTORCH]
        for name in contestants:
            f = figures[name]
            print(f"  {name:>24}: {f['wall'] / torch_figures['wall']:.2f}x PyTorch's wall time, "
                  f"{f['cpu'] / torch_figures['cpu']:.2f}x its CPU time, {f['peak'] / torch_figures['peak']:.2f}x "
                  f"its peak memory; {f['cpu'] / f['floor_cpu']:.2f}x its own floor (CPU), "
                  f"{f['wall'] / f['floor_wall']:.2f}x (wall)")
    return figures


def profile(preset: Preset, steps: int, top: int) -> None:
    """Print the share of time in tinytorch's matrix-product ops and the `top` functions by own time."""
    from course.fused import ScaledDotProductAttention
    from tinytorch.functional import Linear
    from tinytorch.ops import MatMul

    for as_written in (True, False):
        step = tinytorch_step(preset, batch_for(preset), as_written)[0]
        step()
        profiler = cProfile.Profile(time.process_time)  # CPU time: robust to other work on the machine
        profiler.enable()
        for _ in range(steps):
            step()
        profiler.disable()
        stats = pstats.Stats(profiler)
        keys = {(m.__code__.co_filename, m.__code__.co_firstlineno, m.__name__)
                for op in (MatMul, Linear, ScaledDotProductAttention) for m in (op.forward, op.backward)}
        products = sum(stats.stats[key][2] for key in keys if key in stats.stats)
        print(f"{REFERENCE if as_written else COURSE_TRAIN}: profile of {steps} steps (cProfile slows every "
              f"Python call down, so Python overhead looks bigger); load average {load()}")
        print(f"  MatMul, Linear and attention ops: {products / stats.total_tt:.0%} of the time")
        print(f"  {'own time':>9}  {'calls/step':>10}  function")
        rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
        for (file, line, name), (_, calls, own, _, _) in rows:
            print(f"  {own / stats.total_tt:>9.1%}  {calls // steps:>10}  {os.path.basename(file)}:{line} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), action="append",
                        help="shapes to time (repeatable; default: baby-shakespeare and speedrun)")
    parser.add_argument("--threads", type=int, action="append", help="thread counts (repeatable; default: 1 and 2)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per contestant, in turns (default: 3)")
    parser.add_argument("--steps", type=int, help="timed steps per process (default: 15 baby, 8 speedrun)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per process first")
    parser.add_argument("--without-torch", action="store_true", help="tinytorch only")
    parser.add_argument("--profile", action="store_true", help="profile tinytorch steps (1 thread) instead")
    parser.add_argument("--worker", choices=CONTESTANTS, help=argparse.SUPPRESS)  # a child: prints its JSON
    args = parser.parse_args()
    presets = args.preset or ["baby-shakespeare", "speedrun"]
    if args.steps is not None:
        STEPS.update(dict.fromkeys(presets, args.steps))
    if args.worker:
        threads = args.threads[0]
        if any(os.environ.get(name) != str(threads) for name in THREAD_VARIABLES):
            sys.exit(f"a worker needs {', '.join(THREAD_VARIABLES)}={threads} set before NumPy starts")
        result = worker(args.worker, PRESETS[presets[0]], threads, STEPS.get(presets[0], 10), args.warmup)
        print(json.dumps(result))
        return
    if args.profile:
        if any(os.environ.get(name) != "1" for name in THREAD_VARIABLES):  # one thread: start again with it set
            env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
            sys.exit(subprocess.run([sys.executable, "-m", "bench.train_step", *sys.argv[1:]], env=env).returncode)
        for name in presets:
            profile(PRESETS[name], STEPS.get(name, 10), top=20)
        return
    contestants = CONTESTANTS
    try:
        import torch  # noqa: F401
    except ImportError:
        args.without_torch = True
        print("(PyTorch is not installed; for the comparison: .venv/bin/pip install torch==2.13.0)")
    if args.without_torch:
        contestants = (REFERENCE, COURSE_TRAIN)
    for name in presets:
        for threads in args.threads or [1, 2]:
            compare(name, threads, args.rounds, args.warmup, contestants)


if __name__ == "__main__":
    main()
