"""Tables of signed NDAs and completed privacy training."""

from __future__ import annotations
