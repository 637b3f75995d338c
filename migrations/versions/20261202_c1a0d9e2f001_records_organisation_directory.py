"""records organisation directory

Revision ID: c1a0d9e2f001
Revises: b8d3f0a2c6e1
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c1a0d9e2f001'
down_revision: str | None = 'b8d3f0a2c6e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
