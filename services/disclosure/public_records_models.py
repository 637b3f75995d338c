"""Tables of public records requests."""

from __future__ import annotations
