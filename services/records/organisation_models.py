"""Tables of the organisation directory."""

from __future__ import annotations
