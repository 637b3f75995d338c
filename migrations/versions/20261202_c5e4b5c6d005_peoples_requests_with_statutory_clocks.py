"""people's requests with statutory clocks

Revision ID: c5e4b5c6d005
Revises: c4d3a6b5c004
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c5e4b5c6d005'
down_revision: str | None = 'c4d3a6b5c004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
