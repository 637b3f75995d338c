"""reporting de-identified extracts

Revision ID: c8b7e6f9a008
Revises: c7a6d5e8f007
Create Date: 2026-12-02 19:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c8b7e6f9a008'
down_revision: str | None = 'c7a6d5e8f007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
