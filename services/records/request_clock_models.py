"""Tables of parents' and eligible students' requests and their clocks."""

from __future__ import annotations
