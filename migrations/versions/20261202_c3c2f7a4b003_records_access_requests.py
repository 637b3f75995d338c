"""records access requests

Revision ID: c3c2f7a4b003
Revises: c2b1e8f3a002
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c3c2f7a4b003'
down_revision: str | None = 'c2b1e8f3a002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
