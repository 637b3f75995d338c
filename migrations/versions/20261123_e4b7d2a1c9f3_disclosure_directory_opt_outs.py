"""disclosure directory information opt-outs

Revision ID: e4b7d2a1c9f3
Revises: 5d2a9c7e1f30
Create Date: 2026-11-23 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'e4b7d2a1c9f3'
down_revision: str | None = '5d2a9c7e1f30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('disclosure_directory_opt_out',
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('opted_out_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opted_out_by', sa.String(length=200), nullable=False),
    sa.Column('withdrawn_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('state_student_id', name=op.f('pk_disclosure_directory_opt_out'))
    )


def downgrade() -> None:
    op.drop_table('disclosure_directory_opt_out')
