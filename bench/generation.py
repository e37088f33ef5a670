"""Generation speed of the reference TinyGPT: `generate` (whole window each token) vs `generate_cached` (KV cache).

    .venv/bin/python -m bench.generation

A model with the baby-shakespeare shapes and a context (max_len) of 256, random weights (speed does not
depend on training). Prints tokens/s for 500 new tokens, then the time per new token around positions 32
and 256: the extra time of 1 + n tokens over 1 token, divided by n, so the prompt's own cost (the cache's
prefill) cancels out. Without a cache a token costs a forward pass over the whole window, so the time grows
with the position; with the cache it should stay nearly flat. Past the window every position shifts, and the
reference's `generate_cached` rebuilds its cache for each such token (the price of giving exactly the same
text as `generate`), so its tokens/s is also shown for one window's worth of tokens.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinytorch as tt
from course.train import PRESETS, reference_solution

VOCAB = [chr(c) for c in range(32, 97)]  # 65 characters, as tinyshakespeare


def seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-len", type=int, default=256, help="the model's context")
    parser.add_argument("--tokens", type=int, default=500, help="new tokens for the tokens/s figure")
    parser.add_argument("--per-token", type=int, default=16, help="tokens averaged for the time per token")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference, preset = reference_solution(), PRESETS["baby-shakespeare"]
    tt.manual_seed(0)
    model = reference.TinyGPT(len(VOCAB), preset.d_model, preset.num_heads, preset.num_layers, args.max_len)
    tokenizer = reference.CharTokenizer().fit("".join(VOCAB))
    samplers = {"generate": reference.generate, "generate_cached": getattr(reference, "generate_cached", None)}
    rng = np.random.default_rng(0)
    print(f"TinyGPT {preset.num_layers} layers, width {preset.d_model}, context {args.max_len}; "
          f"{model.num_parameters():,} parameters")

    for name, sampler in samplers.items():
        if sampler is None:
            print(f"{name}: not in the reference solution")
            continue

        def run(prompt: str, new_tokens: int, sampler=sampler) -> str:
            return sampler(model, tokenizer, prompt, new_tokens, temperature=1.0, seed=0)

        for count in (args.tokens, args.max_len - 1):  # from a 1-character prompt: max_len - 1 fill one window
            start = time.perf_counter()
            run(VOCAB[0], count)
            elapsed = time.perf_counter() - start
            past = max(0, count + 1 - args.max_len)
            print(f"{name}: {count / elapsed:,.0f} tokens/s for {count} new tokens ({elapsed:.2f} s), "
                  f"{past} of them past the {args.max_len}-token window")
        for position in (32, args.max_len):
            # The prompt ends where the measured tokens end at `position`, so none slides out of the window.
            prompt = "".join(rng.choice(VOCAB, size=position - args.per_token - 1))
            one = seconds(lambda prompt=prompt: run(prompt, 1), args.repeats)
            many = seconds(lambda prompt=prompt: run(prompt, 1 + args.per_token), args.repeats)
            print(f"  position {position - args.per_token}-{position}: {(many - one) / args.per_token * 1e3:.2f} ms "
                  f"per new token")


if __name__ == "__main__":
    main()
