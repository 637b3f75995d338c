"""records transfer requests

Revision ID: c4d3a6b5c004
Revises: c3c2f7a4b003
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c4d3a6b5c004'
down_revision: str | None = 'c3c2f7a4b003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
