"""identity nda and training clearance

Revision ID: c2b1e8f3a002
Revises: c1a0d9e2f001
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c2b1e8f3a002'
down_revision: str | None = 'c1a0d9e2f001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
