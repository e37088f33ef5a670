"""The graded components of the TinyGPT assignment: one table that every tool reads.

A component's id names its hidden suite (`tests/hidden/test_<id>.py`), its probe
(`course/grading/probes/<id>.py`), its mutants (`tests/mutants/<id>/`) and its graded notebook cell
(nbgrader grade id `hidden_<id>`). Points add up to 100.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSIGNMENT = "tinygpt"
NOTEBOOK = "tinygpt.ipynb"


@dataclass(frozen=True)
class Component:
    id: str
    title: str
    points: int
    names: tuple[str, ...]  # what the student's notebook must define

    @property
    def grade_id(self) -> str:
        return f"hidden_{self.id}"


COMPONENTS: tuple[Component, ...] = (
    Component("tokenizer", "CharTokenizer", 8, ("CharTokenizer",)),
    Component("positional_encoding", "PositionalEncoding", 8, ("PositionalEncoding",)),
    Component("causal_mask", "causal_mask", 6, ("causal_mask",)),
    Component("attention", "Scaled dot-product attention and SelfAttention", 10,
              ("scaled_dot_product_attention", "SelfAttention")),
    Component("multi_head_attention", "MultiHeadAttention", 12, ("MultiHeadAttention",)),
    Component("layer_norm", "LayerNorm", 8, ("LayerNorm",)),
    Component("transformer_block", "TransformerBlock", 10, ("TransformerBlock",)),
    Component("tinygpt", "TinyGPT", 10, ("TinyGPT",)),
    Component("loss", "LanguageModelLoss", 8, ("LanguageModelLoss",)),
    Component("trainer", "LanguageModelTrainer", 8, ("LanguageModelTrainer",)),
    Component("generation", "generate", 8, ("generate",)),
    Component("end_to_end", "End to end: TinyGPT learns", 4, ("TinyGPT",)),
)

BY_ID: dict[str, Component] = {c.id: c for c in COMPONENTS}
TOTAL_POINTS = sum(c.points for c in COMPONENTS)


class ComponentsError(ValueError):
    """This table is inconsistent: nothing may be graded with it (raised on import, so every tool stops)."""


# An explicit check, not an assert (`python -O` skips asserts): every grader imports this module first.
if TOTAL_POINTS != 100 or len(BY_ID) != len(COMPONENTS):
    raise ComponentsError(f"course/components.py: the points add up to {TOTAL_POINTS} over {len(BY_ID)} distinct ids "
                          f"({len(COMPONENTS)} components); expected 100 points and one id per component")


def _spelling(name: str) -> str:
    return name.replace("_", "").lower()  # LayerNorm, layer_norm, _layer_norm -> layernorm


_GRADED_SPELLINGS = frozenset(_spelling(name) for c in COMPONENTS for name in c.names)


def implements_a_component(name: str) -> bool:
    """Whether `name` is, in any spelling, a name a component's student code defines (`LayerNorm`, and so
    `layer_norm` too). The students' tinytorch defines no such name: a graded component is their own work."""
    return _spelling(name) in _GRADED_SPELLINGS
