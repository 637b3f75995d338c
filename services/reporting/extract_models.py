"""Tables of de-identified extract releases."""

from __future__ import annotations
