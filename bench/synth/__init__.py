"""Seeded, reproducible synthetic state for benches and demos: organisations, families and
students (with twins, siblings, staff and sections) and a district submission stream with
injected errors and its ground truth. See bench/synth/README.md.
"""

from __future__ import annotations

from .api import SyntheticState, generate_state, iter_lines, iter_state, load_state, read_ndjson, write_state
from .config import GENERATOR_VERSION, ErrorRates, SynthConfig
from .errors import inject_errors, is_eligible
from .generator import FILES, GRADE_LABELS, Synthesizer, expected_grade

__all__ = [
    "FILES",
    "GENERATOR_VERSION",
    "GRADE_LABELS",
    "ErrorRates",
    "SynthConfig",
    "Synthesizer",
    "SyntheticState",
    "expected_grade",
    "generate_state",
    "inject_errors",
    "is_eligible",
    "iter_lines",
    "iter_state",
    "load_state",
    "read_ndjson",
    "write_state",
]
