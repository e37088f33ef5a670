"""Calibrate the end_to_end check: held-out loss of valid TinyGPTs (several initialisations, several seeds)
after the probe's fixed training budget, beside the bigram entropy the bound is set against.

    python -m bench.end_to_end_calibration [--steps 100 150] [--lr 5e-3 1e-2] [--seeds 0 1 2] [--styles ...]

Each style in tests/fairness/solutions/ is a valid solution with its own initialisation (tinytorch's
defaults, nanoGPT's normal(0, 0.02), Xavier, Kaiming); the reference is solutions/tinygpt.py.
"""

from __future__ import annotations

import argparse
import copy
import time
import types
from pathlib import Path

import numpy as np

import solutions.tinygpt as reference
import tests.hidden.test_end_to_end as suite
from course.grading.probes.end_to_end import train_and_evaluate

STYLES = Path(__file__).resolve().parents[1] / "tests" / "fairness" / "solutions"


def namespaces() -> dict[str, dict]:
    found = {"reference": vars(reference)}
    for path in sorted(STYLES.glob("[!_]*.py")):
        module = types.ModuleType(path.stem)
        exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
        found[path.stem] = module.__dict__
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[suite.REQUEST["training"]["num_steps"]])
    parser.add_argument("--lr", type=float, nargs="+", default=[suite.REQUEST["training"]["lr"]])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--styles", nargs="+", default=None, help="only these (reference, file stems)")
    args = parser.parse_args()
    bigram = suite.bigram_entropy(suite.TOKENS)
    print(f"bigram entropy {bigram:.3f} nats, uniform {np.log(len(suite.VOCABULARY)):.3f}")
    for steps in args.steps:
        for lr in args.lr:
            for name, namespace in namespaces().items():
                if args.styles and name not in args.styles:
                    continue
                losses = []
                started = time.process_time()
                for seed in args.seeds:
                    request = copy.deepcopy(suite.REQUEST)
                    request["training"].update(num_steps=steps, lr=lr, seed=seed)
                    result = train_and_evaluate(namespace, request)
                    losses.append(suite.shifted_cross_entropy(result["prefix_logits"], suite.HELD_OUT_WINDOWS))
                cpu = (time.process_time() - started) / len(args.seeds)
                print(f"steps {steps:4d} lr {lr:.0e} {name:20s} held-out loss " +
                      " ".join(f"{loss:.3f}" for loss in losses) + f"  (max / bigram {max(losses) / bigram:.2f}, "
                      f"{cpu:.1f} s CPU per run)", flush=True)


if __name__ == "__main__":
    main()
