"""Tables of record transfer requests between districts."""

from __future__ import annotations
