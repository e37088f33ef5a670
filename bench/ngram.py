"""Counting baselines: unigram, bigram and smoothed n-grams of a text, in nats per character.

    .venv/bin/python -m bench.ngram                                   # the embedded Python docs
    .venv/bin/python -m bench.ngram --text ../shared/data/tinyshakespeare.txt --orders 1-6

Fits `tinytorch.ngram.NGramModel` on the first 90% of the characters (the split `course train` and
the notebook use) and scores the last 10%, for each order, with interpolated absolute discounting
and with interpolated Kneser-Ney. A TinyGPT is worth its training time only below the best of these.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tinytorch.data import load_text
from tinytorch.ngram import split_cross_entropy


def orders_arg(value: str) -> list[int]:
    """'1-6' or '2,4,5' -> a list of orders."""
    if "-" in value:
        low, high = (int(n) for n in value.split("-", 1))
        return list(range(low, high + 1))
    return [int(n) for n in value.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", help="UTF-8 text file (default: the embedded Python docs)")
    parser.add_argument("--orders", type=orders_arg, default=orders_arg("1-6"), help="e.g. 1-6 or 2,5")
    parser.add_argument("--discount", type=float, default=0.9)
    args = parser.parse_args()
    text = load_text(args.text)
    vocab = sorted(set(text))
    tokens = np.searchsorted(np.array(vocab), np.array(list(text))).astype(np.int64)
    print(f"{args.text or '(embedded Python docs)'}: {len(text):,} characters, {len(vocab)} distinct; "
          f"train the first 90%, score the last 10%; discount {args.discount}; nats per character")
    print(f"{'order':>5}  {'absolute discounting':>20}  {'Kneser-Ney':>10}  {'seconds (CPU)':>13}")
    best = (np.inf, "")
    for order in args.orders:
        started = time.process_time()
        scores = [split_cross_entropy(tokens, len(vocab), order, discount=args.discount, kneser_ney=kn)
                  for kn in (False, True)]
        seconds = time.process_time() - started
        print(f"{order:>5}  {scores[0]:>20.4f}  {scores[1]:>10.4f}  {seconds:>13.1f}")
        for score, name in zip(scores, ("absolute discounting", "Kneser-Ney"), strict=True):
            best = min(best, (score, f"order {order}, {name}"))
    print(f"best: {best[0]:.4f} ({best[1]})")


if __name__ == "__main__":
    main()
