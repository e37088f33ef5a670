"""Stand-ins are faithful: each has the whole public interface of what it replaces, with the same signatures.

Compared: every public name of the real class (methods, properties, class attributes) must be on the
stand-in with the same call signature (parameter names, kinds and defaults), and every plain public
instance attribute (numbers, strings, arrays, None: not the sub-modules and parameters the stand-ins
replace on purpose) of a real instance must be on a stand-in instance. When the real class grows, this fails.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import solutions.tinygpt as reference
from course.grading.probes import generation, standins, trainer
from tinytorch import Tensor, nn, optim

TABLE = np.zeros((5, 5), dtype=np.float32)
PAIRS: dict[str, tuple[Any, Any, Callable[[], Any], Callable[[], Any], bool]] = {
    # name: (real, stand-in, build a real instance, build a stand-in, the student's code constructs it)
    "RecordingSGD": (optim.SGD, trainer.RecordingSGD, lambda: optim.SGD([nn.Parameter(np.zeros(2))], lr=0.1),
                     lambda: trainer.RecordingSGD([nn.Parameter(np.zeros(2))], lr=0.1), False),
    "RecordingBigram": (reference.TinyGPT, trainer.RecordingBigram, lambda: reference.TinyGPT(5, 4, 2, 1, 8),
                        lambda: trainer.RecordingBigram(TABLE, np.zeros(5)), False),
    "ScriptedBigram": (reference.TinyGPT, generation.ScriptedBigram, lambda: reference.TinyGPT(5, 4, 2, 1, 8),
                       lambda: generation.ScriptedBigram(TABLE, 8), False),
    "StandInTokenizer": (reference.CharTokenizer, generation.StandInTokenizer,
                         lambda: reference.CharTokenizer().fit("abcde"), lambda: generation.StandInTokenizer("abcde"),
                         False),
    "StandInLayerNorm": (reference.LayerNorm, standins.StandInLayerNorm, lambda: reference.LayerNorm(4),
                         lambda: standins.StandInLayerNorm(4), True),
    "StandInAttention": (reference.MultiHeadAttention, standins.StandInAttention,
                         lambda: _called(reference.MultiHeadAttention(4, 2)),
                         lambda: _called(standins.StandInAttention(4, 2)), True),
    "StandInBlock": (reference.TransformerBlock, standins.StandInBlock, lambda: reference.TransformerBlock(4, 2),
                     lambda: standins.StandInBlock(4, 2), True),
    "StandInPositionalEncoding": (reference.PositionalEncoding, standins.StandInPositionalEncoding,
                                  lambda: reference.PositionalEncoding(8, 4),
                                  lambda: standins.StandInPositionalEncoding(8, 4), True),
    "reference_causal_mask": (reference.causal_mask, standins.reference_causal_mask, None, None, True),
    "reference_attention": (reference.scaled_dot_product_attention, standins.reference_attention, None, None, True),
}


def _called(layer: nn.Module) -> nn.Module:
    layer(Tensor(np.zeros((1, 3, 4), dtype=np.float32)))  # last_attention is set by forward
    return layer


def _signature(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def _public(cls: type) -> dict[str, Any]:
    return {name: inspect.getattr_static(cls, name) for name in dir(cls) if not name.startswith("_")}


def _plain_attributes(instance: Any) -> set[str]:
    return {name for name, value in vars(instance).items() if not name.startswith("_")
            and not isinstance(value, nn.Module | Tensor | list | dict)}


def interface_gaps(real: Any, stand_in: Any, constructed_by_student: bool) -> list[str]:
    """What of `real`'s public interface `stand_in` lacks or has with another signature."""
    if not inspect.isclass(real):
        return [] if _signature(stand_in) == _signature(real) else ["its signature"]
    gaps = []
    if constructed_by_student and _signature(stand_in.__init__) != _signature(real.__init__):
        gaps.append("the constructor's signature (the student's code builds it)")
    theirs = _public(stand_in)
    for attribute, value in _public(real).items():
        if attribute not in theirs:
            gaps.append(attribute)
        elif isinstance(theirs[attribute], property) != isinstance(value, property):
            gaps.append(f"{attribute} as a property")
        elif inspect.isfunction(value) and _signature(theirs[attribute]) != _signature(value):
            gaps.append(f"{attribute}'s signature")
    return gaps


@pytest.mark.parametrize("name", PAIRS)
def test_stand_in_has_the_public_interface_of_what_it_replaces(name):
    real, stand_in, make_real, make_stand_in, constructed_by_student = PAIRS[name]
    gaps = interface_gaps(real, stand_in, constructed_by_student)
    assert not gaps, f"{name} differs from {real.__name__} in: {', '.join(gaps)}"
    if make_real is not None:
        missing = _plain_attributes(make_real()) - set(dir(make_stand_in()))
        assert not missing, f"a {name} lacks the attributes {sorted(missing)} of a {real.__name__}"


def test_the_check_fails_when_the_real_class_grows_or_changes():
    class GrownSGD(optim.SGD):
        def add_param_group(self, group: dict) -> None:
            self.param_groups.append(group)

        def zero_grad(self, set_to_none: bool = True) -> None:
            super().zero_grad()

    assert interface_gaps(GrownSGD, trainer.RecordingSGD, False) == ["add_param_group", "zero_grad's signature"]
