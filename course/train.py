"""Train the reference TinyGPT on a text and sample from the result: the `train` and `sample` commands.

    python -m course.train train --text PATH --preset baby-shakespeare --out runs/NAME
    python -m course.train train --resume runs/NAME/checkpoint.npz
    python -m course.train sample --checkpoint runs/NAME/checkpoint.npz --prompt "ROMEO:" --tokens 300

A run writes `checkpoint.npz` (weights, AdamW moments, recipe, vocabulary, loss history; no pickle)
and `loss.png` into its folder. The model, loss, trainer and sampler are the reference solution's
(`solutions/tinygpt.py`); this module only adds the recipe, evaluation, checkpoints and plots.

Choices worth knowing:
- A training window is `block_size` tokens and the model's `max_len` is `block_size`, so each window
  gives block_size - 1 next-character predictions (LanguageModelLoss shifts inside the window).
- Weight decay applies to matrices only (ndim >= 2: Dense weights and the token embedding), as in
  nanoGPT; biases and LayerNorm gains/shifts are not decayed.
- Batches are drawn with a generator seeded by (seed, step), so a resumed run sees exactly the batches
  the uninterrupted run would have seen. Validation uses one fixed set of windows from the last 10%.
- The reference's LayerNorm and attention (written from primitives: that is their lesson) run as the
  fused `layer_norm` and `scaled_dot_product_attention` of `course/fused.py` here: the same parameters,
  values and gradients, fewer passes over the data.
- A preset with `seconds` (the speedrun) trains for that much wall time, evaluations included: its
  learning-rate schedule runs on the fraction of the budget used, so a busy machine takes fewer steps
  of the same schedule instead of overrunning. Its results depend on the machine's speed. On a shared
  machine, `--cpu-clock` counts the budget in CPU seconds of this process instead (with one thread,
  the wall time the same run takes on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import tinytorch as tt
from course.fused import use_fused_ops
from tinytorch import optim
from tinytorch.data import load_text, random_windows, train_val_split

VAL_FRACTION = 0.1


@dataclass(frozen=True)
class Preset:
    """One training recipe: model shape, optimiser, schedule and evaluation."""

    d_model: int
    num_heads: int
    num_layers: int
    block_size: int  # tokens per training window, and the model's max_len
    batch_size: int
    steps: int
    lr: float  # peak learning rate, reached after the linear warm-up
    min_lr: float  # where the cosine decay ends, at `steps`
    warmup_steps: int
    weight_decay: float  # decoupled (AdamW), matrices only
    betas: tuple[float, float] = (0.9, 0.99)
    clip_norm: float = 1.0
    dropout: float = 0.0
    eval_every: int = 250  # steps between validation losses
    eval_batches: int = 20  # batches of `batch_size` held-out windows per validation loss
    seed: int = 0
    seconds: float | None = None  # wall-time budget; the schedule's step is then steps * (time used / seconds)


PRESETS: dict[str, Preset] = {
    # About a minute on 2 cores: enough to see words appear in the embedded Python docs.
    "quick": Preset(d_model=64, num_heads=4, num_layers=2, block_size=64, batch_size=16, steps=400,
                    lr=3e-3, min_lr=3e-4, warmup_steps=40, weight_decay=0.1, eval_every=100, eval_batches=10),
    # Karpathy's "baby GPT" for character-level Shakespeare (nanoGPT's shakespeare_char, scaled down).
    "baby-shakespeare": Preset(d_model=128, num_heads=4, num_layers=4, block_size=64, batch_size=12, steps=2000,
                               lr=1e-3, min_lr=1e-4, warmup_steps=100, weight_decay=0.1,
                               eval_every=250, eval_batches=200),
    # The best validation loss on tiny Shakespeare within 10 minutes on 2 cores (bench/README.md): 570 s of
    # training and validation on a time-driven schedule (`steps` is its resolution), then the final validation.
    "speedrun": Preset(d_model=128, num_heads=4, num_layers=4, block_size=128, batch_size=16, steps=6000,
                       lr=2e-3, min_lr=2e-4, warmup_steps=200, weight_decay=0.1, eval_every=500, eval_batches=50,
                       seconds=570.0),
    # A few seconds: for tests and for trying the command.
    "smoke": Preset(d_model=16, num_heads=2, num_layers=1, block_size=16, batch_size=4, steps=6,
                    lr=1e-2, min_lr=1e-3, warmup_steps=2, weight_decay=0.1, eval_every=3, eval_batches=2),
}


@dataclass
class TrainingRun:
    """Everything a checkpoint holds: enough to sample, or to continue training where it stopped."""

    preset: Preset
    vocab: list[str]  # the tokenizer's itos
    model: object  # solutions.tinygpt.TinyGPT
    optimizer: optim.AdamW
    text_path: str | None = None  # None: the embedded text
    step: int = 0  # optimizer steps taken
    train_losses: list[float] = field(default_factory=list)  # one per step
    val_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    seconds: float = 0.0  # training wall time so far, evaluation included
    cpu_seconds: float = 0.0  # CPU time of this process in training so far (all threads)


def reference_solution():
    """The reference solution module (imported late: `solutions/` is generated from the notebook)."""
    from solutions import tinygpt

    return tinygpt


def make_tokenizer(vocab: Sequence[str]):
    tokenizer = reference_solution().CharTokenizer().fit("".join(vocab))
    if tokenizer.itos != list(vocab):
        raise ValueError(f"vocabulary {vocab!r} is not a sorted list of distinct characters")
    return tokenizer


def decay_groups(model) -> tuple[list, list]:
    """(parameters to decay, parameters not to decay): matrices versus vectors."""
    params = list(model.parameters())
    return [p for p in params if p.ndim >= 2], [p for p in params if p.ndim < 2]


def new_run(preset: Preset, vocab: list[str], text_path: str | None, fused: bool = True) -> TrainingRun:
    """A fresh model and optimizer; `fused=False` keeps the reference's own LayerNorm and attention (for bench/)."""
    tt.manual_seed(preset.seed)
    model = reference_solution().TinyGPT(len(vocab), preset.d_model, preset.num_heads, preset.num_layers,
                                 max_len=preset.block_size, dropout=preset.dropout)
    if fused:
        use_fused_ops(model, reference_solution())
    decay, no_decay = decay_groups(model)
    optimizer = optim.AdamW([{"params": decay, "weight_decay": preset.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=preset.lr, betas=preset.betas)
    return TrainingRun(preset, list(vocab), model, optimizer, text_path)


# ---------------------------------------------------------------- checkpoints


def optimizer_arrays(optimizer: optim.AdamW) -> dict[str, np.ndarray]:
    """The optimizer's per-parameter state (moments, step count: whatever it keeps) as `optim/<i>/<key>` arrays."""
    return {f"optim/{i}/{key}": np.asarray(value)
            for i, p in enumerate(optimizer.parameters()) for key, value in optimizer.state.get(id(p), {}).items()}


def load_optimizer_arrays(optimizer: optim.AdamW, arrays) -> None:
    """The inverse of `optimizer_arrays` (`arrays`: a mapping such as an open .npz)."""
    for i, p in enumerate(optimizer.parameters()):
        prefix = f"optim/{i}/"
        state = {name[len(prefix):]: arrays[name] for name in arrays if name.startswith(prefix)}
        if state:
            optimizer.state[id(p)] = {key: value.item() if value.ndim == 0 else value for key, value in state.items()}


def save_checkpoint(run: TrainingRun, path: Path) -> None:
    """One .npz: `model/<name>` weights, `optim/...` AdamW state, `meta` (JSON), loss histories."""
    arrays = {f"model/{name}": value for name, value in run.model.state_dict().items()}
    arrays.update(optimizer_arrays(run.optimizer))
    meta = {"preset": asdict(run.preset), "vocab": run.vocab, "text": run.text_path, "step": run.step,
            "seconds": run.seconds, "cpu_seconds": run.cpu_seconds}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["train_losses"] = np.array(run.train_losses, dtype=np.float64)
    arrays["val_losses"] = np.array(run.val_losses, dtype=np.float64).reshape(-1, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.stem + ".partial.npz")
    np.savez(temporary, **arrays)
    temporary.replace(path)  # never leave a half-written checkpoint behind


def load_checkpoint(path: str | Path) -> TrainingRun:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint (expected the checkpoint.npz a training run wrote)")
    with np.load(path, allow_pickle=False) as archive:
        if "meta" not in archive:
            raise ValueError(f"{path}: not a training checkpoint (no 'meta' entry); expected a course train output")
        meta = json.loads(str(archive["meta"]))
        preset = Preset(**{**meta["preset"], "betas": tuple(meta["preset"]["betas"])})
        run = new_run(preset, meta["vocab"], meta["text"])
        run.model.load_state_dict({k[len("model/"):]: archive[k] for k in archive.files if k.startswith("model/")})
        load_optimizer_arrays(run.optimizer, archive)
        run.step, run.seconds, run.cpu_seconds = meta["step"], meta["seconds"], meta.get("cpu_seconds", 0.0)
        run.train_losses = archive["train_losses"].tolist()
        run.val_losses = [(int(s), float(v)) for s, v in archive["val_losses"]]
    return run


# ---------------------------------------------------------------- training


def validation_windows(val_tokens: np.ndarray, preset: Preset) -> list[np.ndarray]:
    """The fixed held-out batches every validation loss of a run is measured on."""
    rng = np.random.default_rng([preset.seed, 1])
    return [random_windows(val_tokens, preset.batch_size, preset.block_size, rng) for _ in range(preset.eval_batches)]


def evaluate(model, loss_fn, windows: list[np.ndarray]) -> float:
    """Mean loss over `windows` (each (B, T) int), in eval mode without building a graph."""
    model.eval()
    with tt.no_grad():
        losses = [loss_fn(model(batch), batch).item() for batch in windows]
    model.train()
    return float(np.mean(losses))


def train(run: TrainingRun, text: str, out: Path, stop_at: int | None = None, show_progress: bool = True,
          cpu_clock: bool = False) -> None:
    """Train `run` from its current step to `preset.steps` (or `stop_at`), then save and plot into `out`.

    The checkpoint is also saved at every validation; Ctrl-C stops cleanly, saving the last finished step.
    With `preset.seconds`, training also stops when that much wall time (with `cpu_clock`, CPU time) is used,
    and the final validation follows.
    """
    reference, preset = reference_solution(), run.preset
    tokens = np.array(make_tokenizer(run.vocab).encode(text), dtype=np.int64)
    train_tokens, val_tokens = train_val_split(tokens, VAL_FRACTION)
    if min(len(train_tokens), len(val_tokens)) < preset.block_size:
        raise ValueError(f"text too short: {len(tokens)} characters leave fewer than block_size="
                         f"{preset.block_size} for training or validation; give a longer text")
    val_windows = validation_windows(val_tokens, preset)
    loss_fn = reference.LanguageModelLoss()
    trainer = reference.LanguageModelTrainer(run.model, run.optimizer, loss_fn, clip_norm=preset.clip_norm)
    schedule = optim.WarmupCosine(preset.lr, preset.min_lr, preset.warmup_steps, preset.steps)
    last = preset.steps if stop_at is None else min(stop_at, preset.steps)
    tokens_per_step = preset.batch_size * preset.block_size

    bar = tqdm(range(run.step, last), desc="train", disable=not show_progress)
    started, cpu_started = time.perf_counter() - run.seconds, time.process_time() - run.cpu_seconds
    try:
        for step in bar:
            if preset.seconds is not None:  # the schedule runs on the share of the time budget used
                clock = time.process_time() - cpu_started if cpu_clock else time.perf_counter() - started
                used = clock / preset.seconds
                if used >= 1:
                    break
                run.optimizer.lr = schedule.lr_at(int(used * preset.steps))
            else:
                run.optimizer.lr = schedule.lr_at(step)
            batch = random_windows(train_tokens, preset.batch_size, preset.block_size,
                                   np.random.default_rng([preset.seed, 0, step]))
            run.train_losses.append(trainer.train_step(batch))
            run.step = step + 1
            if run.step % preset.eval_every == 0 or run.step == preset.steps:
                run.val_losses.append((run.step, evaluate(run.model, loss_fn, val_windows)))
                run.seconds = time.perf_counter() - started
                save_checkpoint(run, out / "checkpoint.npz")  # a crash loses at most eval_every steps
                bar.write(f"step {run.step}: train loss {run.train_losses[-1]:.4f}, "
                          f"validation loss {run.val_losses[-1][1]:.4f} ({run.seconds:.0f} s)")
            steps_per_second = bar.format_dict["rate"] or 0.0
            bar.set_postfix(loss=f"{run.train_losses[-1]:.3f}",
                            val=f"{run.val_losses[-1][1]:.3f}" if run.val_losses else "-",
                            tok_s=f"{tokens_per_step * steps_per_second:.0f}")
        if preset.seconds is not None and (not run.val_losses or run.val_losses[-1][0] != run.step):
            run.val_losses.append((run.step, evaluate(run.model, loss_fn, val_windows)))
            bar.write(f"step {run.step} (time budget used): validation loss {run.val_losses[-1][1]:.4f}")
    except KeyboardInterrupt:
        print(f"\ninterrupted after step {run.step}; saving a checkpoint to resume from", file=sys.stderr)
    finally:
        run.seconds, run.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        bar.close()
        save_checkpoint(run, out / "checkpoint.npz")
        plot_losses(run, out / "loss.png")


def plot_losses(run: TrainingRun, path: Path) -> None:
    """Training loss per step (and its running mean) with the validation losses, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(run.train_losses) + 1)
    axes.plot(steps, run.train_losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="train (per step)")
    if len(run.train_losses) >= 20:
        width = max(10, len(run.train_losses) // 50)
        smooth = np.convolve(run.train_losses, np.ones(width) / width, mode="valid")
        axes.plot(steps[width - 1:], smooth, color="tab:blue", label=f"train (mean of {width})")
    if run.val_losses:
        val_steps, val_values = zip(*run.val_losses, strict=True)
        axes.plot(val_steps, val_values, "o-", color="tab:orange", label="validation (last 10%)")
    axes.set(xlabel="step", ylabel="cross-entropy (nats per character)", title=f"TinyGPT, {run.step} steps")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ---------------------------------------------------------------- commands


def read_text(path: str | None) -> str:
    """The training text: a UTF-8 file, or the embedded Python docs when `path` is None."""
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such text file (expected a UTF-8 text file; omit --text for the "
                                "embedded Python documentation)")
    return load_text(path)


def run_train(args: argparse.Namespace) -> None:
    if args.resume:
        run = load_checkpoint(args.resume)
        if args.steps is not None:
            run.preset = replace(run.preset, steps=args.steps)
        text_path = args.text if args.text is not None else run.text_path
        text = read_text(text_path)
        out = Path(args.out) if args.out else Path(args.resume).parent
        print(f"resuming {args.resume} at step {run.step} of {run.preset.steps}")
    else:
        preset = PRESETS[args.preset] if args.steps is None else replace(PRESETS[args.preset], steps=args.steps)
        text_path = args.text
        text = read_text(text_path)
        run = new_run(preset, sorted(set(text)), text_path)
        out = Path(args.out or f"runs/{args.preset}")
    print(f"{run.preset}\n{run.model.num_parameters():,} parameters, {len(run.vocab)} characters, "
          f"text {text_path or '(embedded Python docs)'}: {len(text):,} characters")
    train(run, text, out, stop_at=args.stop_at, show_progress=not args.quiet, cpu_clock=args.cpu_clock)
    final = f", validation loss {run.val_losses[-1][1]:.4f} at step {run.val_losses[-1][0]}" if run.val_losses else ""
    tokens = run.step * run.preset.batch_size * run.preset.block_size
    print(f"step {run.step}{final}; {run.seconds:.0f} s in total ({run.cpu_seconds:.0f} s CPU), "
          f"{tokens:,} training tokens, {tokens / max(run.seconds, 1e-9):,.0f} tokens/s\n"
          f"checkpoint {out / 'checkpoint.npz'}\nloss curve {out / 'loss.png'}")


def run_sample(args: argparse.Namespace) -> None:
    if args.temperature < 0:
        raise ValueError(f"--temperature must be >= 0 (0 is greedy), got {args.temperature}")
    run = load_checkpoint(args.checkpoint)
    unknown = sorted(set(args.prompt) - set(run.vocab))
    if unknown:
        raise ValueError(f"--prompt has characters the model never saw: {unknown}; "
                         f"its vocabulary is {''.join(run.vocab)!r}")
    reference = reference_solution()
    sampler = reference.generate_cached if args.cached else reference.generate
    text = sampler(run.model, make_tokenizer(run.vocab), args.prompt, args.tokens,
                   temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    print(text)


def _reporting_errors(command):
    """Wrap a command so that bad input ends with a one-line message and exit code 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            command(args)
        except (ValueError, FileNotFoundError) as error:
            print(f"{args.command}: error: {error}", file=sys.stderr)
            return 2
        return 0

    return run


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` and `sample` subcommands (each sets `func`, which returns an exit code)."""
    train_parser = subparsers.add_parser("train", help="train the reference TinyGPT on a text file")
    train_parser.add_argument("--text", help="UTF-8 text file (default: the embedded Python docs)")
    train_parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                              help="training recipe (default: quick, about a minute; a resumed run keeps its own)")
    train_parser.add_argument("--out", help="folder for checkpoint.npz and loss.png (default: runs/PRESET)")
    train_parser.add_argument("--steps", type=_positive_int, help="total steps, overriding the preset's")
    train_parser.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint")
    train_parser.add_argument("--stop-at", type=_positive_int, metavar="STEP",
                              help="stop and save after this step without changing the schedule")
    train_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    train_parser.add_argument("--cpu-clock", action="store_true",
                              help="count a time budget (speedrun) in CPU seconds of this process, not wall time")
    train_parser.set_defaults(func=_reporting_errors(run_train))

    sample_parser = subparsers.add_parser("sample", help="print text generated by a trained checkpoint")
    sample_parser.add_argument("--checkpoint", required=True, help="a checkpoint.npz written by train")
    sample_parser.add_argument("--prompt", default="\n", help="text to continue (characters from the vocabulary)")
    sample_parser.add_argument("--tokens", type=_positive_int, default=300, help="characters to generate")
    sample_parser.add_argument("--temperature", type=float, default=0.8, help="0 is greedy")
    sample_parser.add_argument("--top-k", type=_positive_int, help="sample among the k likeliest characters")
    sample_parser.add_argument("--seed", type=int, default=0)
    sample_parser.add_argument("--cached", action="store_true", help="use generate_cached (key/value cache)")
    sample_parser.set_defaults(func=_reporting_errors(run_sample))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.train", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
