"""Tables of access requests and the grants they lead to."""

from __future__ import annotations
