"""Tables of breach reports, their exposure, notifications and findings."""

from __future__ import annotations
