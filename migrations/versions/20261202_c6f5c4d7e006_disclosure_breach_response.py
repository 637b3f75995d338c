"""disclosure breach response

Revision ID: c6f5c4d7e006
Revises: c5e4b5c6d005
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401


revision: str = 'c6f5c4d7e006'
down_revision: str | None = 'c5e4b5c6d005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
